"""The test internet's scenario catalogue: one named domain per behaviour worth measuring.

Every status, every mistake ``classify`` can find and every DNS fault the scanner must survive
has a scenario here, with the verdict docs/classification.md gives it (``Scenario.expect``, for
a scan without ``--smtp``; ``SMTP_EXTRA_MISTAKES`` adds what ``--smtp`` finds). End-to-end tests
scan these domains on loopback and compare; tests/test_catalogue.py checks the expectations
against the classifier without servers. Slow faults (tarpits, drips, DNS timeouts) appear once
each, since each costs the scanner one deadline.

Names are unique snake_case; the domain is the name with dashes under ``.test`` (RFC 2606), e.g.
``policy_redirect`` -> ``policy-redirect.test``. Every name a scenario uses (MX hosts, CNAME
targets) lies under its own domain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from survey.sim.scenario import (
    CertKind,
    DnsFault,
    Expectation,
    HttpsFault,
    MxHost,
    PolicyHost,
    Scenario,
    SmtpBehaviour,
)

TLD = "test"
#: End-to-end scans must put this prefix on their exclusion list: ``policy_host_excluded``
#: points its policy host into it, and the scan must report ``error`` without connecting.
EXCLUDED_PREFIX = "127.254.0.0/16"
EXCLUDED_ADDRESS = "127.254.0.1"
STS_ID = "20261129T1"
#: Size of the ``policy_too_large`` body: over the 64 KiB cap senders read.
LARGE_POLICY_BYTES = 70 * 1024


def domain_of(name: str) -> str:
    return f"{name.replace('_', '-')}.{TLD}"


def policy_body(mode: str, mx: tuple[str, ...], max_age: str = "604800",
                newline: str = "\n") -> bytes:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    return newline.join([*lines, ""]).encode()


def _sts(record_id: str = STS_ID) -> tuple[tuple[str, ...], ...]:
    return ((f"v=STSv1; id={record_id}",),)


def _tlsrpt(d: str) -> tuple[tuple[str, ...], ...]:
    return ((f"v=TLSRPTv1; rua=mailto:tlsrpt@{d}",),)


def _good(d: str, mode: str = "enforce", **host: Any) -> Scenario:
    """A correct domain: one MX host, the TXT record, a policy listing the host, TLS-RPT.

    ``host`` overrides fields of its ``PolicyHost``.
    """
    mx = () if mode == "none" else (f"mx1.{d}",)
    return Scenario(domain=d, mx=(MxHost(f"mx1.{d}"),), sts_txt=_sts(), tlsrpt_txt=_tlsrpt(d),
                    policy_host=PolicyHost(**{"body": policy_body(mode, mx), **host}))


def _mx(d: str, *hosts: MxHost) -> Scenario:
    return replace(_good(d), mx=hosts)


def _ok(mode: str, *mistakes: str) -> Expectation:
    return Expectation(mode, mode, frozenset(mistakes))


def _invalid(mode: str | None, *mistakes: str) -> Expectation:
    return Expectation("invalid", mode, frozenset(mistakes))


ERROR = Expectation("error")
ABSENT = Expectation("absent")
UNREACHABLE = ("txt_without_policy", "policy_unreachable")
HTML = b"<!doctype html><html><body>Welcome to nginx!</body></html>\n"


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    expect: Expectation
    build: Callable[[str], Scenario]
    notes: str = ""


_ENTRIES: tuple[_Entry, ...] = (
    # --- statuses ------------------------------------------------------------------------------
    _Entry("enforce_ok", _ok("enforce"), _good),
    _Entry("testing_ok", _ok("testing"), lambda d: _good(d, "testing")),
    _Entry("none_ok", _ok("none"), lambda d: _good(d, "none"), "mode none needs no mx line"),
    _Entry("absent_nothing", ABSENT, lambda d: Scenario(d, mx=(MxHost(f"mx1.{d}"),))),
    _Entry("absent_tlsrpt_only", ABSENT,
           lambda d: Scenario(d, mx=(MxHost(f"mx1.{d}"),), tlsrpt_txt=_tlsrpt(d))),
    _Entry("absent_wildcard_web", ABSENT,
           lambda d: replace(_good(d), sts_txt=(), policy_host=PolicyHost(
               body=HTML, content_type="text/html")),
           "no TXT, mta-sts.<d> serves a web page: noise, not a mistake"),
    _Entry("absent_unrelated_txt", ABSENT,
           lambda d: Scenario(d, mx=(MxHost(f"mx1.{d}"),), sts_txt=(("v=spf1 -all",),),
                              tlsrpt_txt=(("v=spf1 -all",),)),
           "a wildcard *.<d> TXT answers at both names: discarded, not txt/tlsrpt_invalid"),
    # --- DNS faults ----------------------------------------------------------------------------
    _Entry("dns_sts_nodata", ABSENT,
           lambda d: replace(_good(d), sts_txt=(), policy_host=None,
                             dns_faults=((f"_mta-sts.{d}", DnsFault.NODATA),))),
    _Entry("dns_sts_servfail", ERROR,
           lambda d: replace(_good(d), dns_faults=((f"_mta-sts.{d}", DnsFault.SERVFAIL),))),
    _Entry("dns_sts_refused", ERROR,
           lambda d: replace(_good(d), dns_faults=((f"_mta-sts.{d}", DnsFault.REFUSED),))),
    _Entry("dns_sts_timeout", ERROR,
           lambda d: replace(_good(d), dns_faults=((f"_mta-sts.{d}", DnsFault.TIMEOUT),)),
           "the only DNS timeout: costs one resolver deadline"),
    _Entry("dns_sts_cname_loop", ERROR,
           lambda d: replace(_good(d), dns_faults=((f"_mta-sts.{d}", DnsFault.CNAME_LOOP),))),
    _Entry("dns_policy_host_servfail", ERROR,
           lambda d: replace(_good(d), sts_txt=(),
                             dns_faults=((f"mta-sts.{d}", DnsFault.SERVFAIL),)),
           "no TXT and the policy host lookup fails: absent or policy_without_txt is unknowable"),
    _Entry("dns_policy_host_servfail_with_txt", ERROR,
           lambda d: replace(_good(d), dns_faults=((f"mta-sts.{d}", DnsFault.SERVFAIL),)),
           "a resolver failure is ours, not policy_unreachable: --retry-errors re-probes it"),
    _Entry("dns_sts_truncated", _ok("enforce"),
           lambda d: replace(_good(d), dns_faults=((f"_mta-sts.{d}", DnsFault.TRUNCATE),)),
           "UDP answer truncated: the scanner must retry over TCP"),
    _Entry("dns_sts_multi_string", _ok("enforce"),
           lambda d: replace(_good(d), sts_txt=(("v=STSv1;", " id=", STS_ID),)),
           "one record in three character-strings, concatenated without separator"),
    _Entry("dns_sts_other_records", _ok("enforce"),
           lambda d: replace(_good(d), sts_txt=(("google-site-verification=abc",), *_sts(),
                                                ("v=spf1 -all",))),
           "records not starting with v=STSv1 are discarded"),
    _Entry("dns_sts_cname", _ok("enforce"),
           lambda d: replace(_good(d), sts_cname=f"sts-record.{d}")),
    _Entry("dns_policy_host_cname_chain", _ok("enforce"),
           lambda d: _good(d, cname_chain=(f"alias.{d}", f"sts.provider.{d}")),
           "certificate for mta-sts.<d>, served at the end of the chain"),
    _Entry("dns_policy_host_nxdomain", _invalid(None, *UNREACHABLE),
           lambda d: replace(_good(d), policy_host=None,
                             dns_faults=((f"mta-sts.{d}", DnsFault.NXDOMAIN),))),
    _Entry("dns_mx_servfail", _ok("enforce"),
           lambda d: replace(_mx(d, MxHost(f"mx9.{d}")), dns_faults=((d, DnsFault.SERVFAIL),)),
           "MX lookup fails: MX checks are skipped (mx9 is not in the policy), not an error"),
    _Entry("dns_tlsrpt_servfail", _ok("enforce"),
           lambda d: replace(_good(d), dns_faults=((f"_smtp._tls.{d}", DnsFault.SERVFAIL),)),
           "TLS-RPT lookup fails: enforce_without_tlsrpt is not claimed"),
    # --- the TXT record ------------------------------------------------------------------------
    _Entry("policy_without_txt", _invalid("enforce", "policy_without_txt"),
           lambda d: replace(_good(d), sts_txt=())),
    _Entry("txt_multiple", _invalid("enforce", "txt_multiple"),
           lambda d: replace(_good(d), sts_txt=(*_sts(), *_sts("20261129T2")))),
    _Entry("txt_invalid_id", _invalid("enforce", "txt_invalid"),
           lambda d: replace(_good(d), sts_txt=_sts("2026-11-29"))),
    _Entry("txt_invalid_version", _invalid("enforce", "txt_invalid"),
           lambda d: replace(_good(d), sts_txt=((f"v=STSv10; id={STS_ID}",),)),
           "no record starts with v=STSv1 (v=STSv10 is another version)"),
    _Entry("txt_space_before_semicolon", _ok("enforce"),
           lambda d: replace(_good(d), sts_txt=((f"v=STSv1 ; id={STS_ID}",),)),
           "accepted (erratum 6285, docs/classification.md Decisions)"),
    # --- the policy fetch ----------------------------------------------------------------------
    _Entry("txt_without_policy", _invalid(None, *UNREACHABLE),
           lambda d: replace(_good(d), policy_host=None)),
    _Entry("policy_refused", _invalid(None, *UNREACHABLE),
           lambda d: _good(d, fault=HttpsFault.REFUSED)),
    _Entry("policy_tarpit", _invalid(None, *UNREACHABLE),
           lambda d: _good(d, fault=HttpsFault.TARPIT), "costs one fetch deadline"),
    _Entry("policy_slow_drip", _invalid(None, *UNREACHABLE),
           lambda d: _good(d, fault=HttpsFault.SLOW_DRIP),
           "one byte a second: the fetch deadline passes first; costs one deadline"),
    _Entry("policy_endless_body", _invalid(None, "txt_without_policy", "policy_too_large"),
           lambda d: _good(d, fault=HttpsFault.ENDLESS_BODY),
           "200 with a body streamed without end as fast as read: the scanner stops after the "
           "cap plus one byte"),
    _Entry("policy_not_found", _invalid(None, "txt_without_policy", "policy_http_error"),
           lambda d: _good(d, status=404, body=HTML, content_type="text/html")),
    _Entry("policy_server_error", _invalid(None, "txt_without_policy", "policy_http_error"),
           lambda d: _good(d, status=500, body=b"oops\n")),
    _Entry("policy_redirect", _invalid(None, "txt_without_policy", "policy_redirect"),
           lambda d: _good(d, status=301, body=b"", location=f"https://www.{d}/mta-sts.txt"),
           "redirects must not be followed"),
    _Entry("policy_too_large", _invalid(None, "txt_without_policy", "policy_too_large"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}",))
                           + b"#" * LARGE_POLICY_BYTES)),
    _Entry("policy_cert_expired", _invalid(None, "txt_without_policy", "policy_cert_expired"),
           lambda d: _good(d, cert=CertKind.EXPIRED)),
    _Entry("policy_cert_self_signed",
           _invalid(None, "txt_without_policy", "policy_cert_untrusted"),
           lambda d: _good(d, cert=CertKind.SELF_SIGNED)),
    _Entry("policy_cert_untrusted_ca",
           _invalid(None, "txt_without_policy", "policy_cert_untrusted"),
           lambda d: _good(d, cert=CertKind.UNTRUSTED_CA)),
    _Entry("policy_cert_wrong_name",
           _invalid(None, "txt_without_policy", "policy_cert_name_mismatch"),
           lambda d: _good(d, cert=CertKind.WRONG_NAME)),
    _Entry("policy_host_excluded", ERROR,
           lambda d: _good(d, address_override=EXCLUDED_ADDRESS),
           f"the scan's exclusion list must hold {EXCLUDED_PREFIX}: never contacted"),
    # --- the policy content --------------------------------------------------------------------
    _Entry("policy_invalid", _invalid("enforce", "txt_without_policy", "policy_invalid"),
           lambda d: _good(d, body=policy_body("enforce", ())), "enforce without any mx line"),
    _Entry("policy_html",
           _invalid(None, "txt_without_policy", "policy_invalid", "policy_content_type"),
           lambda d: _good(d, body=HTML, content_type="text/html")),
    _Entry("policy_crlf", _ok("enforce"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}",), newline="\r\n"))),
    _Entry("policy_content_type", _ok("enforce", "policy_content_type"),
           lambda d: _good(d, content_type="application/octet-stream")),
    _Entry("policy_content_type_missing", _ok("enforce", "policy_content_type"),
           lambda d: _good(d, content_type=None)),
    _Entry("policy_content_type_charset", _ok("enforce"),
           lambda d: _good(d, content_type="text/plain; charset=utf-8")),
    _Entry("max_age_out_of_range", _invalid("enforce", "txt_without_policy", "policy_invalid",
                                            "max_age_out_of_range"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}",), max_age="31557601"))),
    _Entry("max_age_short", _ok("enforce", "max_age_short"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}",), max_age="3600"))),
    # --- MX consistency ------------------------------------------------------------------------
    _Entry("mx_not_in_policy", _ok("enforce", "mx_not_in_policy"),
           lambda d: _mx(d, MxHost(f"mx1.{d}"), MxHost(f"mx2.{d}", 20))),
    _Entry("policy_mx_unused", _ok("enforce", "policy_mx_unused"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}", f"old-mx.{d}")))),
    _Entry("mx_wildcard", _ok("enforce"),
           lambda d: replace(_mx(d, MxHost(f"mx1.{d}"), MxHost(f"mx2.{d}", 20)),
                             policy_host=PolicyHost(body=policy_body("enforce", (f"*.{d}",))))),
    _Entry("mx_wildcard_one_label", _ok("enforce", "mx_not_in_policy", "policy_mx_unused"),
           lambda d: replace(_mx(d, MxHost(f"mx1.eu.{d}")),
                             policy_host=PolicyHost(body=policy_body("enforce", (f"*.{d}",)))),
           "*.<d> matches exactly one label: not mx1.eu.<d>"),
    _Entry("no_mx", _ok("enforce", "no_mx"), lambda d: _mx(d)),
    _Entry("null_mx", _ok("enforce", "no_mx"), lambda d: _mx(d, MxHost("", preference=0)),
           "RFC 7505 null MX: 0 ."),
    # --- TLS-RPT -------------------------------------------------------------------------------
    _Entry("enforce_without_tlsrpt", _ok("enforce", "enforce_without_tlsrpt"),
           lambda d: replace(_good(d), tlsrpt_txt=())),
    _Entry("testing_without_tlsrpt", _ok("testing", "testing_without_tlsrpt"),
           lambda d: replace(_good(d, "testing"), tlsrpt_txt=())),
    _Entry("tlsrpt_invalid", _ok("enforce", "enforce_without_tlsrpt", "tlsrpt_invalid"),
           lambda d: replace(_good(d), tlsrpt_txt=((f"v=TLSRPTv1; rua=ftp://reports.{d}",),))),
    _Entry("tlsrpt_multiple", _ok("none", "tlsrpt_multiple"),
           lambda d: replace(_good(d, "none"), tlsrpt_txt=(
               *_tlsrpt(d), (f"v=TLSRPTv1; rua=https://reports.{d}/tlsrpt",)))),
    # --- SMTP (only with --smtp, see SMTP_EXTRA_MISTAKES) ----------------------------------------
    _Entry("mx_no_starttls", _ok("enforce"),
           lambda d: _mx(d, MxHost(f"mx1.{d}", smtp=SmtpBehaviour.NO_STARTTLS))),
    _Entry("mx_cert_expired", _ok("enforce"),
           lambda d: _mx(d, MxHost(f"mx1.{d}", cert=CertKind.EXPIRED))),
    _Entry("mx_cert_wrong_name", _ok("enforce"),
           lambda d: _mx(d, MxHost(f"mx1.{d}", cert=CertKind.WRONG_NAME))),
    _Entry("mx_cert_self_signed", _ok("enforce"),
           lambda d: _mx(d, MxHost(f"mx1.{d}", cert=CertKind.SELF_SIGNED))),
    _Entry("mx_smtp_refused", _ok("enforce"),
           lambda d: _mx(d, MxHost(f"mx1.{d}", smtp=SmtpBehaviour.REFUSED)),
           "connection failures are recorded, not MTA-STS mistakes"),
    _Entry("mx_smtp_tarpit", _ok("enforce"),
           lambda d: _mx(d, MxHost(f"mx1.{d}", smtp=SmtpBehaviour.TARPIT)),
           "costs one SMTP deadline with --smtp"),
)

#: Scenario name -> the mistakes a scan with ``--smtp`` finds on top of ``expect.mistakes``.
SMTP_EXTRA_MISTAKES: dict[str, frozenset[str]] = {
    "mx_no_starttls": frozenset({"mx_starttls_missing"}),
    "mx_cert_expired": frozenset({"mx_cert_invalid"}),
    "mx_cert_wrong_name": frozenset({"mx_cert_invalid"}),
    "mx_cert_self_signed": frozenset({"mx_cert_invalid"}),
}


def catalogue() -> tuple[Scenario, ...]:
    """Every scenario, named, with its expectation (without ``--smtp``), in a stable order."""
    return tuple(replace(e.build(domain_of(e.name)), name=e.name, expect=e.expect, notes=e.notes)
                 for e in _ENTRIES)


def expectation_with_smtp(scenario: Scenario) -> Expectation:
    """The expectation of a scan with ``--smtp``."""
    if scenario.expect is None:
        raise ValueError(f"scenario {scenario.name!r} has no expectation")
    extra = SMTP_EXTRA_MISTAKES.get(scenario.name, frozenset())
    return replace(scenario.expect, mistakes=scenario.expect.mistakes | extra)
