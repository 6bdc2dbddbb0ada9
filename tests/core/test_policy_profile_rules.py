"""Policy rules that only some sender profiles take (issue 15), each through a parser
with a profile that differs from the RFC's in that one knob: an indented line dropped as the
unknown field ``' name'``, a lenient ``max_age`` number, the extension value's characters, a
TXT extension field of the wrong shape."""

from __future__ import annotations

import dataclasses

import pytest

from survey.core.policy import DEFAULT_MAX_AGE, mx_matches, parse_policy, parse_sts_record
from survey.core.senders import RFC8461, SenderProfile

BASE = b"version: STSv1\nmode: none\nmax_age: 1\n"


def profile(**knobs: object) -> SenderProfile:
    return dataclasses.replace(RFC8461, name="test", **knobs)  # type: ignore[arg-type]


def errors(body: bytes, **knobs: object) -> list[tuple[str, str, bool | None]]:
    return [(e.code, e.message, e.fatal) for e in parse_policy(body, profile(**knobs)).errors]


INDENTED = ("indented_line", "line 4 starts with whitespace", False)


@pytest.mark.parametrize(("without_colon", "fatal"), [
    ("reject", True), ("skip", False), ("swallow_next", False), ("unknown", None),
])
def test_a_dropped_line_without_a_colon_is_judged_as_any_such_line(without_colon: str,
                                                                   fatal: bool | None) -> None:
    assert errors(BASE + b" nocolon\n", indented_lines="drop",
                  line_without_colon=without_colon) == [
        INDENTED, ("syntax", "line 4: no ':' in ' nocolon'", fatal)]


@pytest.mark.parametrize(("colon_in_value", "expected"), [
    ("reject", [INDENTED, ("colon_in_value", "line 4: ':' in the value", True)]),
    ("unknown", [INDENTED, ("colon_in_value", "line 4: ':' in the value", None)]),
    ("accept", [INDENTED]),
])
def test_a_dropped_line_with_a_second_colon_is_judged_as_any_such_line(
        colon_in_value: str, expected: list[tuple[str, str, bool | None]]) -> None:
    assert errors(BASE + b" ext: https://x\n", indented_lines="drop",
                  colon_in_value=colon_in_value) == expected
    # one colon only: nothing but the indentation
    assert errors(BASE + b" ext: x\n", indented_lines="drop",
                  colon_in_value=colon_in_value) == [INDENTED]


def test_a_dropped_line_loses_its_field_a_trimmed_one_keeps_it() -> None:
    body = b"version: STSv1\n mode: testing\nmax_age: 1\n"
    dropped = parse_policy(body, profile(indented_lines="drop"))
    assert dropped.mode is None and "mode_missing" in [e.code for e in dropped.errors]
    assert parse_policy(body, profile(indented_lines="trim")).mode == "testing"


@pytest.mark.parametrize(("value", "read"), [
    ("+5", 5), ("-0", 0), ("0005x", None), ("x5", None), ("-5", None), ("+", None), ("", None),
    ("+-5", None),
    ("\u0665", None),  # a non-ASCII digit: int() reads it, Atoi does not
    ("12345678901", 12345678901),  # 11 digits: not the ABNF's 1-10, a number all the same
])
def test_a_lenient_max_age_is_a_signed_decimal_integer(value: str, read: int | None) -> None:
    body = f"version: STSv1\nmode: none\nmax_age: {value}\n".encode()
    policy = parse_policy(body, profile(max_age_number="lenient"))
    assert policy.max_age == read
    (error,) = [e for e in policy.errors if e.code == "max_age_out_of_range"]
    assert error.fatal is (read is None)  # a number the profile reads is tolerated
    default = parse_policy(body, profile(max_age_number="default"))
    assert default.max_age == DEFAULT_MAX_AGE
    assert [e.fatal for e in default.errors if e.code == "max_age_out_of_range"] == [False]
    assert parse_policy(body).max_age is None  # the RFC: 1-10 digits or nothing


@pytest.mark.parametrize(("value", "valid"), [
    ("a b", True), ("caf\u00e9", True), ("a!~", True),
    ("a\tb", False), ("a\x7fb", False), ("a\x1fb", False),
])
def test_an_extension_value_is_visible_characters_and_inner_spaces(value: str,
                                                                   valid: bool) -> None:
    codes = [e.code for e in parse_policy(BASE + f"ext: {value}\n".encode()).errors]
    assert codes == ([] if valid else ["extension_value_invalid"])


@pytest.mark.parametrize(("field", "shape_fatal"), [
    ("_x=1", False), ("x=", False),  # outside the ABNF, but name=value without WSP in the name
    ("a b=1", True), ("a\tb=1", True),  # WSP in the name: not a field of that shape
])
def test_a_shape_profile_rejects_a_record_only_for_a_field_of_the_wrong_shape(
        field: str, shape_fatal: bool) -> None:
    record = f"v=STSv1; id=1; {field}"
    shape = profile(txt_extension_abnf="shape")
    assert [(e.code, e.fatal) for e in parse_sts_record((record,), shape).errors] == [
        ("field_invalid", shape_fatal)]
    assert [(e.code, e.fatal) for e in parse_sts_record((record,)).errors] == [
        ("field_invalid", True)]  # the RFC: any invalid extension field


U_HOST, A_HOST = "mx.\u00f1aca.com", "mx.xn--aca-6ma.com"  # the same name, U- and A-labels


@pytest.mark.parametrize(("idna", "u_host", "u_pattern", "u_both", "wildcard"), [
    ("ascii", False, False, False, False),  # U-labels match nothing
    ("host_a_labels", True, False, False, True),  # the host converted, never the pattern
    ("a_labels", True, True, True, True),  # both sides converted
])
def test_mx_matching_converts_u_labels_as_the_profile_says(
        idna: str, u_host: bool, u_pattern: bool, u_both: bool, wildcard: bool) -> None:
    p = profile(idna=idna)
    assert mx_matches(A_HOST, U_HOST, p) is u_host
    assert mx_matches(U_HOST, A_HOST, p) is u_pattern
    assert mx_matches(U_HOST, U_HOST, p) is u_both
    assert mx_matches("*.xn--aca-6ma.com", U_HOST, p) is wildcard
    assert mx_matches(A_HOST, "MX.XN--ACA-6MA.COM", p)  # ASCII: as always, any case
    # a name without an A-label form (its label would be over 63 characters) matches nothing
    no_form = "mx." + "\u00f1" * 70 + ".com"
    assert not mx_matches(A_HOST, no_form, p) and not mx_matches("xxxx", no_form, p)
    assert not mx_matches(no_form, "xxxx", p)


def test_kept_invalid_patterns_match_as_names_but_never_with_a_trailing_dot() -> None:
    kept = profile(invalid_mx_pattern="kept")
    assert mx_matches("mail_1.example.com", "mail_1.example.com", kept)
    assert not mx_matches("mail_1.example.com", "mail_1.example.com")  # the RFC: invalid
    assert not mx_matches("mail_1.example.com.", "mail_1.example.com", kept)
    assert not mx_matches("*", "localhost", kept)  # a lone '*' is no wildcard


@pytest.mark.parametrize(("host", "one_label", "any_depth"), [
    ("a.example.com", True, True), ("a.b.example.com", False, True),
    ("example.com", False, False), ("a.example.org", False, False),
])
def test_wildcard_depth(host: str, one_label: bool, any_depth: bool) -> None:
    assert mx_matches("*.example.com", host) is one_label
    assert mx_matches("*.example.com", host, profile(wildcard_depth="any_depth")) is any_depth


def test_max_age_zero_for_a_profile_that_rejects_it() -> None:
    body = b"version: STSv1\nmode: none\nmax_age: 0\n"
    assert errors(body) == []  # the RFC: 0 is 1-10 digits within the limit
    assert errors(body, max_age_zero="reject") == [("max_age_out_of_range", "max_age 0", True)]
    assert errors(body, max_age_zero="unknown") == [("max_age_out_of_range", "max_age 0", None)]


@pytest.mark.parametrize(("knob", "fatal"), [
    ("reject", True), ("clamp", False), ("accept", False), ("unknown", None),
])
def test_max_age_over_the_limit_per_profile(knob: str, fatal: bool | None) -> None:
    body = b"version: STSv1\nmode: none\nmax_age: 40000000\n"
    assert errors(body, max_age_over_limit=knob) == [
        ("max_age_out_of_range", "max_age 40000000 is over 31557600", fatal)]
