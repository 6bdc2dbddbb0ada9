"""The mistake vocabulary: the one place where mistake codes are defined.

Codes are a public contract (rows, notebooks and users' scripts use them): add codes, never
rename them. The README's reference table is generated from ``MISTAKES`` and checked by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # mail can be lost, or senders ignore the policy
    WARNING = "warning"  # works, but weaker or harder to operate than it should be


@dataclass(frozen=True, slots=True)
class Mistake:
    code: str
    severity: Severity
    explanation: str
    reference: str
    fix: str
    longitudinal: bool = False  # needs two snapshots (found by ``diff``, not by ``classify``)


_E, _W = Severity.ERROR, Severity.WARNING

_BASE = (
    Mistake("txt_without_policy", _E,
            "An _mta-sts TXT record is published but no valid policy can be fetched.",
            "RFC 8461 §3.3", "Serve a valid policy at https://mta-sts.<domain>/.well-known/"
            "mta-sts.txt, or remove the TXT record."),
    Mistake("policy_without_txt", _E,
            "A policy is served but there is no valid _mta-sts TXT record, so senders never "
            "fetch it.", "RFC 8461 §3.1", 'Publish _mta-sts.<domain> TXT "v=STSv1; id=<id>".'),
    Mistake("txt_multiple", _E,
            "More than one TXT record at _mta-sts starts with v=STSv1; senders must treat this "
            "as no record.", "RFC 8461 §3.1", "Keep exactly one v=STSv1 record."),
    Mistake("txt_invalid", _E,
            "The _mta-sts TXT record does not follow the grammar (version, id, separators).",
            "RFC 8461 §3.1", 'Use exactly "v=STSv1; id=<1-32 letters or digits>".'),
    Mistake("policy_invalid", _E,
            "The policy file does not parse (missing or bad version, mode, max_age or mx).",
            "RFC 8461 §3.2", "Fix the policy: version: STSv1, mode, max_age and mx lines."),
    Mistake("policy_unreachable", _E,
            "The policy host does not resolve or does not answer over HTTPS in time.",
            "RFC 8461 §3.3", "Make mta-sts.<domain> resolve and serve HTTPS on port 443."),
    Mistake("policy_http_error", _E,
            "The policy URL answers with an HTTP status other than 200.", "RFC 8461 §3.3",
            "Serve the policy with status 200 at /.well-known/mta-sts.txt."),
    Mistake("policy_redirect", _E,
            "The policy URL answers with a redirect, which senders must not follow.",
            "RFC 8461 §3.3", "Serve the policy directly, without a 3xx redirect."),
    Mistake("policy_content_type", _W,
            "The policy is not served as text/plain.", "RFC 8461 §3.2",
            "Serve the policy with Content-Type: text/plain."),
    Mistake("policy_too_large", _E,
            "The policy body exceeds 64 KiB, more than senders are expected to read.",
            "RFC 8461 §3.3", "Keep the policy small: only version, mode, max_age and mx."),
    Mistake("policy_cert_expired", _E,
            "The policy host's certificate has expired (or is not yet valid).", "RFC 8461 §3.3",
            "Renew the certificate of mta-sts.<domain>."),
    Mistake("policy_cert_untrusted", _E,
            "The policy host's certificate does not chain to a trusted CA (self-signed or "
            "private CA).", "RFC 8461 §3.3",
            "Use a certificate from a publicly trusted CA, with the full chain."),
    Mistake("policy_cert_name_mismatch", _E,
            "The policy host's certificate is not valid for mta-sts.<domain>.", "RFC 8461 §3.3",
            "Include mta-sts.<domain> in the certificate's subjectAltName."),
    Mistake("max_age_out_of_range", _E,
            "max_age is not 1-10 digits between 0 and 31557600 seconds.", "RFC 8461 §3.2",
            "Use a max_age between 86400 and 31557600 (one day to one year)."),
    Mistake("max_age_short", _W,
            "max_age is under one day, which gives little protection against downgrade.",
            "RFC 8461 §3.2", "Use a max_age of at least 86400, ideally weeks."),
    Mistake("mx_not_in_policy", _E,
            "A DNS MX host matches no mx pattern of the policy: in enforce, mail to it is "
            "refused.", "RFC 8461 §4.1", "Add the MX host (or a matching *. pattern) to the "
            "policy, then bump the id."),
    Mistake("policy_mx_unused", _W,
            "An mx pattern of the policy matches no DNS MX host.", "RFC 8461 §4.1",
            "Remove stale mx lines from the policy, then bump the id."),
    Mistake("no_mx", _W,
            "The domain publishes MTA-STS but has no MX records (or a null MX).",
            "RFC 8461 §4", "Publish MX records, or remove the MTA-STS records."),
    Mistake("enforce_without_tlsrpt", _W,
            "Enforce mode without a TLS-RPT record: delivery failures go unreported.",
            "RFC 8460 §3", 'Publish _smtp._tls.<domain> TXT "v=TLSRPTv1; rua=mailto:...".'),
    Mistake("testing_without_tlsrpt", _W,
            "Testing mode without a TLS-RPT record: testing is silent without reports.",
            "RFC 8461 §5", 'Publish _smtp._tls.<domain> TXT "v=TLSRPTv1; rua=mailto:...".'),
    Mistake("tlsrpt_invalid", _W,
            "The _smtp._tls TXT record does not follow the grammar (version, rua URIs).",
            "RFC 8460 §3", 'Use "v=TLSRPTv1; rua=mailto:reports@example.com".'),
    Mistake("tlsrpt_multiple", _W,
            "More than one TXT record at _smtp._tls starts with v=TLSRPTv1; none is used.",
            "RFC 8460 §3", "Keep exactly one v=TLSRPTv1 record."),
    Mistake("mx_starttls_missing", _E,
            "An MX host does not offer STARTTLS (or refuses it): in enforce, mail to it fails.",
            "RFC 8461 §5", "Enable STARTTLS on every MX host."),
    Mistake("mx_cert_invalid", _E,
            "An MX host's certificate is not valid for its name or not trusted: in enforce, "
            "mail to it fails.", "RFC 8461 §4.2",
            "Use a publicly trusted certificate valid for the MX host name."),
    # --- DANE and DNSSEC (issue 16; docs/classification.md §8) ---
    Mistake("dnssec_bogus", _E,
            "The _mta-sts TXT, mta-sts.<domain> address or MX answer is DNSSEC-bogus: validating "
            "senders get SERVFAIL and cannot use it (MTA-STS is not applied, or mail waits).",
            "RFC 4035 §5.5", "Fix the zone's signatures and DS records (re-sign, check the "
            "chain of trust with a DNSSEC debugger)."),
    Mistake("tlsa_insecure", _W,
            "An MX host has TLSA records, but they (or the MX or address records) are not "
            "DNSSEC-secure, so senders ignore them.", "RFC 7672 §2.2",
            "Sign the zones of the domain and of the MX hosts (with DS records in the parent)."),
    Mistake("tlsa_unusable_usage", _W,
            "An MX host's TLSA records use PKIX-TA(0) or PKIX-EE(1) (or unknown parameters), "
            "which SMTP senders treat as unusable: they fall back to unauthenticated TLS.",
            "RFC 7672 §3.1.3", "Publish DANE-EE(3) or DANE-TA(2) records, e.g. 3 1 1 <SHA-256 "
            "of the key>."),
    Mistake("tlsa_partial", _W,
            "Some MX hosts have usable DNSSEC-secure TLSA records and others do not: mail to "
            "those is not DANE-protected.", "RFC 7672 §2.2",
            "Publish usable TLSA records for every MX host."),
    Mistake("tlsa_bogus", _E,
            "An MX host's TLSA or address records are DNSSEC-bogus: DANE senders defer mail to "
            "it.", "RFC 7672 §2.2", "Fix the signatures of the MX host's zone."),
    Mistake("dane_mismatch", _E,
            "An MX host presents a certificate chain that matches none of its usable TLSA "
            "records: DANE senders defer mail to it.", "RFC 7672 §3.1, RFC 7671 §5",
            "Publish TLSA records for the current key before deploying it (roll over with two "
            "records), or restore the key the records name."),
    Mistake("dane_sts_conflict", _W,
            "MTA-STS (enforce) and DANE disagree for the domain: one mechanism delivers where "
            "the other fails, so what happens depends on what the sender implements (DANE "
            "wins for senders with both).", "RFC 8461 §2",
            "Make both pass: valid TLSA records and a certificate valid for the MX host names."),
    # --- longitudinal ---
    Mistake("id_not_bumped", _E,
            "The policy changed between two snapshots but the TXT id did not, so senders keep "
            "the old policy.", "RFC 8461 §3.1", "Change the id whenever the policy changes.",
            longitudinal=True),
    Mistake("enforce_without_testing", _W,
            "First seen in enforce mode, never in testing: the rollout skipped the safe step.",
            "RFC 8461 §5", "Deploy in testing with TLS-RPT first, then move to enforce.",
            longitudinal=True),
)

# --- issue 15: what real policies get wrong, and senders that read them differently ----------
_SENDERS = (
    Mistake("policy_not_a_policy", _E,
            "The policy URL serves something that is no policy at all: an HTML page, an RTF "
            "document, prose or a pasted DNS record.", "RFC 8461 §3.2",
            "Serve the plain-text policy (version, mode, mx and max_age lines) at "
            "/.well-known/mta-sts.txt; the v=STSv1 record belongs in DNS."),
    Mistake("policy_blank_lines", _E,
            "The policy has blank lines (or more than one line break at the end), which its "
            "grammar does not allow: senders that follow the RFC reject it.", "RFC 8461 §3.2",
            "Remove the empty lines; end the file with at most one line break."),
    Mistake("policy_indented_lines", _E,
            "A policy line starts with spaces or tabs: senders that follow the RFC reject the "
            "policy, others trim the line.", "RFC 8461 §3.2",
            "Start every line with its field name."),
    Mistake("policy_duplicate_fields", _W,
            "A policy field other than mx is given more than once: the RFC keeps the first, some "
            "senders keep the last or reject the policy.", "RFC 8461 §3.2",
            "Give version, mode and max_age once each."),
    Mistake("mx_trailing_dot", _E,
            "An mx pattern ends with a dot (mail.example.com.), which the policy grammar does "
            "not allow: senders that follow the RFC reject the policy, others strip the dot.",
            "RFC 8461 §3.2", "Write mx patterns without the trailing dot."),
    Mistake("mx_wildcard_provider", _W,
            "An mx pattern is a wildcard over a whole mail provider's domain (*.google.com, "
            "*.outlook.com): it admits every host directly under it and matches none of the "
            "provider's MX hosts, which lie deeper.", "RFC 8461 §4.1",
            "List the MX hosts the provider documents (e.g. *.mail.protection.outlook.com, "
            "aspmx.l.google.com), not its whole domain."),
    Mistake("mx_submission_host", _W,
            "An mx pattern names a provider's client submission host (smtp.gmail.com, "
            "smtp.office365.com), which is never an MX: it matches no mail exchanger.",
            "RFC 8461 §4.1", "List the MX hosts of the domain's MX records instead."),
    Mistake("senders_disagree", _W,
            "Deployed senders disagree on this domain: some apply its policy and others ignore "
            "it, or they apply different modes (sender_outcomes names who does what).",
            "RFC 8461 §3", "Fix the mistakes that make some senders reject the policy, so every "
            "sender applies the same policy."),
)

_ALL: tuple[Mistake, ...] = (*_BASE, *_SENDERS)

MISTAKES: dict[str, Mistake] = {m.code: m for m in _ALL}
#: The DANE and DNSSEC codes (issue 16): found whatever the MTA-STS status (also ``absent``).
DANE_CODES = frozenset({"dnssec_bogus", "tlsa_insecure", "tlsa_unusable_usage", "tlsa_partial",
                        "tlsa_bogus", "dane_mismatch", "dane_sts_conflict"})


def severity_of(code: str) -> Severity:
    return MISTAKES[code].severity


def reference_table_markdown() -> str:
    """The README's mistake table, generated so the docs cannot drift from the code."""
    lines = ["| code | severity | meaning | reference | fix |", "|---|---|---|---|---|"]
    for m in _ALL:
        scope = " (snapshot comparison)" if m.longitudinal else ""
        lines.append(
            f"| `{m.code}` | {m.severity}{scope} | {m.explanation} | {m.reference} | {m.fix} |"
        )
    return "\n".join(lines)
