"""The test internet's scenario catalogue: one named domain per behaviour worth measuring.

Every status, every mistake ``classify`` can find and every DNS fault the scanner must survive
has a scenario here, with the verdict docs/classification.md gives it (``Scenario.expect``, for
a scan without ``--smtp``; ``SMTP_EXTRA_MISTAKES`` adds what ``--smtp`` finds). End-to-end tests
scan these domains on loopback and compare; tests/core/test_catalogue.py checks the expectations
against the classifier without servers. Slow faults (tarpits, drips, DNS timeouts) appear once
each, since each costs the scanner one deadline.

Names are unique snake_case; the domain is the name with dashes under ``.test`` (RFC 2606), e.g.
``policy_redirect`` -> ``policy-redirect.test``. Every name a scenario uses (MX hosts, CNAME
targets) lies under its own domain.

DNSSEC and DANE (issue 16): every scenario also has a ``DaneExpectation`` (``Scenario.dane``):
the DANE scenarios state theirs, written from RFC 7672, RFC 7671, RFC 6698 and RFC 8461 §2 (see
each entry's notes); the others get ``default_dane``: an unsigned domain, so no DANE, and a
sender implementing both does what MTA-STS alone says. Their DANE mistakes are kept apart from
``expect.mistakes`` (``Expectation`` is the MTA-STS verdict); ``mistakes_of`` joins them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from survey.sim.scenario import (
    CertKind,
    DaneExpectation,
    DnsFault,
    Dnssec,
    Expectation,
    HttpsFault,
    MxHost,
    PolicyHost,
    Scenario,
    SmtpBehaviour,
    Tlsa,
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
NOT_A_POLICY = ("txt_without_policy", "policy_invalid", "policy_not_a_policy")
HTML = b"<!doctype html><html><body>Welcome to nginx!</body></html>\n"


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    expect: Expectation
    build: Callable[[str], Scenario]
    notes: str = ""
    dane: Callable[[str], DaneExpectation] | None = None  # None: ``default_dane``


#: (sender_mechanism, sender_protection) of a sender implementing DANE and MTA-STS.
DANE_AUTHENTICATED = ("dane", "authenticated")
DANE_DEFERRED = ("dane", "deferred")
STS_AUTHENTICATED = ("mta-sts", "authenticated")
NO_PROTECTION = ("none", "none")
#: TLSA association data that matches no key of the test internet (a retired key's digest).
RETIRED_KEY = "a3f1c2d4e5b60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00"


def _signed(d: str, *hosts: MxHost, mode: str | None = "enforce") -> Scenario:
    """A DNSSEC-signed domain whose MX hosts are ``hosts`` (default: ``mx1`` with DANE-EE
    ``3 1 1`` of its key) with TLS-RPT and, unless ``mode`` is None, an MTA-STS policy listing
    every host."""
    hosts = hosts or (MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1),)),)
    if mode is None:
        return Scenario(d, mx=hosts, tlsrpt_txt=_tlsrpt(d), dnssec=Dnssec.SECURE)
    listed = () if mode == "none" else tuple(h.name for h in hosts)
    return Scenario(d, mx=hosts, sts_txt=_sts(), tlsrpt_txt=_tlsrpt(d),
                    policy_host=PolicyHost(body=policy_body(mode, listed)), dnssec=Dnssec.SECURE)


def _usable(*hosts: str, smtp: str = "valid", sender: tuple[str, str] = DANE_AUTHENTICATED,
            **more: Any) -> Callable[[str], DaneExpectation]:
    """DANE usable at every host (``mx1`` when none is named): ``--smtp`` finds ``smtp``."""
    def expect(d: str) -> DaneExpectation:
        names = tuple(f"{h}.{d}" for h in hosts or ("mx1",))
        return DaneExpectation("usable", usable=names, smtp_dane=tuple((h, smtp) for h in names),
                               sender=sender, **more)
    return expect


def _dane(dane: str | None, *mistakes: str, usable: tuple[str, ...] = (),
          sender: tuple[str, str] | None = DANE_AUTHENTICATED,
          **more: Any) -> Callable[[str], DaneExpectation]:
    def expect(d: str) -> DaneExpectation:
        names = tuple(f"{h}.{d}" for h in usable)
        return DaneExpectation(dane, frozenset(mistakes), usable=names,
                               smtp_dane=tuple((h, "valid") for h in names), sender=sender,
                               **more)
    return expect


_ENTRIES: tuple[_Entry, ...] = (
    # --- statuses ------------------------------------------------------------------------------
    _Entry("enforce_ok", _ok("enforce"), _good),
    _Entry("testing_ok", _ok("testing"), lambda d: _good(d, "testing")),
    _Entry("none_ok", _ok("none", "senders_disagree"), lambda d: _good(d, "none"),
           "mode none needs no mx line (chasquid and Stalwart want one: senders_disagree)"),
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
    _Entry("dns_sts_other_records", _ok("enforce", "senders_disagree"),
           lambda d: replace(_good(d), sts_txt=(("google-site-verification=abc",), *_sts(),
                                                ("v=spf1 -all",))),
           "records not starting with v=STSv1 are discarded (go-mtasts counts them)"),
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
    _Entry("txt_multiple", _invalid("enforce", "txt_multiple", "senders_disagree"),
           lambda d: replace(_good(d), sts_txt=(*_sts(), *_sts("20261129T2")))),
    _Entry("txt_invalid_id", _invalid("enforce", "txt_invalid", "senders_disagree"),
           lambda d: replace(_good(d), sts_txt=_sts("2026-11-29"))),
    _Entry("txt_invalid_version", _invalid("enforce", "txt_invalid"),
           lambda d: replace(_good(d), sts_txt=((f"v=STSv10; id={STS_ID}",),)),
           "no record starts with v=STSv1 (v=STSv10 is another version)"),
    _Entry("txt_space_before_semicolon", _ok("enforce", "senders_disagree"),
           lambda d: replace(_good(d), sts_txt=((f"v=STSv1 ; id={STS_ID}",),)),
           "accepted (erratum 6285, docs/classification.md Decisions); chasquid does not"),
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
    _Entry("policy_too_large", _invalid(None, "txt_without_policy", "policy_too_large",
                                        "senders_disagree"),
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
           _invalid(None, "txt_without_policy", "policy_invalid", "policy_content_type",
                    "policy_not_a_policy"),
           lambda d: _good(d, body=HTML, content_type="text/html")),
    _Entry("policy_crlf", _ok("enforce"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}",), newline="\r\n"))),
    _Entry("policy_content_type", _ok("enforce", "policy_content_type", "senders_disagree"),
           lambda d: _good(d, content_type="application/octet-stream")),
    _Entry("policy_content_type_missing",
           _ok("enforce", "policy_content_type", "senders_disagree"),
           lambda d: _good(d, content_type=None)),
    _Entry("policy_content_type_charset", _ok("enforce"),
           lambda d: _good(d, content_type="text/plain; charset=utf-8")),
    _Entry("max_age_out_of_range", _invalid("enforce", "txt_without_policy", "policy_invalid",
                                            "max_age_out_of_range", "senders_disagree"),
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
    _Entry("tlsrpt_multiple", _ok("none", "tlsrpt_multiple", "senders_disagree"),
           lambda d: replace(_good(d, "none"), tlsrpt_txt=(
               *_tlsrpt(d), (f"v=TLSRPTv1; rua=https://reports.{d}/tlsrpt",)))),
    # --- issue 15: what real policies get wrong; senders that read them differently ------------
    _Entry("policy_rtf", _invalid(None, *NOT_A_POLICY, "policy_content_type"),
           lambda d: _good(d, body=b"{\\rtf1\\ansi\\deff0 version: STSv1\\par mode: enforce}",
                           content_type="application/rtf"),
           "a policy saved from a word processor"),
    _Entry("policy_dns_record", _invalid(None, *NOT_A_POLICY),
           lambda d: _good(d, body=f"v=STSv1; id={STS_ID}\n".encode()),
           "the TXT record's text served as the policy"),
    _Entry("policy_prose", _invalid(None, *NOT_A_POLICY),
           lambda d: _good(d, body=b"This domain enforces TLS for inbound mail.\n")),
    _Entry("policy_blank_lines",
           _invalid("enforce", "txt_without_policy", "policy_invalid", "policy_blank_lines",
                    "senders_disagree"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}",)) + b"\n"),
           "a second line break at the end: the ABNF has no empty line; mox and go-mtasts "
           "reject it, the others skip it"),
    _Entry("policy_indented_lines",
           _invalid("enforce", "txt_without_policy", "policy_invalid", "policy_indented_lines",
                    "senders_disagree"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}",)).replace(
               b"\nmx:", b"\n  mx:")),
           "chasquid, Stalwart and mailauth trim the line; the RFC's letter and mox reject it"),
    _Entry("policy_duplicate_fields",
           _ok("enforce", "policy_duplicate_fields", "senders_disagree"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}",)) + b"mode: testing\n"),
           "the first mode applies (RFC 8461 §3.2, mox); most senders keep the last"),
    _Entry("mx_trailing_dot",
           _invalid("enforce", "txt_without_policy", "policy_invalid", "mx_trailing_dot",
                    "mx_not_in_policy", "policy_mx_unused", "senders_disagree"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}.",))),
           "an invalid pattern matches nothing; go-mtasts and chasquid strip the dot"),
    _Entry("mx_wildcard_provider", _ok("enforce", "mx_wildcard_provider", "policy_mx_unused"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}", "*.google.com"))),
           "*.google.com covers hosts directly under google.com, none of Google's MX hosts"),
    _Entry("mx_submission_host", _ok("enforce", "mx_submission_host", "policy_mx_unused"),
           lambda d: _good(d, body=policy_body("enforce", (f"mx1.{d}", "smtp.office365.com"))),
           "Microsoft's client submission host, never an MX"),
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
    # --- DNSSEC and DANE (issue 16; docs/classification.md) ------------------------------------
    _Entry("dane_usable", _ok("enforce"), _signed,
           "secure MX, DANE-EE 3 1 1 of the host's key: a sender with both uses DANE where the "
           "TLSA RRset is secure (RFC 7672 §2.2; RFC 8461 §2)", _usable()),
    _Entry("dane_only", ABSENT, lambda d: _signed(d, mode=None),
           "no MTA-STS: DANE alone authenticates the MX host", _usable()),
    _Entry("dane_ta", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(2, 1, 1),))),
           "DANE-TA 2 1 1 of the issuing CA, which the host presents in its chain "
           "(RFC 7671 §5.2.2)", _usable()),
    _Entry("dane_selectors_and_types", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 0, 2),)),
                             MxHost(f"mx2.{d}", 20, tlsa=(Tlsa(3, 1, 0),))),
           "3 0 2 (SHA-512 of the whole certificate) and 3 1 0 (the key itself): RFC 6698 "
           "§2.1.2-2.1.3", _usable("mx1", "mx2")),
    _Entry("dane_ee_expired_certificate", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", cert=CertKind.EXPIRED,
                                       tlsa=(Tlsa(3, 1, 1),))),
           "DANE-EE ignores the certificate's names and dates (RFC 7672 §3.1.1): DANE passes "
           "where MTA-STS enforce fails (mx_cert_invalid with --smtp), so they conflict",
           _usable(smtp_mistakes=frozenset({"dane_sts_conflict"}))),
    _Entry("dane_mismatch", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1, RETIRED_KEY),))),
           "the TLSA record names a retired key: usable, but the presented chain fails it "
           "(--smtp), so DANE senders defer mail that MTA-STS would deliver; RFC 8461 §2: a "
           "valid MTA-STS validation must not override a failing DANE one",
           _usable(smtp="mismatch", smtp_mistakes=frozenset({"dane_mismatch",
                                                             "dane_sts_conflict"}),
                   smtp_sender=DANE_DEFERRED)),
    _Entry("dane_ta_wrong_name", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", cert=CertKind.WRONG_NAME,
                                       tlsa=(Tlsa(2, 1, 1),))),
           "DANE-TA requires the name checks DANE-EE skips (RFC 7672 §3.2.2): the chain "
           "matches the trust anchor but names another host; both mechanisms fail, no conflict",
           _usable(smtp="mismatch", smtp_mistakes=frozenset({"dane_mismatch"}),
                   smtp_sender=DANE_DEFERRED)),
    _Entry("dane_pkix_beside_dane_ee", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1), Tlsa(0, 1, 1)))),
           "a PKIX-TA record beside a DANE-EE one is ignored, not a mistake (RFC 7672 §3.1.3)",
           _usable()),
    _Entry("tlsa_unusable_usage", ABSENT,
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(1, 1, 1),)), mode=None),
           "PKIX-EE only: SMTP senders treat PKIX-TA/PKIX-EE as unusable (RFC 7672 §3.1.3); a "
           "secure non-empty TLSA RRset still makes TLS mandatory, unauthenticated (§2.2)",
           _dane("partial", "tlsa_unusable_usage", sender=("dane", "encrypted"))),
    _Entry("tlsa_partial", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1),)),
                             MxHost(f"mx2.{d}", 20)),
           "mx2 has no TLSA: DANE for mx1, MTA-STS enforce for mx2 (RFC 8461 §2: partial DANE "
           "deployments), so every host is authenticated",
           _dane("partial", "tlsa_partial", usable=("mx1",))),
    _Entry("tlsa_partial_without_sts", ABSENT,
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1),)),
                             MxHost(f"mx2.{d}", 20), mode=None),
           "mx2 has neither DANE nor MTA-STS: the domain is as protected as its weakest host",
           _dane("partial", "tlsa_partial", usable=("mx1",), sender=("dane", "none"))),
    _Entry("tlsa_partial_insecure_host", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1),)),
                             MxHost(f"mx2.{d}", 20, tlsa=(Tlsa(3, 1, 1),),
                                    dnssec=Dnssec.INSECURE)),
           "a backup MX in an unsigned zone publishes TLSA: ignored there (RFC 7672 §2.2), "
           "MTA-STS enforce covers it",
           _dane("partial", "tlsa_partial", "tlsa_insecure", usable=("mx1",))),
    _Entry("tlsa_insecure", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1),),
                                       dnssec=Dnssec.INSECURE)),
           "signed domain, MX host in an unsigned zone with TLSA records: senders ignore them "
           "(RFC 7672 §2.2), MTA-STS applies", _dane("insecure", "tlsa_insecure",
                                                     sender=STS_AUTHENTICATED)),
    _Entry("dane_unsigned_zone", _ok("enforce"),
           lambda d: replace(_good(d), mx=(MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1),)),)),
           "TLSA in an unsigned zone: the MX answer is insecure, so a default scan (--tlsa "
           "secure) does not look (RFC 7672 §2.2.1: DANE needs a secure MX RRset)",
           _dane("none", sender=STS_AUTHENTICATED)),
    _Entry("dnssec_signed_without_tlsa", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}")),
           "signed, no TLSA: MTA-STS alone", _dane("none", sender=STS_AUTHENTICATED)),
    _Entry("dnssec_sts_cname_insecure", _ok("enforce"),
           lambda d: replace(_signed(d, MxHost(f"mx1.{d}")), sts_cname=f"sts-record.{d}",
                             dnssec_names=((f"sts-record.{d}", Dnssec.INSECURE),)),
           "a secure name CNAMEd into an unsigned zone: the TXT answer is insecure",
           _dane("none", sender=STS_AUTHENTICATED)),
    _Entry("tlsa_bogus", _ok("enforce"),
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1),),
                                       tlsa_dnssec=Dnssec.BOGUS)),
           "a broken signature on the TLSA RRset: DANE senders defer (RFC 7672 §2.1.1) mail "
           "MTA-STS would deliver (RFC 8461 §2)",
           _dane("bogus", "tlsa_bogus", "dane_sts_conflict", sender=DANE_DEFERRED)),
    _Entry("dnssec_mx_host_bogus", ABSENT,
           lambda d: _signed(d, MxHost(f"mx1.{d}", tlsa=(Tlsa(3, 1, 1),),
                                       dnssec=Dnssec.BOGUS), mode=None),
           "the MX host's address and TLSA records are bogus: DANE senders defer",
           _dane("bogus", "tlsa_bogus", sender=DANE_DEFERRED)),
    _Entry("dnssec_mx_bogus", ABSENT,
           lambda d: replace(_signed(d, MxHost(f"mx1.{d}"), mode=None),
                             dnssec_names=((d, Dnssec.BOGUS),)),
           "a broken signature on the MX RRset: validating senders cannot tell where to "
           "deliver and must wait (RFC 7672 §2.1.1)",
           _dane("bogus", "dnssec_bogus", sender=DANE_DEFERRED)),
    _Entry("dnssec_sts_bogus", _invalid("enforce", "policy_without_txt"),
           lambda d: replace(_signed(d, MxHost(f"mx1.{d}")),
                             dnssec_names=((f"_mta-sts.{d}", Dnssec.BOGUS),)),
           "a broken signature on the _mta-sts TXT: a validating sender gets SERVFAIL, finds "
           "no record and delivers as without MTA-STS (RFC 8461 §5.1); the scan judges what "
           "such a sender sees: a policy without its TXT record",
           _dane("none", "dnssec_bogus", sender=NO_PROTECTION)),
    _Entry("dnssec_policy_host_bogus", _invalid(None, *UNREACHABLE),
           lambda d: replace(_signed(d, MxHost(f"mx1.{d}")),
                             dnssec_names=((f"mta-sts.{d}", Dnssec.BOGUS),)),
           "a broken signature on the policy host's address: a validating sender cannot fetch "
           "the policy and delivers as without MTA-STS (RFC 8461 §5.1)",
           _dane("none", "dnssec_bogus", sender=NO_PROTECTION)),
    _Entry("dnssec_tlsrpt_bogus", _ok("enforce"),
           lambda d: replace(_signed(d, MxHost(f"mx1.{d}")),
                             dnssec_names=((f"_smtp._tls.{d}", Dnssec.BOGUS),)),
           "only the TLS-RPT record is bogus: the tlsrpt_dnssec column says so; no MTA-STS or "
           "DANE mistake (like a failed TLS-RPT lookup, enforce_without_tlsrpt is not claimed)",
           _dane("none", sender=STS_AUTHENTICATED)),
)

#: Scenario name -> the mistakes a scan with ``--smtp`` finds on top of ``expect.mistakes``.
SMTP_EXTRA_MISTAKES: dict[str, frozenset[str]] = {
    "dane_ee_expired_certificate": frozenset({"mx_cert_invalid"}),
    "dane_ta_wrong_name": frozenset({"mx_cert_invalid"}),
    "mx_no_starttls": frozenset({"mx_starttls_missing"}),
    "mx_cert_expired": frozenset({"mx_cert_invalid"}),
    "mx_cert_wrong_name": frozenset({"mx_cert_invalid"}),
    "mx_cert_self_signed": frozenset({"mx_cert_invalid"}),
}


def catalogue() -> tuple[Scenario, ...]:
    """Every scenario, named, with its expectation (without ``--smtp``), in a stable order."""
    out = []
    for e in _ENTRIES:
        d = domain_of(e.name)
        sc = replace(e.build(d), name=e.name, expect=e.expect, notes=e.notes)
        out.append(replace(sc, dane=e.dane(d) if e.dane else default_dane(sc)))
    return tuple(out)


_STS_SENDER = {"enforce": STS_AUTHENTICATED, "testing": ("mta-sts", "testing")}
_MX_FAILURES = frozenset({DnsFault.SERVFAIL, DnsFault.REFUSED, DnsFault.TIMEOUT})


def default_dane(sc: Scenario) -> DaneExpectation:
    """An unsigned domain's: ``dane`` is ``none``, as DANE cannot apply where the MX answer is
    not secure (RFC 7672 §2.2.1), and null when the MX lookup fails; the sender does what
    MTA-STS says (RFC 8461 §5.1: a policy that cannot be found or fetched is as none), unknown
    when the MX lookup fails or the MTA-STS status is ``error``."""
    if sc.expect is None:
        raise ValueError(f"scenario {sc.name!r} has no expectation")
    if sc.fault_for(sc.domain) in _MX_FAILURES:
        return DaneExpectation(None, sender=None)
    if sc.expect.status == "error":
        return DaneExpectation("none", sender=None)
    return DaneExpectation("none", sender=_STS_SENDER.get(sc.expect.status, NO_PROTECTION))


def dane_with_smtp(scenario: Scenario) -> DaneExpectation:
    """The DANE expectation of a scan with ``--smtp``."""
    dane = scenario.dane or default_dane(scenario)
    return replace(dane, mistakes=dane.mistakes | dane.smtp_mistakes,
                   sender=dane.sender if dane.smtp_sender is None else dane.smtp_sender)


def mistakes_of(scenario: Scenario, *, smtp: bool = False) -> frozenset[str]:
    """Every mistake code a scan must report for ``scenario``: MTA-STS's and DANE's."""
    if smtp:
        return expectation_with_smtp(scenario).mistakes | dane_with_smtp(scenario).mistakes
    if scenario.expect is None:
        raise ValueError(f"scenario {scenario.name!r} has no expectation")
    return scenario.expect.mistakes | (scenario.dane or default_dane(scenario)).mistakes


def expectation_with_smtp(scenario: Scenario) -> Expectation:
    """The expectation of a scan with ``--smtp``."""
    if scenario.expect is None:
        raise ValueError(f"scenario {scenario.name!r} has no expectation")
    extra = SMTP_EXTRA_MISTAKES.get(scenario.name, frozenset())
    return replace(scenario.expect, mistakes=scenario.expect.mistakes | extra)
