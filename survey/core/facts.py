"""What the parsers make of one domain's evidence, parsed once.

``classify`` computes these, reads its rules from them and hands them on with its verdict
(``Verdict.facts``); ``to_row`` writes the parsed-record columns from the same objects, so a row's
parsed columns and its verdict come from one parse (issue 14).
"""

from __future__ import annotations

from dataclasses import dataclass

from survey.core.observations import DomainObservations, HttpsFetch
from survey.core.policy import (
    POLICY_MAX_BYTES,
    Policy,
    RecordSelection,
    StsRecord,
    TlsRptRecord,
    parse_policy,
    select_sts_record,
    select_tlsrpt_record,
)


@dataclass(frozen=True, slots=True)
class Facts:
    """The selected records and the parsed policy of one domain (RFC 8461 profile)."""

    sts: RecordSelection[StsRecord]  # among the _mta-sts TXT records (none: no_record)
    tlsrpt: RecordSelection[TlsRptRecord]  # among the _smtp._tls TXT records
    policy: Policy | None  # parsed from any body received (None: no body), for the row
    #: the gate: the policy when the fetch gave one (status 200, no error, within the cap),
    #: else None; the classifier reads only this one
    fetched: Policy | None


def over_cap(fetch: HttpsFetch) -> bool:
    """Whether the body is longer than a policy may be (``POLICY_MAX_BYTES``)."""
    return fetch.body_truncated or (fetch.body is not None and len(fetch.body) > POLICY_MAX_BYTES)


def fetched_a_policy(fetch: HttpsFetch | None) -> bool:
    """Whether the fetch gave a policy to read: status 200, no error, not over the cap."""
    return (fetch is not None and fetch.error is None and fetch.http_status == 200
            and not over_cap(fetch))


def parse_facts(obs: DomainObservations) -> Facts:
    """Select the TXT records and parse the body, each once."""
    fetch = obs.policy_fetch
    body = fetch.body if fetch is not None else None
    policy = parse_policy(body) if body is not None else None
    fetched = None
    if fetched_a_policy(fetch):
        fetched = policy if policy is not None else parse_policy(b"")  # 200 without a body
    return Facts(select_sts_record(obs.sts_txt.txt), select_tlsrpt_record(obs.tlsrpt_txt.txt),
                 policy, fetched)
