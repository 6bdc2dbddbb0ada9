"""Decoding and reading a policy body (RFC 8461 §3.2, §3.3) and the sender-profile knobs that
change how its bytes and lines are read: the size cap's cut, the BOM, the charset, line breaks,
whitespace (only SP and HTAB are the ABNF's WSP), field names, the ``max_age`` number, ``mx``
trailing dots and what a body that is no policy at all is."""

from __future__ import annotations

import pytest

from survey.core.policy import POLICY_MAX_BYTES, parse_policy
from tests.core.test_policy_profile_rules import BASE, errors, profile

GOOD = b"version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 86400\n"


def codes(body: bytes, **knobs: object) -> list[str]:
    return [code for code, _, _ in errors(body, **knobs)]


# --- the size cap (RFC 8461 §3.3 leaves it to the sender; the module docstring: "the first
# POLICY_MAX_BYTES are still parsed, cut after their last line break") ---

def test_an_oversized_body_is_cut_after_its_last_whole_line() -> None:
    """The line the cap cuts through is dropped whole; the line before it is kept whole."""
    filler = b"ext: " + b"a" * POLICY_MAX_BYTES + b"\n"
    policy = parse_policy(GOOD + filler)
    assert policy.max_age == 86400  # the last whole line, its last digit and LF included
    assert policy.extensions == {}  # the cut line is not read as a shorter value
    assert [e.code for e in policy.errors] == ["too_large"]


def test_an_oversized_body_whose_only_line_break_is_its_first_byte() -> None:
    """A cut at offset 0 is still a cut: what is left is one line break, an empty policy."""
    policy = parse_policy(b"\n" + b"x" * POLICY_MAX_BYTES)
    assert [e.code for e in policy.errors] == ["too_large", "empty"]


# --- the BOM (profile knob ``bom``: reject | strip | first_field_lost | unknown) ---

@pytest.mark.parametrize(("bom", "fatal"), [
    ("reject", True), ("strip", False), ("first_field_lost", False), ("unknown", None),
])
def test_a_bom_is_fatal_only_for_a_profile_that_rejects_it(bom: str, fatal: bool | None) -> None:
    """``strip`` and ``first_field_lost`` senders carry on (the latter without its 1st field)."""
    body = b"\xef\xbb\xbf" + BASE + b"ext: 1\n"
    assert errors(body, bom=bom)[0] == (
        "bom", "the body starts with a UTF-8 byte order mark", fatal)


@pytest.mark.parametrize("bom", ["reject", "strip", "unknown"])
def test_only_first_field_lost_loses_the_field_after_the_bom(bom: str) -> None:
    """The BOM glued to the first name makes it an unknown field for that profile only."""
    body = b"\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 1\n"
    assert parse_policy(body, profile(bom=bom)).version == "STSv1"
    lost = parse_policy(body, profile(bom="first_field_lost"))
    assert lost.version is None and "version_missing" in [e.code for e in lost.errors]
    # without a BOM nothing is lost, even for that profile
    assert parse_policy(body[3:], profile(bom="first_field_lost")).version == "STSv1"


def test_an_ascii_reader_reports_a_byte_outside_ascii() -> None:
    """charset ascii: the message says what the sender does with the byte (users read it)."""
    body = BASE + "ext: caf\u00e9\n".encode()
    assert errors(body, charset="ascii") == [
        ("non_ascii", "a byte outside ASCII (read as ASCII)", True)]
    assert errors(body) == []  # the RFC allows UTF-8 in an extension value


# --- line breaks (RFC 8461 §3.2: sts-policy-term = LF / CRLF) ---

def test_crlf_lines_beside_a_lone_cr_read_as_single_line_breaks() -> None:
    """A lone CR is reported; the CRLFs around it stay one line break each (no blank line)."""
    body = b"version: STSv1\r\nmode: testing\rmx: a.example\r\nmax_age: 5\r\n"
    policy = parse_policy(body)
    assert [e.code for e in policy.errors] == ["lone_cr"]
    assert (policy.version, policy.mode, policy.mx, policy.max_age) == (
        "STSv1", "testing", ["a.example"], 5)


# --- whitespace: only SP and HTAB are WSP (RFC 5234 B.1); other whitespace is content ---

@pytest.mark.parametrize("space", ["\x0b", "\x0c", "\u00a0"])
def test_whitespace_other_than_sp_and_htab_is_part_of_the_value(space: str) -> None:
    """Trailing/leading VT, FF or NBSP are not trimmed: ``enforce<VT>`` is no mode."""
    after = parse_policy(f"version: STSv1\nmode: none{space}\nmax_age: 1\n".encode())
    before = parse_policy(f"version: STSv1\nmode:{space}none\nmax_age: 1\n".encode())
    for policy in (after, before):
        assert policy.mode is not None and policy.mode.strip(space) == "none"
        assert [e.code for e in policy.errors] == ["mode_invalid"]


@pytest.mark.parametrize("space", ["\x0b", "\u00a0"])
def test_an_indented_line_is_trimmed_of_wsp_only(space: str) -> None:
    """indented_lines trim: SP/HTAB go, a VT or NBSP after them stays in the field name."""
    body = f"version: STSv1\nmode: none\n \t{space}max_age: 1\n".encode()
    policy = parse_policy(body, profile(indented_lines="trim"))
    assert policy.max_age is None
    assert [e.code for e in policy.errors] == ["indented_line", "syntax", "max_age_missing"]


# --- field names (sts-policy-ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")) ---

def test_a_field_name_has_at_most_32_characters() -> None:
    name32, name33 = "x" * 32, "x" * 33
    assert parse_policy(BASE + f"{name32}: 1\n".encode()).extensions == {name32: "1"}
    assert errors(BASE + f"{name33}: 1\n".encode()) == [
        ("syntax", f"line 4: invalid field name '{name33}'", True)]


def test_an_invalid_field_name_is_quoted_in_the_message() -> None:
    assert errors(BASE + b"a b: 1\n") == [("syntax", "line 4: invalid field name 'a b'", True)]


@pytest.mark.parametrize(("case", "mode"), [("sensitive", None), ("insensitive", "testing")])
def test_field_name_case(case: str, mode: str | None) -> None:
    """field_name_case insensitive: ``Mode:`` is ``mode:``; the RFC's names are lower case."""
    body = b"version: STSv1\nMode: testing\nmx: a.example\nmax_age: 1\n"
    assert parse_policy(body, profile(field_name_case=case)).mode == mode


# --- max_age (sts-policy-max-age-value = 1*10DIGIT) under the lenient knob ---

@pytest.mark.parametrize(("value", "read"), [
    (" 1", 1), ("1\t", 1), ("\t+7 ", 7),  # SP/HTAB around the number: trimmed, as int() does
    ("\x0b1", None), ("\u00a01", None),  # other whitespace is no WSP: not a number here
    (" ", None), ("1 1", None),
])
def test_a_lenient_number_may_have_wsp_around_it(value: str, read: int | None) -> None:
    """Read through parse_policy (no test reads a private name): the line reader trims SP/HTAB
    first, so what tells the number reader apart is VT and NBSP staying in the value."""
    body = f"version: STSv1\nmode: testing\nmx: a.example\nmax_age: {value}\n".encode()
    policy = parse_policy(body, profile(max_age_number="lenient"))
    assert policy.max_age == read
    assert ("max_age_out_of_range" in [e.code for e in policy.errors if e.fatal]) == (read is None)


# --- mx: a trailing dot is its own code only when the value is valid without it ---

@pytest.mark.parametrize(("mx", "code"), [
    ("mail.example.com.", "mx_trailing_dot"), ("a.b.", "mx_trailing_dot"),
    ("mail.example-.", "mx_invalid"),  # invalid without its dot too ("example-")
    ("mail-.", "mx_invalid"),
])
def test_mx_trailing_dot_only_on_an_otherwise_valid_pattern(mx: str, code: str) -> None:
    body = f"version: STSv1\nmode: testing\nmx: {mx}\nmax_age: 1\n".encode()
    assert codes(body) == [code]


# --- a body that is no policy at all (body_*: see the module docstring) ---

@pytest.mark.parametrize(("body", "code"), [
    # a zone-file line whose quoted string touches its type (the quotes delimit it)
    ('_mta-sts IN TXT"v=STSv1; id=1"', "body_dns_record"),
    ('example.com. IN MX"10 mail.example.com."', "body_dns_record"),
    ("v=TLSRPTv1; rua=mailto:tlsrpt@example.com", "body_dns_record"),  # the TLS-RPT record
    ('"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"', "body_dns_record"),
    # prose: "in" before a word other than TXT/MX, "MX" not after "in", "in" at the very end
    ("Our mail servers live in Berlin", "body_prose"),
    ("Set up your MX records first", "body_prose"),
    ("MX TXT records are kept in", "body_prose"),
    ("TXT records: ask the admin to log in", "body_prose"),
    # text before the markup or the record: the body does not start with it
    ("X<html><body>Not found</body></html>", "body_prose"),
    ("\x0b<html></html>", "body_prose"),  # VT: not whitespace before an HTML document
    ("\u00a0v=STSv1; id=1", "body_prose"),
    ("\r\n \t<html></html>", "body_html"),
    ("\x0c<html></html>", "body_html"),  # FF is HTML whitespace (and SP, HTAB, LF, CR)
])
def test_what_a_body_without_a_policy_field_is(body: str, code: str) -> None:
    found = [c for c in codes(body.encode()) if c.startswith("body_")]
    assert found == [code]
