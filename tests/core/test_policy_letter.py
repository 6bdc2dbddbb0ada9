"""The RFC's letter (issue 15): severities, blank/indented lines, lone CR, the ABNF for names and
values, first-wins duplicates, not-a-policy bodies, and parsers under a sender profile."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.core.policy import (
    MAX_AGE_LIMIT,
    POLICY_ERROR_CODES,
    POLICY_ERROR_SEVERITY,
    STS_RECORD_ERROR_CODES,
    STS_RECORD_ERROR_SEVERITY,
    TLSRPT_RECORD_ERROR_CODES,
    TLSRPT_RECORD_ERROR_SEVERITY,
    ParseSeverity,
    Policy,
    StsRecord,
    TlsRptRecord,
    mx_matches,
    parse_policy,
    parse_sts_record,
    parse_tlsrpt_record,
)
from survey.core.senders import PROFILES, RFC8461, SenderProfile

GOOD = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"


def codes(result: StsRecord | TlsRptRecord | Policy) -> list[str]:
    return [e.code for e in result.errors]


def lenient(**knobs: object) -> SenderProfile:
    return dataclasses.replace(RFC8461, name="test", **knobs)  # type: ignore[arg-type]


def test_every_code_has_a_severity() -> None:
    assert set(POLICY_ERROR_SEVERITY) == POLICY_ERROR_CODES
    assert set(STS_RECORD_ERROR_SEVERITY) == STS_RECORD_ERROR_CODES
    assert set(TLSRPT_RECORD_ERROR_SEVERITY) == TLSRPT_RECORD_ERROR_CODES
    warnings = {c for c, s in POLICY_ERROR_SEVERITY.items() if s is ParseSeverity.WARNING}
    assert warnings == {"duplicate_key", "non_ascii", "colon_in_value"}  # last two: profiles


BODIES = [
    GOOD, GOOD + b"\n", b"\n" + GOOD, GOOD.replace(b"\nmx", b"\n\nmx"), GOOD + b" \n",
    GOOD.replace(b"\nmx", b"\n  mx"), GOOD.replace(b"\n", b"\r"), GOOD + b"mode: testing\n",
    GOOD + b"_x: 1\n", GOOD + b"x:\n", GOOD.replace(b"example.com", b"example.com."),
    GOOD.replace(b"86400", b"99999999"), GOOD.replace(b"max_age: 86400\n", b""),
    b"<html><body>hi</body></html>", b"{\\rtf1\\ansi version: STSv1}", b"v=STSv1; id=1\n",
    b"Hello world\n", b"\xef\xbb\xbf" + GOOD, GOOD + b"comment: caf\xe9\n",
]


@pytest.mark.parametrize("body", BODIES)
def test_rfc_parse_marks_each_error_by_its_severity(body: bytes) -> None:
    p = parse_policy(body)
    for e in p.errors:
        assert e.fatal is (POLICY_ERROR_SEVERITY[e.code] is ParseSeverity.FATAL), e
    assert p.valid is all(POLICY_ERROR_SEVERITY[c] is ParseSeverity.WARNING for c in codes(p))


@pytest.mark.parametrize(("body", "expected"), [
    (GOOD + b"\n", ["blank_line"]),
    (GOOD + b"\r\n", ["blank_line"]),
    (b"\n" + GOOD, ["blank_line"]),
    (GOOD.replace(b"\nmx", b"\n \t\nmx"), ["blank_line"]),
    (GOOD + b"\n\n\n", ["blank_line"]),  # one code per body, however many lines
    (GOOD.removesuffix(b"\n"), []),  # the final line break is optional
])
def test_blank_lines_are_an_error_by_the_letter(body: bytes, expected: list[str]) -> None:
    p = parse_policy(body)
    assert codes(p) == expected
    assert (p.mode, p.mx) == ("enforce", ["mx.example.com"])
    assert parse_policy(body, lenient(blank_lines="skip")).valid
    assert p.valid is (not expected)


def test_indented_lines_read_trimmed_and_fatal_unless_trimmed() -> None:
    body = GOOD.replace(b"\nmx", b"\n  mx").replace(b"\nmax_age", b"\n\tmax_age")
    p = parse_policy(body)
    assert codes(p) == ["indented_line", "indented_line"]
    assert (p.mx, p.max_age) == (["mx.example.com"], 86400)
    assert not p.valid
    assert parse_policy(body, lenient(indented_lines="trim")).valid
    assert [e.fatal for e in parse_policy(body, lenient(indented_lines="unknown")).errors] == [
        None, None]


def test_lone_cr() -> None:
    body = GOOD.replace(b"\n", b"\r")
    p = parse_policy(body)
    assert codes(p) == ["lone_cr"]
    assert p.mode == "enforce"
    assert not p.valid
    assert parse_policy(body, lenient(lone_cr="line_end")).valid
    assert codes(parse_policy(GOOD.replace(b"\n", b"\r\n"))) == []


def test_duplicates_first_wins_as_a_warning() -> None:
    body = GOOD + b"mode: testing\nx: 1\nx: 2\nmode: none\n"
    p = parse_policy(body)
    assert p.valid
    assert p.mode == "enforce" and p.extensions == {"x": "1"}
    assert [(e.code, e.fatal) for e in p.errors] == [("duplicate_key", False)] * 2
    last = parse_policy(body, lenient(duplicate_fields="last"))
    assert last.valid and last.mode == "none" and last.extensions == {"x": "2"}
    assert not parse_policy(body, lenient(duplicate_fields="reject")).valid


def test_field_name_and_extension_value_abnf() -> None:
    for extra, code in ((b"_x: 1\n", "field_name_invalid"), (b"-x: 1\n", "field_name_invalid"),
                        (b"key:\n", "extension_value_invalid")):
        p = parse_policy(GOOD + extra)
        assert codes(p) == [code]
        assert not p.valid
    assert parse_policy(GOOD + b"_x: 1\n", lenient(field_name_abnf="ignore")).valid
    assert parse_policy(GOOD + b"key:\n", lenient(extension_value_abnf="ignore")).valid


def test_max_age_knobs() -> None:
    over = GOOD.replace(b"86400", b"99999999")
    assert not parse_policy(over).valid
    clamp = parse_policy(over, lenient(max_age_over_limit="clamp"))
    assert clamp.valid and clamp.max_age == MAX_AGE_LIMIT
    not_digits = GOOD.replace(b"86400", b"x")
    assert not parse_policy(not_digits, lenient(max_age_over_limit="accept")).valid
    missing = GOOD.replace(b"max_age: 86400\n", b"")
    assert codes(parse_policy(missing)) == ["max_age_missing"]
    assert parse_policy(missing, lenient(missing_max_age="default")).valid


def test_mx_trailing_dot_and_mx_matches_agree() -> None:
    body = GOOD.replace(b"mx.example.com", b"mx.example.com.")
    p = parse_policy(body)
    assert codes(p) == ["mx_trailing_dot"] and not p.valid
    assert not mx_matches("mx.example.com.", "mx.example.com")
    strip = lenient(mx_trailing_dot="strip")
    assert parse_policy(body, strip).valid
    assert mx_matches("mx.example.com.", "mx.example.com", strip)


PATTERN = st.one_of(st.text(max_size=20), st.lists(
    st.sampled_from(["*", "a", "mx", "-", "", "b1", "é", "://x"]), max_size=4).map(".".join))


@pytest.mark.slow
@settings(deadline=None, max_examples=300, database=None)
@given(PATTERN, st.sampled_from(["a.mx", "mx", "a", "x.a.mx", "b1.a", "*.a"]))
def test_an_mx_pattern_parse_policy_rejects_matches_nothing(pattern: str, host: str) -> None:
    if "\n" in pattern or "\r" in pattern:
        return
    p = parse_policy(GOOD + f"mx: {pattern}\n".encode())
    if {"mx_invalid", "mx_trailing_dot"} & set(codes(p)) and p.mx[-1] == pattern.strip(" \t"):
        assert not mx_matches(p.mx[-1], host)


@pytest.mark.parametrize(("body", "code"), [
    (b"<!DOCTYPE html>\n<html><head><title>mta-sts</title></head></html>\n", "body_html"),
    (b"  <?xml version='1.0'?><policy/>", "body_html"),
    (b"{\\rtf1\\ansi\\deff0 version: STSv1\\par mode: enforce}", "body_rtf"),
    (b"v=STSv1; id=20240101T000000\n", "body_dns_record"),
    (b'"v=STSv1; id=1"\n', "body_dns_record"),
    (b"_mta-sts.example.com. 300 IN TXT \"v=STSv1; id=1\"\n", "body_dns_record"),
    (b"example.com. IN MX 10 mx.example.com.\n", "body_dns_record"),
    (b"This is the MTA-STS policy of example.com\n", "body_prose"),
    (b"Not Found\n", "body_prose"),
])
def test_a_body_that_is_no_policy_is_named(body: bytes, code: str) -> None:
    p = parse_policy(body)
    assert code in codes(p)
    assert sum(c.startswith("body_") for c in codes(p)) == 1
    assert not p.valid


def test_a_broken_policy_is_not_called_no_policy() -> None:
    assert not any(c.startswith("body_") for c in codes(parse_policy(b"version: STSv2\n")))
    assert not any(c.startswith("body_") for c in codes(parse_policy(b"mx: a.b\n")))


def test_txt_knobs() -> None:
    assert not parse_sts_record(["v=STSv1; id=1 "]).valid
    assert parse_sts_record(["v=STSv1; id=1 "], lenient(txt_trailing_wsp="accept")).valid
    assert parse_sts_record(["v=STSv1 ; id=1"]).valid
    assert not parse_sts_record(["v=STSv1 ; id=1"],
                                lenient(txt_space_before_semicolon="reject")).valid
    two = ["v=STSv1; id=1; id=2"]
    assert parse_sts_record(two).valid and parse_sts_record(two).id == "1"
    last = parse_sts_record(two, lenient(txt_duplicate_id="last"))
    assert last.valid and last.id == "2"
    assert not parse_sts_record(two, lenient(txt_duplicate_id="reject")).valid
    assert not parse_sts_record(["v=STSv1; id=1; _x=1"]).valid
    assert parse_sts_record(["v=STSv1; id=1; _x=1"], lenient(txt_extension_abnf="ignore")).valid


def test_tlsrpt_trailing_whitespace_is_fatal_and_rua_repeat_is_not() -> None:
    assert not parse_tlsrpt_record(["v=TLSRPTv1; rua=mailto:a@b.c "]).valid
    assert parse_tlsrpt_record(["v=TLSRPTv1; rua=mailto:a@b.c; rua=mailto:d@e.f"]).valid


POLICY_LINES = st.lists(st.one_of(
    st.sampled_from(["version: STSv1", "version: stsv1", "mode: enforce", "mode: Testing",
                     "mode: none", "mx: mx.example.com", "mx: mx.example.com.", "mx: *.*.x",
                     "max_age: 86400", "max_age: 0", "max_age: +5", "max_age: 99999999999",
                     "", "  mx: a.example", "\tmode: none", "---", "_x: 1", "x:", "Mode: enforce",
                     "ext: https://a:b", "# comment: yes", "junk", "caf\u00e9: 1"]),
    st.text(max_size=15)), max_size=10)
BODY = st.tuples(st.sampled_from([b"", b"\xef\xbb\xbf"]), POLICY_LINES,
                 st.sampled_from(["\n", "\r\n", "\r"])).map(
    lambda t: t[0] + t[2].join(t[1]).encode("utf-8", "replace"))


@settings(deadline=None, max_examples=300, database=None)
@given(BODY, st.sampled_from(PROFILES))
def test_every_profile_parses_any_body_with_documented_codes(body: bytes,
                                                             sender: SenderProfile) -> None:
    p = parse_policy(body, sender)
    assert {e.code for e in p.errors} <= POLICY_ERROR_CODES
    assert all(e.fatal in (True, False, None) for e in p.errors)
    if p.valid:  # a profile that applies it has a mode to apply
        assert p.mode in ("enforce", "testing", "none")
    rfc = parse_policy(body)
    assert all(e.fatal is (POLICY_ERROR_SEVERITY[e.code] is ParseSeverity.FATAL)
               for e in rfc.errors)


@settings(deadline=None, max_examples=300, database=None)
@given(st.lists(st.sampled_from(["v=STSv1", "id=1", "id=a b", "id=", "x=1", "_x=1", "", " ",
                                 "v=STSv1 ", "id=1 "]), max_size=5).map(";".join),
       st.sampled_from(PROFILES))
def test_every_profile_parses_any_record_with_documented_codes(text: str,
                                                               sender: SenderProfile) -> None:
    rec = parse_sts_record([text], sender)
    assert {e.code for e in rec.errors} <= STS_RECORD_ERROR_CODES
    assert all(e.fatal is (STS_RECORD_ERROR_SEVERITY[e.code] is ParseSeverity.FATAL)
               for e in parse_sts_record([text]).errors)
