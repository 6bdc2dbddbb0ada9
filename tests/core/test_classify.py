"""The classifier against docs/classification.md: one table row per status and mistake code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from survey.core.classify import STS_ATTEMPT, TLSRPT_ATTEMPT, any_attempt, classify
from survey.core.mistakes import DANE_CODES, MISTAKES
from survey.core.observations import (
    DaneHost,
    DnsResult,
    Dnssec,
    DnsStatus,
    DomainObservations,
    FetchError,
    HttpsFetch,
    MxRecord,
    SmtpProbe,
    TlsaRecord,
)
from survey.core.policy import POLICY_MAX_BYTES
from survey.core.verdict import GRADE_OF_STATUS, Grade, Status, Verdict

D = "example.test"
STS = (("v=STSv1; id=2026a",),)
TLSRPT = (("v=TLSRPTv1; rua=mailto:tlsrpt@example.test",),)
MX1 = "mx1.example.test"
RCODES = {DnsStatus.NOERROR: 0, DnsStatus.FORMERR: 1, DnsStatus.SERVFAIL: 2,
          DnsStatus.NXDOMAIN: 3, DnsStatus.NOTIMP: 4, DnsStatus.REFUSED: 5}
FAILURES = tuple(s for s in DnsStatus if s.is_failure)


def body(mode: str = "enforce", mx: tuple[str, ...] = (MX1,), max_age: str = "604800",
         version: str = "STSv1") -> bytes:
    lines = [f"version: {version}", f"mode: {mode}", *(f"mx: {m}" for m in mx),
             f"max_age: {max_age}"]
    return ("\n".join(lines) + "\n").encode()


def fetch(payload: bytes | None = None, *, status: int | None = 200,
          content_type: str | None = "text/plain", error: FetchError | None = None,
          location: str | None = None, truncated: bool = False) -> HttpsFetch:
    return HttpsFetch(url=f"https://mta-sts.{D}/.well-known/mta-sts.txt", address="127.0.0.1",
                      error=error, http_status=None if error else status,
                      content_type=None if error else content_type, location=location,
                      body=None if error else (body() if payload is None else payload),
                      body_truncated=truncated)


def failed(error: FetchError) -> HttpsFetch:
    return fetch(error=error)


def dns(qname: str, qtype: str, status: DnsStatus, **answer: Any) -> DnsResult:
    return DnsResult(qname, qtype, status, RCODES.get(status, -1),
                     error=f"{status.lower()} after 3 tries" if status.is_failure else None,
                     **answer)


_UNSET = failed(FetchError.UNKNOWN_ERROR)  # sentinel: "the default fetch"


def obs(*, sts: tuple[tuple[str, ...], ...] = STS, sts_status: DnsStatus | None = None,
        tlsrpt: tuple[tuple[str, ...], ...] = TLSRPT, tlsrpt_status: DnsStatus | None = None,
        mx: tuple[str, ...] = (MX1,), mx_status: DnsStatus = DnsStatus.NOERROR,
        host_status: DnsStatus = DnsStatus.NOERROR, policy: HttpsFetch | None = _UNSET,
        smtp: tuple[SmtpProbe, ...] = ()) -> DomainObservations:
    """A fully correct enforce domain unless told otherwise; empty TXT answers are NXDOMAIN."""
    sts_status = sts_status or (DnsStatus.NOERROR if sts else DnsStatus.NXDOMAIN)
    tlsrpt_status = tlsrpt_status or (DnsStatus.NOERROR if tlsrpt else DnsStatus.NXDOMAIN)
    ok = DnsStatus.NOERROR
    return DomainObservations(
        domain=D,
        sts_txt=dns(f"_mta-sts.{D}", "TXT", sts_status, txt=sts if sts_status is ok else ()),
        tlsrpt_txt=dns(f"_smtp._tls.{D}", "TXT", tlsrpt_status,
                       txt=tlsrpt if tlsrpt_status is ok else ()),
        mx=dns(D, "MX", mx_status, mx=tuple(MxRecord(10, h) for h in mx)),
        policy_host=dns(f"mta-sts.{D}", "A", host_status,
                        addresses=("127.0.0.1",) if host_status is ok else ()),
        policy_fetch=fetch() if policy is _UNSET else policy,
        smtp=smtp,
    )


def probe(error: FetchError | None, offered: bool | None = True) -> SmtpProbe:
    return SmtpProbe(host=MX1, address="127.0.0.1", error=error, starttls_offered=offered)


@dataclass(frozen=True)
class Row:
    name: str
    obs: DomainObservations
    status: Status
    mode: str | None = None
    mistakes: tuple[str, ...] = ()
    reason: str | None = None  # start of error_reason (status error only)


E, T, N, A, INV = Status.ENFORCE, Status.TESTING, Status.NONE, Status.ABSENT, Status.INVALID
ERR = Status.ERROR


def no_txt(**kwargs: Any) -> DomainObservations:
    """Nothing at _mta-sts (NXDOMAIN) and no policy host."""
    return obs(sts=(), policy=None, host_status=DnsStatus.NXDOMAIN, **kwargs)


UNREACHABLE = ("txt_without_policy", "policy_unreachable")
HTML = fetch(b"<html><body>It works!</body></html>\n", content_type="text/html")
TRANSPORT = (FetchError.NO_ADDRESS, FetchError.BLOCKED, FetchError.CONNECTION_REFUSED,
             FetchError.CONNECTION_TIMEOUT, FetchError.CONNECTION_CLOSED, FetchError.IO_TIMEOUT,
             FetchError.HANDSHAKE_ERROR, FetchError.PROTOCOL_ERROR, FetchError.UNKNOWN_ERROR)

# --- DANE (issue 16, docs/classification.md §8) ---
SEC, INS, BOG = Dnssec.SECURE, Dnssec.INSECURE, Dnssec.BOGUS
DANE_EE = TlsaRecord(3, 1, 1, b"\x01" * 32)
PKIX_EE = TlsaRecord(1, 1, 1, b"\x01" * 32)
HostSpec = tuple[str, Dnssec, Dnssec | None, tuple[TlsaRecord, ...], str | None]


def dane_host(host: str, tlsa_dnssec: Dnssec, address_dnssec: Dnssec | None,
              records: tuple[TlsaRecord, ...], smtp_dane: str | None = None) -> DaneHost:
    status = DnsStatus.SERVFAIL if tlsa_dnssec is BOG else (
        DnsStatus.NOERROR if records else DnsStatus.NXDOMAIN)
    lookup = replace(dns(f"_25._tcp.{host}", "TLSA", status, tlsa=records), dnssec=tlsa_dnssec)
    return DaneHost(host, lookup, address_dnssec, smtp_dane)


def signed(o: DomainObservations, *, mx: Dnssec = SEC,
           hosts: tuple[HostSpec, ...] = ((MX1, SEC, SEC, (DANE_EE,), None),)
           ) -> DomainObservations:
    """``o`` with its MX answer's DNSSEC status and the TLSA evidence of ``hosts``."""
    return replace(o, mx=replace(o.mx, dnssec=mx), dane=tuple(dane_host(*h) for h in hosts))


MX2 = "mx2.example.test"
DANE_ROWS: tuple[Row, ...] = (
    Row("dane_usable_beside_enforce", signed(obs()), E, "enforce"),
    Row("dane_usable_alone", signed(no_txt()), A),
    Row("tlsa_insecure", signed(no_txt(), mx=INS, hosts=((MX1, INS, INS, (DANE_EE,), None),)),
        A, None, ("tlsa_insecure",)),
    Row("tlsa_insecure_address", signed(no_txt(), hosts=((MX1, SEC, INS, (DANE_EE,), None),)),
        A, None, ("tlsa_insecure",)),
    Row("tlsa_unusable_usage", signed(no_txt(), hosts=((MX1, SEC, SEC, (PKIX_EE,), None),)),
        A, None, ("tlsa_unusable_usage",)),
    Row("tlsa_partial", signed(obs(mx=(MX1, MX2), policy=fetch(body(mx=(MX1, MX2)))),
                               hosts=((MX1, SEC, SEC, (DANE_EE,), None),
                                      (MX2, SEC, SEC, (), None))),
        E, "enforce", ("tlsa_partial",)),
    Row("tlsa_bogus", signed(no_txt(), hosts=((MX1, BOG, SEC, (), None),)), A, None,
        ("tlsa_bogus",)),
    Row("dane_mismatch", signed(no_txt(), hosts=((MX1, SEC, SEC, (DANE_EE,), "mismatch"),)), A,
        None, ("dane_mismatch",)),
    Row("dane_sts_conflict", signed(obs(), hosts=((MX1, SEC, SEC, (DANE_EE,), "mismatch"),)), E,
        "enforce", ("dane_mismatch", "dane_sts_conflict")),
    Row("dnssec_bogus_sts_txt", replace(obs(policy=None), sts_txt=replace(
        dns(f"_mta-sts.{D}", "TXT", DnsStatus.SERVFAIL), dnssec=BOG)), INV, None,
        ("dnssec_bogus",)),
    Row("dnssec_bogus_mx", replace(no_txt(), mx=replace(dns(D, "MX", DnsStatus.SERVFAIL),
                                                        dnssec=BOG)), A, None, ("dnssec_bogus",)),
)

ROWS: tuple[Row, ...] = (
    # statuses
    Row("enforce_ok", obs(), E, "enforce"),
    Row("testing_ok", obs(policy=fetch(body("testing"))), T, "testing"),
    Row("none_ok", obs(policy=fetch(body("none", mx=()))), N, "none"),
    Row("absent_nxdomain", no_txt(), A),
    Row("absent_nodata_no_address", obs(sts=(), sts_status=DnsStatus.NOERROR,
                                        host_status=DnsStatus.NXDOMAIN,
                                        policy=failed(FetchError.NO_ADDRESS)), A),
    Row("absent_wildcard_web_host", obs(sts=(), policy=HTML), A),
    Row("absent_web_host_404", obs(sts=(), policy=fetch(b"not found", status=404)), A),
    Row("absent_policy_host_refuses", obs(sts=(), policy=failed(FetchError.CONNECTION_REFUSED)),
        A),
    # the TXT record
    Row("multi_string_txt", obs(sts=(("v=STSv1;", " id=", "2026a"),)), E, "enforce"),
    Row("other_txt_discarded", obs(sts=(("site-verification=abc",), *STS)), E, "enforce"),
    Row("space_before_semicolon", obs(sts=(("v=STSv1 ; id=1",),)), E, "enforce"),
    Row("txt_multiple", obs(sts=(*STS, ("v=STSv1; id=2",))), INV, "enforce", ("txt_multiple",)),
    Row("txt_invalid_id", obs(sts=(("v=STSv1; id=not_ok!",),)), INV, "enforce", ("txt_invalid",)),
    Row("txt_invalid_no_candidate", obs(sts=(("v=STSv10; id=1",),)), INV, "enforce",
        ("txt_invalid",)),
    Row("absent_unrelated_txt_no_policy", obs(sts=(("v=spf1 -all",),), policy=HTML), A),
    Row("absent_unrelated_txt_no_host", obs(sts=(("v=spf1 -all",), ("vs=STSv1",)),
                                            host_status=DnsStatus.NXDOMAIN,
                                            policy=failed(FetchError.NO_ADDRESS)), A),
    Row("policy_without_unrelated_txt", obs(sts=(("v=spf1 -all",),)), INV, "enforce",
        ("policy_without_txt",)),
    Row("txt_invalid_other_version_no_policy", obs(sts=(("v=STSv2; id=1",),), policy=HTML), INV,
        None, ("txt_invalid",)),
    Row("txt_invalid_wrong_case", obs(sts=(("v=stsv1; id=1",),)), INV, "enforce",
        ("txt_invalid",)),
    Row("txt_invalid_leading_space", obs(sts=(("\t v=STSv1; id=1",),)), INV, "enforce",
        ("txt_invalid",)),
    Row("txt_invalid_and_policy_invalid", obs(sts=(("v=STSv1; id=",),), policy=fetch(
        body(mx=()))), INV, "enforce", ("txt_without_policy", "txt_invalid", "policy_invalid")),
    # the fetch
    Row("txt_without_policy_no_host", obs(host_status=DnsStatus.NXDOMAIN, policy=None), INV, None,
        UNREACHABLE),
    *(Row(f"unreachable_{e}", obs(policy=failed(e)), INV, None, UNREACHABLE) for e in TRANSPORT),
    Row("policy_host_servfail_with_txt", obs(host_status=DnsStatus.SERVFAIL,
                                             policy=failed(FetchError.NO_ADDRESS)), ERR,
        reason="mta-sts A: SERVFAIL: servfail after 3 tries"),
    Row("policy_host_timeout_with_txt", obs(host_status=DnsStatus.TIMEOUT,
                                            policy=failed(FetchError.NO_ADDRESS)), ERR,
        reason="mta-sts A: TIMEOUT: timeout after 3 tries"),
    Row("policy_host_timeout_with_txt_no_fetch", obs(host_status=DnsStatus.TIMEOUT, policy=None),
        ERR, reason="mta-sts A: TIMEOUT"),
    Row("policy_host_timeout_with_invalid_txt", obs(sts=(*STS, *STS),
                                                    host_status=DnsStatus.TIMEOUT, policy=None),
        ERR, reason="mta-sts A: TIMEOUT"),
    Row("policy_http_error", obs(policy=fetch(b"nope", status=404, content_type="text/html")), INV,
        None, ("txt_without_policy", "policy_http_error")),
    Row("policy_http_200_only", obs(policy=fetch(status=204)), INV, None,
        ("txt_without_policy", "policy_http_error")),
    Row("policy_redirect", obs(policy=fetch(b"", status=301, location="https://x.test/")), INV,
        None, ("txt_without_policy", "policy_redirect")),
    Row("policy_too_large", obs(policy=fetch(body() + b"#" * POLICY_MAX_BYTES, truncated=True)),
        INV, None, ("txt_without_policy", "policy_too_large")),
    Row("policy_too_large_untruncated", obs(policy=fetch(body() + b"x: y\n" * 14000)), INV, None,
        ("txt_without_policy", "policy_too_large")),
    Row("cert_expired", obs(policy=failed(FetchError.CERT_EXPIRED)), INV, None,
        ("txt_without_policy", "policy_cert_expired")),
    Row("cert_untrusted", obs(policy=failed(FetchError.CERT_UNTRUSTED)), INV, None,
        ("txt_without_policy", "policy_cert_untrusted")),
    Row("cert_invalid", obs(policy=failed(FetchError.CERT_INVALID)), INV, None,
        ("txt_without_policy", "policy_cert_untrusted")),
    Row("cert_name_mismatch", obs(policy=failed(FetchError.CERT_NAME_MISMATCH)), INV, None,
        ("txt_without_policy", "policy_cert_name_mismatch")),
    # the policy content
    Row("policy_without_txt", obs(sts=()), INV, "enforce", ("policy_without_txt",)),
    Row("policy_without_txt_nodata", obs(sts=(), sts_status=DnsStatus.NOERROR), INV, "enforce",
        ("policy_without_txt",)),
    Row("published_policy_with_errors_without_txt", obs(sts=(), policy=fetch(body(mx=()))), INV,
        "enforce", ("policy_without_txt", "policy_invalid")),
    Row("policy_invalid", obs(policy=fetch(body(mx=()))), INV, "enforce",
        ("txt_without_policy", "policy_invalid")),
    Row("policy_invalid_mode", obs(policy=fetch(body("Enforce"))), INV, None,
        ("txt_without_policy", "policy_invalid")),
    Row("policy_html_with_txt", obs(policy=HTML), INV, None,
        ("txt_without_policy", "policy_invalid", "policy_content_type", "policy_not_a_policy")),
    Row("max_age_out_of_range", obs(policy=fetch(body(max_age="31557601"))), INV, "enforce",
        ("txt_without_policy", "policy_invalid", "max_age_out_of_range")),
    Row("max_age_not_digits", obs(policy=fetch(body(max_age="-1"))), INV, "enforce",
        ("txt_without_policy", "policy_invalid", "max_age_out_of_range")),
    Row("max_age_short", obs(policy=fetch(body(max_age="3600"))), E, "enforce",
        ("max_age_short",)),
    Row("max_age_zero", obs(policy=fetch(body("none", mx=(), max_age="0"))), N, "none",
        ("max_age_short",)),
    Row("max_age_one_day", obs(policy=fetch(body(max_age="86400"))), E, "enforce"),
    Row("content_type_html", obs(policy=fetch(content_type="text/html")), E, "enforce",
        ("policy_content_type",)),
    Row("content_type_missing", obs(policy=fetch(content_type=None)), E, "enforce",
        ("policy_content_type",)),
    Row("content_type_parameters", obs(policy=fetch(content_type="Text/Plain; charset=utf-8")),
        E, "enforce"),
    # MX consistency
    Row("mx_not_in_policy", obs(mx=(MX1, "mx2.example.test")), E, "enforce",
        ("mx_not_in_policy",)),
    Row("policy_mx_unused", obs(policy=fetch(body(mx=(MX1, "old.example.test")))), E, "enforce",
        ("policy_mx_unused",)),
    Row("mx_wildcard", obs(mx=(MX1, "MX2.example.test"),
                           policy=fetch(body(mx=("*.example.test",)))), E, "enforce"),
    Row("mx_wildcard_one_label_only", obs(mx=("a.b.example.test",), policy=fetch(
        body(mx=("*.example.test",)))), E, "enforce", ("mx_not_in_policy", "policy_mx_unused")),
    Row("mx_mismatch_testing", obs(mx=("other.test",), policy=fetch(body("testing"))), T,
        "testing", ("mx_not_in_policy", "policy_mx_unused")),
    Row("mx_mismatch_none_ignored", obs(mx=("other.test",), policy=fetch(body("none"))), N,
        "none"),
    Row("mx_lookup_failed_skips_checks", obs(mx=("other.test",), mx_status=DnsStatus.SERVFAIL),
        E, "enforce"),
    Row("no_mx", obs(mx=()), E, "enforce", ("no_mx",)),
    Row("null_mx", obs(mx=("",)), E, "enforce", ("no_mx",)),
    Row("no_mx_nxdomain", obs(mx=(), mx_status=DnsStatus.NXDOMAIN), E, "enforce", ("no_mx",)),
    Row("no_mx_without_policy", obs(mx=(), policy=None), INV, None, (*UNREACHABLE, "no_mx")),
    Row("no_mx_absent_ignored", no_txt(mx=()), A),
    # TLS-RPT
    Row("enforce_without_tlsrpt", obs(tlsrpt=()), E, "enforce", ("enforce_without_tlsrpt",)),
    Row("testing_without_tlsrpt", obs(tlsrpt=(), policy=fetch(body("testing"))), T, "testing",
        ("testing_without_tlsrpt",)),
    Row("none_without_tlsrpt", obs(tlsrpt=(), policy=fetch(body("none"))), N, "none"),
    Row("invalid_without_tlsrpt", obs(tlsrpt=(), sts=(*STS, *STS)), INV, "enforce",
        ("txt_multiple",)),
    Row("tlsrpt_lookup_failed", obs(tlsrpt=(), tlsrpt_status=DnsStatus.SERVFAIL), E, "enforce"),
    Row("tlsrpt_invalid", obs(tlsrpt=(("v=TLSRPTv1; rua=ftp://r.example.test",),)), E, "enforce",
        ("enforce_without_tlsrpt", "tlsrpt_invalid")),
    Row("tlsrpt_unrelated_on_absent", no_txt(tlsrpt=(("v=spf1 -all",),)), A),
    Row("tlsrpt_unrelated_on_enforce", obs(tlsrpt=(("v=spf1 -all",),)), E, "enforce",
        ("enforce_without_tlsrpt",)),
    Row("tlsrpt_wrong_case_on_absent", no_txt(tlsrpt=(("v=tlsrptv1; rua=mailto:a@b.test",),)), A,
        None, ("tlsrpt_invalid",)),
    Row("tlsrpt_other_version_on_absent", no_txt(tlsrpt=((" V=TLSRPTv2; rua=mailto:a@b.test",),)),
        A, None, ("tlsrpt_invalid",)),
    Row("tlsrpt_other_record_discarded", obs(tlsrpt=(("v=spf1 -all",), *TLSRPT)), E, "enforce"),
    Row("tlsrpt_multiple", obs(tlsrpt=(*TLSRPT, *TLSRPT), policy=fetch(body("testing"))), T,
        "testing", ("testing_without_tlsrpt", "tlsrpt_multiple")),
    # SMTP
    Row("mx_starttls_missing", obs(smtp=(probe(FetchError.STARTTLS_NOT_SUPPORTED, False),)), E,
        "enforce", ("mx_starttls_missing",)),
    Row("mx_cert_invalid", obs(smtp=(probe(FetchError.CERT_NAME_MISMATCH),
                                     probe(FetchError.CERT_EXPIRED))), E, "enforce",
        ("mx_cert_invalid",)),
    Row("mx_connection_failure_not_a_mistake", obs(smtp=(probe(FetchError.CONNECTION_REFUSED,
                                                               None), probe(None))), E, "enforce"),
    # issue 15: what real policies get wrong, and senders reading them differently
    Row("policy_not_a_policy", obs(policy=fetch(b"v=STSv1; id=2026a\n")), INV, None,
        ("txt_without_policy", "policy_invalid", "policy_not_a_policy")),
    Row("policy_blank_lines", obs(policy=fetch(body() + b"\n")), INV, "enforce",
        ("txt_without_policy", "policy_invalid", "policy_blank_lines", "senders_disagree")),
    Row("policy_indented_lines", obs(policy=fetch(body().replace(b"\nmx", b"\n\tmx"))), INV,
        "enforce", ("txt_without_policy", "policy_invalid", "policy_indented_lines",
                    "senders_disagree")),
    Row("policy_duplicate_fields", obs(policy=fetch(body() + b"mode: none\n")), E, "enforce",
        ("policy_duplicate_fields", "senders_disagree")),
    Row("mx_trailing_dot", obs(policy=fetch(body(mx=(MX1 + ".",)))), INV, "enforce",
        ("txt_without_policy", "policy_invalid", "mx_not_in_policy", "policy_mx_unused",
         "mx_trailing_dot", "senders_disagree")),
    Row("mx_wildcard_provider", obs(policy=fetch(body(mx=(MX1, "*.outlook.com")))), E, "enforce",
        ("policy_mx_unused", "mx_wildcard_provider")),
    Row("mx_submission_host", obs(policy=fetch(body(mx=(MX1, "smtp.gmail.com")))), E, "enforce",
        ("policy_mx_unused", "mx_submission_host")),
    Row("senders_agree_on_a_clean_policy", obs(), E, "enforce"),
    # many at once, in MISTAKES order
    Row("order", obs(sts=(*STS, *STS), tlsrpt=(("v=TLSRPTv1",),), mx=(MX1, "b.example.test"),
                     policy=fetch(body(mx=(MX1, "c.example.test"), max_age="60"),
                                  content_type=None),
                     smtp=(probe(FetchError.CERT_UNTRUSTED),)), INV, "enforce",
        ("txt_multiple", "policy_content_type", "max_age_short", "mx_not_in_policy",
         "policy_mx_unused", "tlsrpt_invalid", "mx_cert_invalid")),
    *DANE_ROWS,
)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_table(row: Row) -> None:
    verdict = classify(row.obs)
    mistakes = verdict.mistakes
    if "senders_disagree" not in row.mistakes:  # rows that are about the split declare it
        mistakes = tuple(c for c in mistakes if c != "senders_disagree")
    assert (verdict.status, verdict.mode, mistakes) == (row.status, row.mode, row.mistakes)
    assert verdict.grade is GRADE_OF_STATUS[row.status]
    if row.reason is None:
        assert verdict.error_reason is None and row.status is not ERR
    else:
        assert verdict.error_reason == row.reason or (
            verdict.error_reason or "").startswith(row.reason + ": ")


def test_row_names_are_unique() -> None:
    assert len({r.name for r in ROWS}) == len(ROWS)


def test_every_status_and_non_longitudinal_code_has_a_row() -> None:
    """A new mistake code or status without a row here fails CI."""
    expected = {code for row in ROWS for code in row.mistakes}
    assert expected == {code for code, m in MISTAKES.items() if not m.longitudinal}
    assert {r.status for r in ROWS} == set(Status)


def test_grades() -> None:
    grades = {row.status: classify(row.obs).grade for row in ROWS}
    assert grades == {E: Grade.PASS, T: Grade.WARN, N: Grade.FAIL, A: Grade.FAIL,
                      INV: Grade.FAIL, ERR: None}


def assert_error(verdict: Verdict, reason: str) -> None:
    assert verdict == Verdict(Status.ERROR, None, None, (), verdict.error_reason)
    assert verdict.error_reason is not None and verdict.error_reason.startswith(reason)


@pytest.mark.parametrize("status", FAILURES)
def test_sts_lookup_failure_is_an_error_never_absent(status: DnsStatus) -> None:
    for shape in (obs(sts_status=status), no_txt(sts_status=status)):
        verdict = classify(shape)
        assert_error(verdict, f"_mta-sts TXT: {status}")
    assert "after 3 tries" in (classify(obs(sts_status=status)).error_reason or "")


@pytest.mark.parametrize("status", FAILURES)
@pytest.mark.parametrize("sts", [(), STS, (*STS, *STS), (("v=STSv2",),), (("v=spf1 -all",),)],
                         ids=["no_txt", "txt", "txt_multiple", "txt_invalid", "unrelated_txt"])
def test_policy_host_lookup_failure_is_an_error_with_or_without_txt(
        status: DnsStatus, sts: tuple[tuple[str, ...], ...]) -> None:
    """A resolver failure is ours: never absent, nor policy_unreachable (--retry-errors)."""
    for sts_status in (DnsStatus.NXDOMAIN, DnsStatus.NOERROR) if not sts else (None,):
        for policy in (None, failed(FetchError.NO_ADDRESS)):
            shape = obs(sts=sts, sts_status=sts_status, host_status=status, policy=policy)
            assert_error(classify(shape), f"mta-sts A: {status}")


@pytest.mark.parametrize("sts", [(), STS, (("v=spf1 -all",),)])
def test_excluded_policy_host_is_an_error(sts: tuple[tuple[str, ...], ...]) -> None:
    verdict = classify(obs(sts=sts, policy=failed(FetchError.EXCLUDED)))
    assert_error(verdict, "policy host excluded")
    assert verdict.error_reason == "policy host excluded"


def test_failed_lookups_other_than_sts_never_make_an_error() -> None:
    bad = DnsStatus.TIMEOUT
    verdict = classify(obs(mx_status=bad, tlsrpt=(), tlsrpt_status=bad,
                           policy=fetch(body(mx=("elsewhere.test",)))))
    assert verdict == Verdict(E, "enforce", Grade.PASS, ())


def test_absent_never_has_sts_mistakes() -> None:
    sts_codes = {c for c in MISTAKES if not c.startswith("tlsrpt_") and c not in DANE_CODES}
    for row in ROWS:
        if row.status is A:
            assert not sts_codes & set(classify(row.obs).mistakes), row.name


# --- properties over arbitrary observations ------------------------------------------------------

PROFILE = settings(deadline=None, max_examples=300)
UNRELATED = [("v=spf1 -all",), ("",), ("v=DMARC1; p=none",), ("vs=STSv1",), ("sts=v=STSv1",),
             ("google-site-verification=abc",), ("v", "=spf1")]
STS_RECORDS = st.sampled_from([("v=STSv1; id=1",), ("v=STSv1; id=2",), ("v=STSv1;", " id=3"),
                               ("v=STSv1; id=bad!",), ("v=STSv10; id=1",), ("v=stsv1; id=1",),
                               (" v=STSv1; id=1",), ("v=spf1 -all",)])
TLSRPT_RECORDS = st.sampled_from([*TLSRPT, ("v=TLSRPTv1; rua=https://r.example.test/",),
                                  ("v=TLSRPTv1",), ("V=TLSRPTv1; rua=mailto:a@b.test",),
                                  ("v=spf1 -all",)])
HOSTS = st.sampled_from([MX1, "mx2.example.test", "a.b.example.test", "other.test", ""])
BODIES = st.one_of(
    st.builds(body, st.sampled_from(["enforce", "testing", "none", "Enforce"]),
              st.lists(st.sampled_from([MX1, "*.example.test", "old.example.test"]), max_size=3)
              .map(tuple), st.sampled_from(["604800", "3600", "0", "31557601", "x"]),
              st.sampled_from(["STSv1", "STSv2"])),
    st.just(b"<html></html>"), st.binary(max_size=64))
FETCHES = st.one_of(
    st.none(),
    st.sampled_from(list(FetchError)).map(failed),
    st.builds(fetch, BODIES, status=st.sampled_from([200, 200, 200, 301, 404, 500]),
              content_type=st.sampled_from(["text/plain", "text/html", None]),
              truncated=st.booleans()),
)
PROBES = st.builds(probe, st.one_of(st.none(), st.sampled_from(list(FetchError))),
                   st.one_of(st.none(), st.booleans()))


@st.composite
def observations(draw: st.DrawFn) -> DomainObservations:
    statuses = st.sampled_from(list(DnsStatus))
    return obs(sts=tuple(draw(st.lists(STS_RECORDS, max_size=3))), sts_status=draw(statuses),
               tlsrpt=tuple(draw(st.lists(TLSRPT_RECORDS, max_size=2))),
               tlsrpt_status=draw(statuses), mx=tuple(draw(st.lists(HOSTS, max_size=3))),
               mx_status=draw(statuses), host_status=draw(statuses), policy=draw(FETCHES),
               smtp=tuple(draw(st.lists(PROBES, max_size=2))))


SMTP_CODES = {"mx_starttls_missing", "mx_cert_invalid"}
POLICY_FAILURES = {"txt_without_policy", "policy_without_txt", "txt_multiple", "txt_invalid",
                   "policy_invalid", "policy_unreachable", "policy_http_error", "policy_redirect",
                   "policy_too_large", "policy_cert_expired", "policy_cert_untrusted",
                   "policy_cert_name_mismatch", "max_age_out_of_range"}


@pytest.mark.slow
@PROFILE
@given(observations())
def test_verdict_invariants(o: DomainObservations) -> None:
    verdict = classify(o)
    order = list(MISTAKES)
    assert [order.index(c) for c in verdict.mistakes] == sorted(
        {order.index(c) for c in verdict.mistakes})  # known codes, in order, no duplicates
    assert not any(MISTAKES[c].longitudinal for c in verdict.mistakes)
    assert verdict.grade is GRADE_OF_STATUS[verdict.status]
    assert (verdict.status is Status.ERROR) == (verdict.error_reason is not None)
    if o.sts_txt.failed or o.policy_host.failed or verdict.status is Status.ERROR:
        assert verdict.status is Status.ERROR and verdict.mistakes == () and verdict.mode is None
    if verdict.status is A:
        assert not any_attempt(o.sts_txt.txt, STS_ATTEMPT) and verdict.mode is None
        assert set(verdict.mistakes) <= {"tlsrpt_invalid", "tlsrpt_multiple"}
    if verdict.status in (E, T, N):
        assert verdict.mode == verdict.status and not POLICY_FAILURES & set(verdict.mistakes)
    assert classify(o) == verdict


@pytest.mark.slow
@PROFILE
@given(observations(), st.sampled_from(UNRELATED), st.sampled_from(["sts_txt", "tlsrpt_txt"]),
       st.integers(0, 3))
def test_unrelated_records_change_nothing(o: DomainObservations, record: tuple[str, ...],
                                          name: str, at: int) -> None:
    """RFC 8461 §3.1 / RFC 8460 §3: records without the version tag are discarded, unseen."""
    lookup: DnsResult = getattr(o, name)
    assume(not lookup.failed)
    txt = (*lookup.txt[:at], record, *lookup.txt[at:])
    noisy = replace(lookup, status=DnsStatus.NOERROR, rcode=0, txt=txt)
    changed = replace(o, sts_txt=noisy) if name == "sts_txt" else replace(o, tlsrpt_txt=noisy)
    assert classify(changed) == classify(o)


@pytest.mark.parametrize(("text", "start", "expected"), [
    (("v=STSv1; id=1",), STS_ATTEMPT, True), (("v=STSv2",), STS_ATTEMPT, True),
    (("V=stsv1",), STS_ATTEMPT, True), ((" \tv=STSv1",), STS_ATTEMPT, True),
    (("v=", "STSv1"), STS_ATTEMPT, True), (("v=sts",), STS_ATTEMPT, True),
    (("v=st",), STS_ATTEMPT, False), (("v=spf1 -all",), STS_ATTEMPT, False),
    (("v = STSv1",), STS_ATTEMPT, False), (("\nv=STSv1",), STS_ATTEMPT, False),
    (("v=TLSRPTv1",), STS_ATTEMPT, False), (("v=TLSRPTv1",), TLSRPT_ATTEMPT, True),
    (("  v=tlsrptv2",), TLSRPT_ATTEMPT, True), (("v=STSv1",), TLSRPT_ATTEMPT, False),
    ((), STS_ATTEMPT, False)])
def test_any_attempt(text: tuple[str, ...], start: str, expected: bool) -> None:
    records = (text,) if text else ()
    assert any_attempt(records, start) is expected
    assert any_attempt((("v=spf1",), *records, ("",)), start) is expected


@pytest.mark.slow
@PROFILE
@given(observations())
def test_smtp_probes_only_add_smtp_mistakes(o: DomainObservations) -> None:
    with_smtp, without = classify(o), classify(replace(o, smtp=()))
    assert (with_smtp.status, with_smtp.mode) == (without.status, without.mode)
    assert tuple(c for c in with_smtp.mistakes if c not in SMTP_CODES) == without.mistakes


def test_smtp_mistakes_need_mta_sts() -> None:
    bad = (probe(FetchError.STARTTLS_NOT_SUPPORTED, False), probe(FetchError.CERT_EXPIRED))
    assert classify(no_txt(smtp=bad)) == Verdict(A, None, Grade.FAIL, ())
    assert classify(obs(sts=(("v=STSv2",),), smtp=bad)).mistakes == (
        "txt_invalid", "mx_starttls_missing", "mx_cert_invalid")
