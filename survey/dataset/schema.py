"""The result schema: one Arrow schema, versioned, the contract of every output.

Each column carries its documentation in the field metadata (``doc``); the README's column
reference is generated from it (``column_reference_markdown``) and a test keeps them equal.
``to_row`` is the only place that turns observations and a verdict into a row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from survey.core.facts import parse_facts
from survey.core.observations import Certificate, DnsResult, DomainObservations
from survey.core.policy import POLICY_MAX_BYTES, RecordSelection
from survey.core.verdict import Verdict

#: Bump the major part when a column changes meaning or type, the minor part when one is added.
SCHEMA_VERSION = "1.1"  # 1.1: DNSSEC, DANE, sender columns (issues 15, 16)

_TS = pa.timestamp("ms", tz="UTC")

_CERT_FIELDS = [
    ("cert_subject", pa.string(), "Subject of the presented leaf certificate (RFC 4514)."),
    ("cert_issuer", pa.string(), "Issuer of the presented leaf certificate (RFC 4514)."),
    ("cert_names", pa.list_(pa.string()), "DNS names of the certificate (subjectAltName)."),
    ("cert_not_after", _TS, "Expiry of the presented certificate (UTC)."),
]

SMTP_STRUCT = pa.struct(
    [
        pa.field("host", pa.string()),
        pa.field("address", pa.string()),
        pa.field("error", pa.string()),
        pa.field("error_detail", pa.string()),
        pa.field("banner", pa.string()),
        pa.field("starttls_offered", pa.bool_()),
        pa.field("tls_version", pa.string()),
        *(pa.field(name, typ) for name, typ, _ in _CERT_FIELDS),
        pa.field("elapsed_ms", pa.float32()),
    ]
)

#: One sender profile's outcome (survey.core.outcomes.SenderOutcome).
SENDER_OUTCOME_STRUCT = pa.struct([
    pa.field("sender", pa.string()),
    pa.field("applies", pa.bool_()),
    pa.field("mode", pa.string()),
    pa.field("reason", pa.string()),
])

MX_STRUCT = pa.struct([pa.field("preference", pa.int32()), pa.field("host", pa.string())])

DANE_HOST_STRUCT = pa.struct(
    [
        pa.field("host", pa.string()),
        pa.field("tlsa_dnssec", pa.string()),
        pa.field("address_dnssec", pa.string()),
        pa.field("tlsa", pa.list_(pa.string())),
        pa.field("usable", pa.bool_()),
        pa.field("smtp_dane", pa.string()),
    ]
)
_DNSSEC_VALUES = "secure | insecure | bogus | error; null when not asked"


def _dns_columns(prefix: str, what: str, answer: tuple[str, pa.DataType, str]) -> list[pa.Field]:
    return [
        _f(f"{prefix}_dns_status", pa.string(),
           f"Outcome of the {what} lookup: NOERROR, NXDOMAIN, SERVFAIL, TIMEOUT, ERROR, ..."),
        _f(f"{prefix}_rcode", pa.int16(),
           f"DNS rcode of the {what} answer; -1 when no answer arrived (timeout)."),
        _f(f"{prefix}_{answer[0]}", answer[1], answer[2]),
        _f(f"{prefix}_cname", pa.list_(pa.string()),
           f"CNAME chain followed from the {what} query name, in order."),
        _f(f"{prefix}_dns_error", pa.string(), f"Error text of the {what} lookup, if any."),
    ]


def _f(name: str, typ: pa.DataType, doc: str) -> pa.Field:
    return pa.field(name, typ, metadata={"doc": doc})


TXT_LIST = pa.list_(pa.list_(pa.string()))

SCHEMA = pa.schema(
    [
        _f("run_id", pa.string(), "Identifier of the scan run that produced the row."),
        _f("scanned_at", _TS, "When the domain's probes finished (UTC)."),
        _f("toplist", pa.string(), "Name of the input list (e.g. tranco-6P7X, or the file name)."),
        _f("toplist_date", pa.date32(), "Date of the input list, when known."),
        _f("rank", pa.int64(), "Rank in the input list (line order for plain lists)."),
        _f("domain", pa.string(), "The domain, lower case ASCII (IDNA 2008 A-labels)."),
        # verdict
        _f("status", pa.string(), "absent | invalid | none | testing | enforce | error."),
        _f("mode", pa.string(), "Mode written in the fetched, parsed policy; null otherwise."),
        _f("grade", pa.string(), "pass (enforce) | warn (testing) | fail; null for error."),
        _f("mistakes", pa.list_(pa.string()), "Mistake codes (see the mistake reference)."),
        _f("error_reason", pa.string(), "Why status is error: which lookup failed and how."),
        # per sender (issue 15)
        _f("sender_outcomes", pa.list_(SENDER_OUTCOME_STRUCT),
           "Per sender profile (rfc8461 first, then deployed implementations): whether it "
           "applies a policy (null: unknown), in which mode, and why not (txt:, fetch:, policy: "
           "code); empty for error."),
        # DNS evidence
        *_dns_columns("sts", "_mta-sts TXT", ("txt", TXT_LIST,
                      "Raw _mta-sts TXT records, each as its character-strings (latin-1).")),
        _f("sts_id", pa.string(), "id of the selected v=STSv1 record."),
        _f("sts_record_errors", pa.list_(pa.string()),
           "Parse error codes of the selected record, or the selection failure."),
        *_dns_columns("tlsrpt", "_smtp._tls TXT", ("txt", TXT_LIST,
                      "Raw _smtp._tls TXT records, each as its character-strings (latin-1).")),
        _f("tlsrpt_rua", pa.list_(pa.string()), "rua URIs of the selected TLS-RPT record."),
        _f("tlsrpt_record_errors", pa.list_(pa.string()),
           "Parse error codes of the selected TLS-RPT record, or the selection failure."),
        *_dns_columns("mx", "MX", ("hosts", pa.list_(MX_STRUCT),
                      "MX records (preference, host), host lower case without trailing dot.")),
        *_dns_columns("policy_host", "mta-sts.<domain> A/AAAA", ("addresses",
                      pa.list_(pa.string()), "Addresses of the policy host (A, then AAAA).")),
        # HTTPS evidence
        _f("https_attempted", pa.bool_(), "Whether the policy fetch was attempted."),
        _f("https_address", pa.string(), "IP address the policy fetch connected to."),
        _f("https_error", pa.string(),
           "Why the fetch got no HTTP response (connection-refused, certificate-expired, "
           "io-timeout, ...); null when a response arrived."),
        _f("https_error_detail", pa.string(), "Error text of the fetch."),
        _f("https_status", pa.int16(), "HTTP status code."),
        _f("https_content_type", pa.string(), "Content-Type header of the response."),
        _f("https_location", pa.string(), "Location header of a redirect (never followed)."),
        _f("https_tls_version", pa.string(), "Negotiated TLS version."),
        *(_f(f"https_{n}", t, d.replace("presented", "policy host's")) for n, t, d in _CERT_FIELDS),
        _f("https_elapsed_ms", pa.float32(), "Duration of the fetch in milliseconds."),
        # policy
        _f("policy_text", pa.string(),
           f"Raw policy body (latin-1), capped at {POLICY_MAX_BYTES} bytes."),
        _f("policy_truncated", pa.bool_(), "The body exceeded the cap and was cut."),
        _f("policy_sha256", pa.string(), "SHA-256 (hex) of the policy body as received."),
        _f("policy_version", pa.string(), "Parsed version field."),
        _f("policy_mode", pa.string(), "Parsed mode field (as written, even if invalid)."),
        _f("policy_max_age", pa.int64(), "Parsed max_age in seconds."),
        _f("policy_mx", pa.list_(pa.string()), "Parsed mx patterns."),
        _f("policy_errors", pa.list_(pa.string()), "Parse error codes of the policy."),
        # SMTP evidence
        _f("smtp", pa.list_(SMTP_STRUCT),
           "One entry per MX host probed with STARTTLS (empty unless --smtp)."),
        # DNSSEC and DANE (issue 16): meaningful only through a validating resolver (the
        # manifest's resolver_validates)
        _f("sts_txt_dnssec", pa.string(), f"DNSSEC status of the _mta-sts TXT answer: "
           f"{_DNSSEC_VALUES}."),
        _f("tlsrpt_dnssec", pa.string(), f"DNSSEC status of the _smtp._tls TXT answer: "
           f"{_DNSSEC_VALUES}."),
        _f("mx_dnssec", pa.string(), f"DNSSEC status of the MX answer: {_DNSSEC_VALUES}."),
        _f("policy_host_dnssec", pa.string(), f"DNSSEC status of the mta-sts.<domain> address "
           f"answer: {_DNSSEC_VALUES}."),
        _f("dane", pa.string(), "DANE for SMTP: none | insecure (TLSA present, not secure: "
           "senders ignore it) | partial (some MX hosts without usable secure TLSA) | usable | "
           "bogus; none also when DANE cannot apply (MX answer insecure, no MX host: TLSA not "
           "looked up under --tlsa secure); null when the MX or a TLSA lookup failed."),
        _f("dane_hosts", pa.list_(DANE_HOST_STRUCT),
           "One entry per MX host whose TLSA records were looked up (same cap as --smtp): host, "
           "tlsa_dnssec, address_dnssec, tlsa ('usage selector mtype hex'), usable, smtp_dane "
           "(valid | mismatch with --smtp, for a host whose TLSA records a DANE sender uses: "
           "secure, with secure MX and address answers; null otherwise)."),
        _f("sender_mechanism", pa.string(), "What a sender implementing both MTA-STS and DANE "
           "applies: dane | mta-sts | none (RFC 8461 §2, RFC 7672 §2.2); null when unknown."),
        _f("sender_protection", pa.string(), "What that sender's mail gets: authenticated | "
           "encrypted (TLS required, not authenticated) | testing | none | deferred (DANE "
           "fails); the weakest MX host's; null when unknown."),
    ],
    metadata={"schema_version": SCHEMA_VERSION},
)

COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)


@dataclass(frozen=True, slots=True)
class RunContext:
    """The per-run values every row repeats."""

    run_id: str
    toplist: str
    toplist_date: dt.date | None = None


def _dns(prefix: str, result: DnsResult) -> dict[str, Any]:
    return {
        f"{prefix}_dns_status": str(result.status),
        f"{prefix}_rcode": result.rcode,
        f"{prefix}_cname": list(result.cname_chain),
        f"{prefix}_dns_error": result.error,
    }


def _cert(prefix: str, cert: Certificate | None) -> dict[str, Any]:
    if cert is None:
        return {f"{prefix}cert_subject": None, f"{prefix}cert_issuer": None,
                f"{prefix}cert_names": None, f"{prefix}cert_not_after": None}
    return {f"{prefix}cert_subject": cert.subject, f"{prefix}cert_issuer": cert.issuer,
            f"{prefix}cert_names": list(cert.names), f"{prefix}cert_not_after": cert.not_after}


def _record_errors(selection: RecordSelection[Any] | None) -> list[str]:
    if selection is None:
        return []
    if selection.record is None:
        return [selection.reason or "no_record"]
    return [e.code for e in selection.record.errors]


def to_row(
    context: RunContext,
    rank: int | None,
    obs: DomainObservations,
    verdict: Verdict,
    scanned_at: dt.datetime,
) -> dict[str, Any]:
    """One row (a dict keyed by ``COLUMNS``) for one domain.

    The parsed-record columns come from the verdict's facts, the very parse the verdict was made
    from (a verdict built without them gets them parsed here), so a row never disagrees with its
    evidence nor with its verdict.
    """
    fetch = obs.policy_fetch
    body = fetch.body if fetch is not None else None
    facts = verdict.facts if verdict.facts is not None else parse_facts(obs)
    policy = facts.policy
    sts = facts.sts if obs.sts_txt.txt else None
    tlsrpt = facts.tlsrpt if obs.tlsrpt_txt.txt else None
    row: dict[str, Any] = {
        "run_id": context.run_id,
        "scanned_at": scanned_at,
        "toplist": context.toplist,
        "toplist_date": context.toplist_date,
        "rank": rank,
        "domain": obs.domain,
        "status": str(verdict.status),
        "mode": verdict.mode,
        "grade": None if verdict.grade is None else str(verdict.grade),
        "mistakes": list(verdict.mistakes),
        "error_reason": verdict.error_reason,
        "sender_outcomes": [{"sender": o.sender, "applies": o.applies, "mode": o.mode,
                             "reason": o.reason} for o in verdict.sender_outcomes],
        **_dns("sts", obs.sts_txt),
        "sts_txt": [list(r) for r in obs.sts_txt.txt],
        "sts_id": sts.record.id if sts and sts.record else None,
        "sts_record_errors": _record_errors(sts),
        **_dns("tlsrpt", obs.tlsrpt_txt),
        "tlsrpt_txt": [list(r) for r in obs.tlsrpt_txt.txt],
        "tlsrpt_rua": list(tlsrpt.record.rua) if tlsrpt and tlsrpt.record else [],
        "tlsrpt_record_errors": _record_errors(tlsrpt),
        **_dns("mx", obs.mx),
        "mx_hosts": [{"preference": m.preference, "host": m.host} for m in obs.mx.mx],
        **_dns("policy_host", obs.policy_host),
        "policy_host_addresses": list(obs.policy_host.addresses),
        "https_attempted": fetch is not None,
        "https_address": fetch.address if fetch else None,
        "https_error": str(fetch.error) if fetch and fetch.error else None,
        "https_error_detail": fetch.error_detail if fetch else None,
        "https_status": fetch.http_status if fetch else None,
        "https_content_type": fetch.content_type if fetch else None,
        "https_location": fetch.location if fetch else None,
        "https_tls_version": fetch.tls_version if fetch else None,
        **_cert("https_", fetch.certificate if fetch else None),
        "https_elapsed_ms": fetch.elapsed_ms if fetch else None,
        "policy_text": body[:POLICY_MAX_BYTES].decode("latin-1") if body is not None else None,
        "policy_truncated": fetch.body_truncated if fetch and body is not None else None,
        "policy_sha256": hashlib.sha256(body).hexdigest() if body is not None else None,
        "policy_version": policy.version if policy else None,
        "policy_mode": policy.mode if policy else None,
        "policy_max_age": policy.max_age if policy else None,
        "policy_mx": list(policy.mx) if policy else None,
        "policy_errors": [e.code for e in policy.errors] if policy else None,
        "smtp": [
            {
                "host": s.host,
                "address": s.address,
                "error": str(s.error) if s.error else None,
                "error_detail": s.error_detail,
                "banner": s.banner,
                "starttls_offered": s.starttls_offered,
                "tls_version": s.tls_version,
                **_cert("", s.certificate),
                "elapsed_ms": s.elapsed_ms,
            }
            for s in obs.smtp
        ],
        **_dane_columns(obs, verdict),
    }
    return row


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


def _dane_columns(obs: DomainObservations, verdict: Verdict) -> dict[str, Any]:
    """The DNSSEC, DANE and sender columns (issue 16), from the verdict's DANE assessment."""
    dane = verdict.dane
    usable = dane.usable if dane is not None else ()
    return {
        "sts_txt_dnssec": _text(obs.sts_txt.dnssec),
        "tlsrpt_dnssec": _text(obs.tlsrpt_txt.dnssec),
        "mx_dnssec": _text(obs.mx.dnssec),
        "policy_host_dnssec": _text(obs.policy_host.dnssec),
        "dane": _text(dane.dane) if dane is not None else None,
        "dane_hosts": [
            {"host": h.host, "tlsa_dnssec": _text(h.tlsa.dnssec),
             "address_dnssec": _text(h.address_dnssec),
             "tlsa": [r.text() for r in h.tlsa.tlsa],
             "usable": usable[i] if i < len(usable) else None, "smtp_dane": h.smtp_dane}
            for i, h in enumerate(obs.dane or ())
        ],
        "sender_mechanism": _text(dane.mechanism) if dane is not None else None,
        "sender_protection": _text(dane.protection) if dane is not None else None,
    }


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def column_reference_markdown() -> str:
    """The README's column table, generated from the schema's field docs."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    for fld in SCHEMA:
        doc = (fld.metadata or {}).get(b"doc", b"").decode()
        lines.append(f"| `{fld.name}` | `{fld.type}` | {doc} |")
    return "\n".join(lines)
