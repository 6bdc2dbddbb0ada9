"""The classifier: observations in, verdict out (docs/classification.md is its specification).

Pure and deterministic, so that any row can be re-classified later from its stored evidence and
the rules can be tested without a network. Each rule of the specification is one small function
that adds mistake codes to a set; ``classify`` orders the set as ``MISTAKES`` lists it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from survey.core.dane import assess_dane
from survey.core.facts import over_cap, parse_facts
from survey.core.mistakes import MISTAKES
from survey.core.observations import DnsResult, Dnssec, DomainObservations, FetchError, HttpsFetch
from survey.core.outcomes import disagree, sender_outcomes
from survey.core.policy import (
    NOT_A_POLICY_CODES,
    POLICY_MODES,
    Policy,
    RecordSelection,
    StsRecord,
    TlsRptRecord,
    mx_matches,
)
from survey.core.providers import submission_provider, wildcard_provider
from survey.core.verdict import GRADE_OF_STATUS, Status, Verdict

#: A max_age under a day gives little protection (RFC 8461 §3.2 suggests weeks).
MAX_AGE_SHORT = 86_400
#: Lower-case starts of records that try to be an STS resp. a TLS-RPT record (§2, §6).
STS_ATTEMPT = "v=sts"
TLSRPT_ATTEMPT = "v=tlsrpt"

_CERT_MISTAKE = {
    FetchError.CERT_EXPIRED: "policy_cert_expired",
    FetchError.CERT_UNTRUSTED: "policy_cert_untrusted",
    FetchError.CERT_INVALID: "policy_cert_untrusted",
    FetchError.CERT_NAME_MISMATCH: "policy_cert_name_mismatch",
}


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the rules share, computed once: the TXT selection and the fetched policy."""

    attempted: bool  # at least one TXT record at _mta-sts tries to be an STS record
    sts: RecordSelection[StsRecord]
    policy: Policy | None  # parsed when the policy was fetched (200, no error, within the cap)

    @property
    def valid_txt(self) -> bool:
        return self.sts.record is not None and self.sts.record.valid

    @property
    def published(self) -> bool:
        """The fetched body calls itself an MTA-STS policy (other errors allowed)."""
        return self.policy is not None and self.policy.version == "STSv1"

    @property
    def policy_ok(self) -> bool:
        return self.policy is not None and self.policy.valid

    @property
    def relevant_policy(self) -> Policy | None:
        """The policy, when the domain points at it (a candidate) or it is published.

        Without either, whatever ``mta-sts.<d>`` serves is noise (a wildcard web host): neither
        its content nor its mode is reported.
        """
        return self.policy if self.sts.candidates or self.published else None


def any_attempt(records: Sequence[Sequence[str]], start: str) -> bool:
    """Whether any record tries to be of the kind ``start`` names (``STS_ATTEMPT``, ...).

    Senders discard records that do not start with the version tag (RFC 8461 §3.1, RFC 8460
    §3), so an unrelated record (``v=spf1 -all`` from a wildcard ``*.<d> TXT``) publishes
    nothing. One starting like the tag after leading spaces/tabs, in any case (``v=STSv2``,
    ``v=stsv1``), is a failed attempt at publishing: the domain meant it, so it is a mistake.
    """
    return any("".join(r).lstrip(" \t")[:len(start)].lower() == start for r in records)


def _describe(what: str, result: DnsResult) -> str:
    reason = f"{what}: {result.status}"
    return f"{reason}: {result.error}" if result.error else reason


def _measurement_error(obs: DomainObservations) -> str | None:
    """Why nothing can be said about the domain (§1), or None when something can.

    A failed resolver lookup of ``mta-sts.<d>`` is ours, not the domain's, whether or not a TXT
    record exists: ``error`` (not ``policy_unreachable``) lets ``--retry-errors`` re-probe it.
    """
    if obs.sts_txt.failed and obs.sts_txt.dnssec is not Dnssec.BOGUS:
        return _describe("_mta-sts TXT", obs.sts_txt)
    if obs.policy_host.failed and obs.policy_host.dnssec is not Dnssec.BOGUS:
        return _describe(f"mta-sts {obs.policy_host.qtype}", obs.policy_host)
    if obs.policy_fetch is not None and obs.policy_fetch.error is FetchError.EXCLUDED:
        return "policy host excluded"
    return None


def _txt_mistakes(facts: _Facts) -> set[str]:
    """§2: the _mta-sts TXT records."""
    if facts.sts.candidates > 1:
        return {"txt_multiple"}
    if facts.attempted and not facts.valid_txt:
        return {"txt_invalid"}
    return set()


def _fetch_mistakes(fetch: HttpsFetch | None) -> set[str]:
    """§3: why the fetch did not give a policy (only asked when there is a candidate)."""
    if fetch is None:
        return {"policy_unreachable"}
    if fetch.error is not None:
        return {_CERT_MISTAKE.get(fetch.error, "policy_unreachable")}
    if fetch.http_status is None:
        return {"policy_unreachable"}
    if 300 <= fetch.http_status < 400:
        return {"policy_redirect"}
    if fetch.http_status != 200:
        return {"policy_http_error"}
    return {"policy_too_large"} if over_cap(fetch) else set()


def _is_text_plain(content_type: str | None) -> bool:
    media_type = (content_type or "").partition(";")[0].strip()
    return media_type.lower() == "text/plain"


def _content_mistakes(policy: Policy, content_type: str | None) -> set[str]:
    """§3: the content of a fetched policy."""
    found: set[str] = set()
    if not policy.valid:
        found.add("policy_invalid")
        if any(e.code == "max_age_out_of_range" for e in policy.errors):
            found.add("max_age_out_of_range")
    if not _is_text_plain(content_type):
        found.add("policy_content_type")
    if policy.max_age is not None and policy.max_age < MAX_AGE_SHORT:
        found.add("max_age_short")
    return found


# --- issue 15: what real policies get wrong (one code per construct) --------------------------
#: Policy parse code -> the mistake that names it.
_PARSE_MISTAKE = {
    **dict.fromkeys(NOT_A_POLICY_CODES, "policy_not_a_policy"),
    "blank_line": "policy_blank_lines",
    "indented_line": "policy_indented_lines",
    "duplicate_key": "policy_duplicate_fields",
    "mx_trailing_dot": "mx_trailing_dot",
}


def _construct_mistakes(policy: Policy) -> set[str]:
    """§3: constructs of a checked policy that senders read differently, and mx patterns that
    name a provider's whole domain or its submission host (``survey.core.providers``)."""
    found = {_PARSE_MISTAKE[e.code] for e in policy.errors if e.code in _PARSE_MISTAKE}
    if any(wildcard_provider(p) for p in policy.mx):
        found.add("mx_wildcard_provider")
    if any(submission_provider(p) for p in policy.mx):
        found.add("mx_submission_host")
    return found


def _status(facts: _Facts) -> tuple[Status, set[str]]:
    """§4: the status, and the mistakes that only the status rule knows."""
    mode = facts.policy.mode if facts.policy is not None else None
    if facts.valid_txt and facts.policy_ok and mode is not None:
        return Status(mode), set()
    if facts.attempted:
        lost = facts.sts.candidates > 0 and not facts.policy_ok
        return Status.INVALID, {"txt_without_policy"} if lost else set()
    if facts.published:
        return Status.INVALID, {"policy_without_txt"}
    return Status.ABSENT, set()


def _mx_mistakes(obs: DomainObservations, facts: _Facts) -> set[str]:
    """§5: the DNS MX hosts against the domain's MTA-STS publication and policy patterns."""
    if obs.mx.failed or not (facts.sts.candidates or facts.published):
        return set()
    hosts = [m.host for m in obs.mx.mx if m.host]
    if not hosts:
        return {"no_mx"}
    policy = facts.relevant_policy
    if policy is None or policy.mode not in ("testing", "enforce") or not policy.mx:
        return set()
    found: set[str] = set()
    if any(not any(mx_matches(p, h) for p in policy.mx) for h in hosts):
        found.add("mx_not_in_policy")
    if any(not any(mx_matches(p, h) for h in hosts) for p in policy.mx):
        found.add("policy_mx_unused")
    return found


def _tlsrpt_mistakes(obs: DomainObservations, selection: RecordSelection[TlsRptRecord],
                     status: Status) -> set[str]:
    """§6: the _smtp._tls TXT records, and whether a testing/enforce policy reports."""
    if obs.tlsrpt_txt.failed:
        return set()
    valid = selection.record is not None and selection.record.valid
    found: set[str] = set()
    if selection.candidates > 1:
        found.add("tlsrpt_multiple")
    elif not valid and any_attempt(obs.tlsrpt_txt.txt, TLSRPT_ATTEMPT):
        found.add("tlsrpt_invalid")
    if not valid and status is Status.ENFORCE:
        found.add("enforce_without_tlsrpt")
    if not valid and status is Status.TESTING:
        found.add("testing_without_tlsrpt")
    return found


def _smtp_mistakes(obs: DomainObservations) -> set[str]:
    """§7: STARTTLS on the MX hosts (connection failures are not MTA-STS mistakes)."""
    found: set[str] = set()
    for probe in obs.smtp:
        if probe.error is FetchError.STARTTLS_NOT_SUPPORTED or probe.starttls_offered is False:
            found.add("mx_starttls_missing")
        elif probe.error is not None and probe.error.is_certificate:
            found.add("mx_cert_invalid")
    return found


def _ordered(codes: set[str]) -> tuple[str, ...]:
    """Codes in ``MISTAKES`` order; an unknown code is a bug here, so it fails loudly."""
    unknown = codes - MISTAKES.keys()
    if unknown:
        raise ValueError(f"unknown mistake codes {sorted(unknown)}")
    return tuple(code for code in MISTAKES if code in codes)


def classify(obs: DomainObservations) -> Verdict:
    """The verdict for one domain under docs/classification.md (no I/O).

    The records and the policy are parsed once (``survey.core.facts``); the verdict carries
    them (``Verdict.facts``) for ``to_row``'s parsed columns, for an error verdict too.
    """
    parsed = parse_facts(obs)
    reason = _measurement_error(obs)
    if reason is not None:
        return Verdict(Status.ERROR, None, GRADE_OF_STATUS[Status.ERROR], (), reason,
                       assess_dane(obs, Status.ERROR.value), facts=parsed)
    fetch = obs.policy_fetch
    facts = _Facts(any_attempt(obs.sts_txt.txt, STS_ATTEMPT), parsed.sts, parsed.fetched)
    status, found = _status(facts)
    if status is Status.ABSENT and obs.sts_txt.dnssec is Dnssec.BOGUS:
        status = Status.INVALID  # §8: a bogus record exists, validating senders cannot read it
    found |= _txt_mistakes(facts)
    if facts.sts.candidates:
        found |= _fetch_mistakes(fetch)
    policy = facts.relevant_policy
    if policy is not None:
        found |= _content_mistakes(policy, fetch.content_type if fetch else None)
        found |= _construct_mistakes(policy)
    found |= _mx_mistakes(obs, facts)
    found |= _tlsrpt_mistakes(obs, parsed.tlsrpt, status)
    if status is not Status.ABSENT:  # STARTTLS without MTA-STS is no MTA-STS mistake
        found |= _smtp_mistakes(obs)
    dane = assess_dane(obs, status.value, found)  # §8, beside the MTA-STS verdict
    found |= dane.mistakes
    outcomes = sender_outcomes(obs, facts=parsed)
    if disagree(outcomes):
        found.add("senders_disagree")
    mode = policy.mode if policy is not None and policy.mode in POLICY_MODES else None
    return Verdict(status, mode, GRADE_OF_STATUS[status], _ordered(found), dane=dane,
                   sender_outcomes=outcomes, facts=parsed)
