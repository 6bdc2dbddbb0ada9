"""The unit-test vectors of deployed MTA-STS implementations, replayed on the project's profiles.

Each vector is an input from an implementation's own test suite with the outcome that suite
asserts, and its source (repository @ commit, file, test). Its implementation's profile must
reproduce the outcome. The RFC's profile (``rfc8461``, the verdict ``status`` gives) must too,
unless the vector names the profile entry (``differs_by``, a knob of ``SenderProfile``) by which
the project parts from that implementation by design; the test checks that the knob's values
do differ. A vector ``gap`` is a behaviour no knob models yet (senders_research.md, NEW KNOBS):
the test pins that the profile does not reproduce it, so modelling it later shows up here.

Outcomes are ``SenderOutcome.effect``: for a TXT record, what a sender does with a valid policy
behind it (``enforce`` or ``ignored``); for a policy body, served 200 ``text/plain`` under a
valid record, the mode applied or ``ignored``; for an MX match, ``match`` / ``no_match``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest

from survey.core.outcomes import sender_outcome
from survey.core.policy import mx_matches
from survey.core.senders import RFC8461, profile
from tests.core.test_outcomes import obs

MOX = "mjl-/mox@1c9587665b32 mtasts/"
GO = "foxcpp/go-mtasts@1438da2e5932 mtasts_test.go: "
CHQ = "albertito/chasquid@ca2538b9745a internal/sts/sts_test.go: "
PMSR = "Snawoot/postfix-mta-sts-resolver@a000619e838f tests/"
STW = "stalwartlabs/mail-server@55e62a683048 tests/src/smtp/"
STW_AUTH = "stalwartlabs/mail-auth@0e93300e5c77 src/mta_sts/parse.rs: mta_sts_record_parse"


@dataclass(frozen=True)
class Vector:
    sender: str  # the profile of the implementation whose test this is
    kind: str  # "record", "policy", "match" or "fetch"
    data: object  # the record, the body, (pattern, host), or (status, content type, body)
    expected: str  # the outcome the implementation's test asserts
    source: str
    differs_by: str | None = None  # the knob by which rfc8461 parts from the implementation
    gap: str | None = None  # a behaviour no knob models yet


def outcome(sender: str, v: Vector) -> str:
    p = RFC8461 if sender == "rfc8461" else profile(sender)
    if v.kind == "record":
        assert isinstance(v.data, str)
        return sender_outcome(p, obs(txt=((v.data,),))).effect
    if v.kind == "policy":
        assert isinstance(v.data, bytes)
        return sender_outcome(p, obs(body=v.data)).effect
    if v.kind == "fetch":
        status, content_type, body = cast(tuple[int, str, bytes], v.data)
        return sender_outcome(p, obs(status=status, content_type=content_type, body=body)).effect
    pattern, host = cast(tuple[str, str], v.data)
    return "match" if mx_matches(pattern, host, p) else "no_match"


def _mox_records() -> list[Vector]:
    src = MOX + "parse_test.go: TestRecord "
    good = ["v=STSv1; id=20160831085700Z;", "v=STSv1; \t id=20160831085700Z  \t;",
            "v=STSv1; id=a", "v=STSv1; id=a; more=a; ext=2"]
    bad = ["v=STSv0", "v=STSv10", "v=STSv2", "v=STSv1", "v=STSv1;", "v=STSv1; ext=1",
           "v=STSv1; id=", "v=STSv1; id=012345678901234567890123456789012",
           "v=STSv1; id=test-123", "v=STSv1; id=a; more=",
           "v=STSv1; id=a; a12345678901234567890123456789012=1", "v=STSv1; id=a; 1%=a",
           "v=STSv1; id=a; test==", "v=STSv1; id=a;;"]
    return ([Vector("mox", "record", r, "enforce", src + "good") for r in good]
            + [Vector("mox", "record", r, "ignored", src + "bad") for r in bad])


_MOX_BAD_POLICIES = [
    b"", b"version:STSv0\nmode:none\nmax_age:0", b"version:STSv10\nmode:none\nmax_age:0",
    b"version:STSv2\nmode:none\nmax_age:0", b"version:STSv1\nmax_age:0\nmx:example.com",
    b"version:STSv1\nmode:none", b"version:STSv1\nmax_age:0\nmode:enforce",
    b"version:STSv1\nmax_age:0\nmode:testing", b"max_age:0\nmode:none",
    b"version:STSv1\nmode:none\nmax_age:01234567890", b"version:STSv1\nmode:bad\nmax_age:1",
    b"version:STSv1\nmode:none\nmax_age:a", b"version:STSv1\nmode:enforce\nmax_age:0\nmx:",
    b"version:STSv1\nmode:enforce\nmax_age:0\nmx:*.*.example",
    b"version:STSv1\nmode:enforce\nmax_age:0\nmx:**.example",
    b"version:STSv1\nmode:enforce\nmax_age:0\nmx:**.example-",
    b"version:STSv1\nmode:enforce\nmax_age:0\nmx:test.example-",
    b"version:STSv1\nmode:none\nmax_age:0\next:",
    b"version:STSv1\nmode:none\nmax_age:0\na12345678901234567890123456789012:123",
    b"version:STSv1\nmode:none\nmax_age:0\n_bad:test",
    "version:STSv1\nmode:none\nmax_age:0\nmx: møx.example".encode(),
]


def _mox_policies() -> list[Vector]:
    src = MOX + "parse_test.go: TestParsePolicy "
    good = [(b"version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\n"
             b"mx: mx.backup-example.com\nmax_age: 1296000\n", "testing"),
            (b"version: STSv1\nmode: enforce\t\nmx: *.example.com \nmax_age: 0 \n", "enforce"),
            (b"version:STSv1\r\nmode:\tenforce\r\nmx:  \t\t *.example.com\nmax_age: 1\n"
             b"more:ext e  ns ion", "enforce")]
    return ([Vector("mox", "policy", b, mode, src + "good") for b, mode in good]
            + [Vector("mox", "policy", b, "ignored", src + "bad") for b in _MOX_BAD_POLICIES])


def _mox_matches() -> list[Vector]:
    src = MOX + "mtasts_test.go: TestMatches"
    cases = [("a.example", "a.example", "match"), ("*.b.example", "sub.b.example", "match"),
             ("*.b.example", "b.example", "no_match"),
             ("*.b.example", "sub.sub.b.example", "no_match"), ("a.example", "other", "no_match")]
    return [Vector("mox", "match", (p, h), e, src) for p, h, e in cases]


def _go_records() -> list[Vector]:
    src = GO + "TestReadDNSRecord"
    bad = ["", "v=STSv1", "id=foo", "unrelated=foo", "syntax error",
           "v=STSv2;id=foo;include=foo.com"]
    # readDNSRecord rejects WSP or a second '=' inside any field (knob txt_value_wsp)
    wsp = ["v=STSv1;    id=foo include=foo.com", "v=STSv1;    id=foo include"]
    good = ["v=STSv1  ;    id=foo", "v=STSv1  ;    id=foo; unrelated=1"]
    return ([Vector("go-mtasts", "record", r, "ignored", src) for r in bad + wsp]
            + [Vector("go-mtasts", "record", r, "enforce", src) for r in good])


def _go_policies() -> list[Vector]:
    src = GO + "TestReadPolicy"
    bad = [b"version: STSv2", b"version: STSv1", b"max_age: 8600", b"version: STSv1\nmax_age: 8600",
           b"version: STSv1\nmax_age:", b"version: STSv1\n: 8600",
           b"version: STSv1\nmode: invalid_value", b"version: STSv1\nmode none",
           b"version: STSv1\nmode: none", b"version: STSv1\nmax_age: 8600\nmode: enforce"]
    good = [(b"version: STSv1\nmax_age: 8600\nmode:none", "none"),
            (b"version: STSv1\nmax_age: 8600\nmode: enforce\nmx: mx0.example.org\n"
             b"mx: *.example.org", "enforce")]
    return ([Vector("go-mtasts", "policy", b, "ignored", src) for b in bad]
            + [Vector("go-mtasts", "policy", b, m, src) for b, m in good])


def _go_matches() -> list[Vector]:
    src = GO + "TestPolicyMatch"
    cases = [("example.org", "example.org.", "match", None),
             ("example.org", "example.org", "match", None),
             ("*.example.org", "mx0.example.org", "match", None),
             ("*.example.org", "without-dots", "no_match", None),
             ("special.example.org", "special.example.org", "match", None),
             ("*.example.org", "mx0.special.example.org", "no_match", None),
             ("*.special.example.org", "mx0.special.example.org", "match", None),
             ("*.example.org", "unrelated.org", "no_match", None),
             ("ñaca.com", "ñaca.com", "match", "idna"),
             ("ñaca.com", "Ñaca.com", "match", "idna"),
             ("Ñaca.com", "ñaca.com", "match", "idna"),
             ("x.xn--aca-6ma.com", "x.ñaca.com", "match", "idna"),
             ("x.xn--aca-6ma.com", "x.naca.com", "no_match", None),
             ("xn-9999999999a.org", "example.org", "no_match", None)]
    return [Vector("go-mtasts", "match", (p, h), e, src, differs_by=d) for p, h, e, d in cases]


def _chasquid() -> list[Vector]:
    match = CHQ + "TestMatchDomain"
    cases = [("lalala", "lalala", "match", None), ("a.b", "a.b.", "match", None),
             ("a.b.", "a.b", "match", "mx_trailing_dot"), ("*.com", "abc.com", "match", None),
             ("abc.*.com", "abc.com", "no_match", None), ("x.abc.com", "abc.com", "no_match", None),
             ("*.*.com", "x.abc.com", "no_match", None),
             ("abc.*.com", "abc.def.com", "no_match", None),
             ("ñaca.com", "ñaca.com", "match", "idna"), ("ñaca.com", "Ñaca.com", "match", "idna"),
             ("Ñaca.com", "ñaca.com", "match", "idna"),
             ("x.xn--aca-6ma.com", "x.ñaca.com", "match", "idna"),
             ("x.xn--aca-6ma.com", "x.naca.com", "no_match", None),
             ("*.example.com", "mail.example.com", "match", None),
             ("*.example.com", "example.com", "no_match", None),
             ("*.example.com", "foo.bar.example.com", "no_match", None),
             (".aa.b.cc.com", "aa.b.cc.com", "no_match", None),
             (".aa.b.cc.com", "zz.aa.b.cc.com", "no_match", None),
             ("*.aa.b.cc.com", "zz.aa.b.cc.com", "match", None)]
    vectors = []
    for p, h, e, why in cases:
        vectors.append(Vector("chasquid", "match", (p, h), e, match, differs_by=why))
    fetch = CHQ + "TestFetch / TestParsePolicy (pol1) "
    indented = (b"\n             version: STSv1\n             mode: enforce\n"
                b"             mx: *.mail.domain.com\n             max_age: 3600\n        \n")
    version99 = (b"\n             version: STSv99\n             mode: enforce\n"
                 b"             mx: *.mail.version99\n             max_age: 999\n        \n")
    check = CHQ + "TestCheckPolicy (the Policy structs, written as policy text) "
    valid = [(b"version: STSv1\nmode: enforce\nmax_age: 3600\nmx: mx1\nmx: mx2\n", "enforce"),
             (b"version: STSv1\nmode: testing\nmax_age: 3600\nmx: mx1\n", "testing"),
             (b"version: STSv1\nmode: none\nmax_age: 3600\nmx: mx1\n", "none"),
             (b"version: STSv1\nmode: none\nmax_age: 31557600\nmx: mx1\n", "none")]
    invalid = [b"version: STSv2\n", b"version: STSv1\n",
               b"version: STSv1\nmax_age: 31557601\n", b"version: STSv1\nmax_age: 1\nmode: blah\n",
               b"version: STSv1\nmax_age: 1\nmode: enforce\n"]
    return (vectors
            + [Vector("chasquid", "policy", indented, "enforce", fetch + "domain.com",
                      differs_by="indented_lines"),
               Vector("chasquid", "policy", version99, "ignored", fetch + "version99")]
            + [Vector("chasquid", "policy", b, m, check + "validPs") for b, m in valid]
            + [Vector("chasquid", "policy", b, "ignored", check + "invalid") for b in invalid])


def _pmsr() -> list[Vector]:
    utils = PMSR + "test_utils.py: test_parse_mta_sts_record + resolver.py: STSResolver.resolve"
    records = [("v=STSv1; id=20160831085700Z;", None), ("v=STSv1;id=20160831085700Z;", None),
               ("v=STSv1; id=20160831085700Z", None), ("v=STSv1;id=20160831085700Z", None),
               ("v=STSv1;        id=20160831085700Z   ", "txt_trailing_wsp"),
               ("v=STSv1; id=20160831085700Z;;;", "txt_empty_field")]
    vectors = [Vector("postfix-mta-sts-resolver", "record", r, "enforce", utils, differs_by=d)
               for r, d in records]
    vectors += [Vector("postfix-mta-sts-resolver", "record", r, "ignored", utils)
                for r in ("", "   ", " ;   ;  ")]
    dns = PMSR + "dnsmasq.conf.appendix + test_resolver.py: test_resolve_status "
    vectors += [Vector("postfix-mta-sts-resolver", "record", r, "ignored", dns + name)
                for name, r in (("bad-record1", "id=20180907T090909; v=STSv1;"),
                                ("bad-record2", "azazaza;asdasdasdasd"),
                                ("bad-record3", "v=STSv12;id=20180907T090909;"))]
    web = PMSR + "nginx.conf + test_resolver.py: test_resolve_status "
    good = b"version: STSv1\nmode: enforce\nmx: mail.loc\nmax_age: 86400"
    fetches = [
        ("good", 200, "text/plain", good, "enforce", None),
        ("bad-policy1", 200, "text/plain", b"garbage", "ignored", None),
        ("bad-policy2", 200, "text/plain", b"version: STSv1\nmode: enforce\nmax_age: 86400",
         "ignored", None),
        ("bad-policy3", 200, "text/html", good, "ignored", "content_type"),
        ("bad-policy4", 404, "text/plain", good, "ignored", None),
        ("bad-policy5", 200, "text/plain", good.replace(b"86400", b"xxx"), "ignored", None),
        ("bad-policy6", 200, "text/plain", good.replace(b"86400", b"31557601"), "ignored", None),
        ("bad-policy7", 200, "text/plain", b"version: STSv1\nmx: mail.loc\nmax_age: 86400",
         "ignored", None),
        ("bad-policy8", 200, "text/plain", good.replace(b"enforce", b"doubt"), "ignored", None),
        ("valid-none", 200, "text/plain", b"version: STSv1\nmode: none\nmax_age: 86400", "none",
         None),
        ("testing", 200, "text/plain", b"version: STSv1\nmode: testing\nmax_age: 86400\n"
         b"mx: mail.loc\n", "testing", None),
    ]
    vectors += [Vector("postfix-mta-sts-resolver", "fetch", (s, ct, b), e, web + name,
                       differs_by=d) for name, s, ct, b, e, d in fetches]
    return vectors


def _stalwart() -> list[Vector]:
    parse = STW + "lookup/utils.rs: parse_policy"
    outbound = STW + "outbound/mta_sts.rs: mta_sts_verify "
    policies = [(b"version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
                 b"mx: backupmx.example.com\nmax_age: 604800", "enforce"),
                (b"version: STSv1\nmode: testing\nmx: gmail-smtp-in.l.google.com\n"
                 b"mx: *.gmail-smtp-in.l.google.com\nmax_age: 86400\n", "testing")]
    return ([Vector("stalwart", "policy", b, m, parse) for b, m in policies]
            + [Vector("stalwart", "policy", b"", "ignored", outbound + "(No 'mx' entries found)")]
            + [Vector("stalwart", "record", r, "enforce", STW_AUTH)
               for r in ("v=STSv1; id=20160831085700Z;", "v=STSv1; id=20190429T010101")]
            + [Vector("stalwart", "record", "v=STSv1; id=policy_will_fail;", "enforce",
                      outbound + "(MtaSts::parse of the test's record)",
                      differs_by="txt_id_syntax")]
            + [Vector("stalwart", "match", (p, "mx.foobar.org"), e, outbound + why)
               for p, e, why in (("mail.foobar.net", "no_match", "(not authorized by policy)"),
                                 ("*.foobar.org", "match", "(policy_will_work)"))])


VECTORS = (_mox_records() + _mox_policies() + _mox_matches() + _go_records() + _go_policies()
           + _go_matches() + _chasquid() + _pmsr() + _stalwart())


def _id(v: Vector) -> str:
    return f"{v.sender}-{v.kind}-{v.data!r}"[:90]


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_the_implementation_profile_reproduces_its_test(v: Vector) -> None:
    if v.gap is None:
        assert outcome(v.sender, v) == v.expected, v.source
    else:  # a known gap: modelling it makes this fail, then the vector loses its gap
        assert outcome(v.sender, v) != v.expected, (v.gap, v.source)


@pytest.mark.parametrize("v", VECTORS, ids=_id)
def test_the_rfc_profile_agrees_or_differs_by_a_named_knob(v: Vector) -> None:
    rfc = outcome("rfc8461", v)
    if v.differs_by is None:
        if v.gap is None:
            assert rfc == v.expected, v.source
        return
    assert rfc != v.expected, (v.differs_by, v.source)
    assert RFC8461.knob(v.differs_by) != profile(v.sender).knob(v.differs_by), v.differs_by


def test_at_least_three_implementations_and_every_source_named() -> None:
    assert len({v.sender for v in VECTORS}) >= 3
    assert all(v.source and "@" in v.source for v in VECTORS)
