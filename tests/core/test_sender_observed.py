"""What the implementations' own code did on constructed inputs, replayed on their profiles.

Unlike test_sender_vectors (inputs from the implementations' test suites), these outcomes were
observed by running each implementation's own function, built outside this repository on
2026-12-03 (none of their code is here), on inputs made to probe the knobs: mox
``ParseRecord`` (mjl-/mox@1c9587665b32), go-mtasts ``readDNSRecord`` and ``Policy.Match``
(foxcpp/go-mtasts@1438da2e5932), chasquid ``hasSTSRecord`` and ``matchDomain``
(albertito/chasquid@ca2538b9745a), Stalwart ``MtaSts::parse`` (stalwartlabs/mail-auth@0e93300),
mailauth ``resolvePolicy`` and ``validateMx`` (postalsys/mailauth@d2616c6bee77, punycode.js
2.3.1), postfix-mta-sts-resolver 1.5.1 ``parse_mta_sts_record`` with ``STSResolver.resolve``'s
record checks. A record's outcome is E (a policy is applied) or I (no record); a match is
y/n, ``-`` where not observed (mailauth gets MX hosts without the trailing dot).
"""

from __future__ import annotations

import pytest

from survey.core.outcomes import sender_outcome
from survey.core.policy import mx_matches
from survey.core.senders import profile
from tests.core.test_outcomes import obs

RECORD_SENDERS = ("mox", "go-mtasts", "chasquid", "stalwart", "mailauth",
                  "postfix-mta-sts-resolver")
MATCH_SENDERS = ("go-mtasts", "chasquid", "mailauth")

RECORDS = [  # record, then what mox, go-mtasts, chasquid, stalwart, mailauth, pmsr did
    ('v=STSv1; id=a ', 'I E E E E E'),
    ('v=STSv1 ;id=a', 'E E I E E E'),
    ('v=STSv1; id=a; id=b', 'I E E E E E'),
    ('v=STSv1; id=a;;', 'I E E E E E'),
    ('v=STSv1; id=test-123', 'I E E E E E'),
    ('v=STSv1; id=', 'I I E E I E'),
    ('v=STSv1;', 'I I E I I I'),
    ('id=a; v=STSv1', 'I E I E I I'),
    ('v=STSv1; id=a; x', 'I I E E E E'),
    ('v=STSv1; id=a; _x=1', 'I E E E E E'),
    ('v=STSv1; id=a; x=', 'I E E E E E'),
    ('v=STSv1', 'I I I I I I'),
    ('v=STSv10; id=a', 'I I I I I I'),
    ('v=STSv1;id=a', 'E E E E E E'),
    ('v=STSv1; id=20160831085700Z;', 'E E E E E E'),
    ('V=STSv1; id=a', 'I I I E E I'),
    ('v=stsv1; id=a', 'I I I E E I'),
    (' v=STSv1; id=a', 'I E I E E I'),
    ('v=STSv1;\tid=a\t;', 'E E E E E E'),
    ('v=STSv1; id=a b', 'I I E E E E'),
]

MATCHES = [  # pattern, host, then whether go-mtasts, chasquid, mailauth matched
    ('a.example', 'a.example', 'yyy'),
    ('*.b.example', 'sub.b.example', 'yyy'),
    ('*.b.example', 'b.example', 'nnn'),
    ('*.b.example', 'sub.sub.b.example', 'nny'),
    ('a.example', 'other', 'nnn'),
    ('example.org', 'example.org.', 'yy-'),
    ('example.org', 'example.org', 'yyy'),
    ('*.example.org', 'mx0.example.org', 'yyy'),
    ('*.example.org', 'without-dots', 'nnn'),
    ('special.example.org', 'special.example.org', 'yyy'),
    ('*.example.org', 'mx0.special.example.org', 'nny'),
    ('*.special.example.org', 'mx0.special.example.org', 'yyy'),
    ('*.example.org', 'unrelated.org', 'nnn'),
    ('ñaca.com', 'ñaca.com', 'yyn'),
    ('ñaca.com', 'Ñaca.com', 'yyn'),
    ('Ñaca.com', 'ñaca.com', 'yyn'),
    ('x.xn--aca-6ma.com', 'x.ñaca.com', 'yyy'),
    ('x.xn--aca-6ma.com', 'x.naca.com', 'nnn'),
    ('xn-9999999999a.org', 'example.org', 'nnn'),
    ('lalala', 'lalala', 'yyy'),
    ('a.b', 'a.b.', 'yy-'),
    ('a.b.', 'a.b', 'yyn'),
    ('*.com', 'abc.com', 'yyy'),
    ('abc.*.com', 'abc.com', 'nnn'),
    ('x.abc.com', 'abc.com', 'nnn'),
    ('*.*.com', 'x.abc.com', 'nnn'),
    ('abc.*.com', 'abc.def.com', 'nnn'),
    ('*.example.com', 'mail.example.com', 'yyy'),
    ('*.example.com', 'example.com', 'nnn'),
    ('*.example.com', 'foo.bar.example.com', 'nny'),
    ('.aa.b.cc.com', 'aa.b.cc.com', 'nnn'),
    ('.aa.b.cc.com', 'zz.aa.b.cc.com', 'nnn'),
    ('*.aa.b.cc.com', 'zz.aa.b.cc.com', 'yyy'),
    ('mail.foobar.net', 'mx.foobar.org', 'nnn'),
    ('*.foobar.org', 'mx.foobar.org', 'yyy'),
    ('*.example.com', 'a.b.example.com', 'nny'),
    ('*.example.com', 'a.example.com', 'yyy'),
    ('mail.example.com.', 'mail.example.com', 'yyn'),
    ('mail.example.com', 'mail.example.com.', 'yy-'),
    ('MAIL.Example.COM', 'mail.example.com', 'yyy'),
    ('*.EXAMPLE.com', 'x.example.com', 'yyy'),
    ('ñaca.com', 'xn--aca-6ma.com', 'yyn'),
    ('xn--aca-6ma.com', 'ñaca.com', 'yyy'),
    ('*.ñaca.com', 'mx.xn--aca-6ma.com', 'yyn'),
    ('*.xn--aca-6ma.com', 'mx.ñaca.com', 'yyy'),
    ('mx.ÑACA.com', 'mx.ñaca.com', 'yyn'),
    ('*.*.example.com', 'a.b.example.com', 'nnn'),
    ('a.*.example.com', 'a.b.example.com', 'nnn'),
    ('', 'example.com', 'nnn'),
    ('*.', 'x', 'nnn'),
    ('mail_1.example.com', 'mail_1.example.com', 'yyy'),
    ('*.example.com.', 'a.example.com', 'yyn'),
    ('*.example.com', 'a.example.com.', 'yy-'),
    ('*.mail.protection.outlook.com', 'contoso-com.mail.protection.outlook.com', 'yyy'),
    ('example.com', 'EXAMPLE.COM', 'yyy'),
    ('-bad.example.com', '-bad.example.com', 'yyy'),
]


@pytest.mark.parametrize(("record", "seen"), RECORDS, ids=[r for r, _ in RECORDS])
def test_each_profile_reads_the_record_as_its_implementation_did(record: str, seen: str) -> None:
    for sender, outcome in zip(RECORD_SENDERS, seen.split(" "), strict=True):
        effect = sender_outcome(profile(sender), obs(txt=((record,),))).effect
        assert effect == ("enforce" if outcome == "E" else "ignored"), (sender, record)


@pytest.mark.parametrize(("pattern", "host", "seen"), MATCHES,
                         ids=[f"{p}~{h}" for p, h, _ in MATCHES])
def test_each_profile_matches_as_its_implementation_did(pattern: str, host: str,
                                                        seen: str) -> None:
    for sender, outcome in zip(MATCH_SENDERS, seen, strict=True):
        if outcome != "-":
            assert mx_matches(pattern, host, profile(sender)) is (outcome == "y"), sender


def test_the_observations_are_many_and_varied() -> None:
    assert len(RECORDS) >= 20 and len(MATCHES) >= 50
    assert len({seen for _, seen in RECORDS}) >= 10  # the implementations part ways often
