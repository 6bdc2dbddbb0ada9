"""``parse_policy``'s field rules (RFC 8461 §3.2) and the sender-profile knobs it reads (issue 15),
and the ``mx`` host-pattern grammar: each expectation comes from the RFC clause or the knob's
documented meaning (``survey.core.senders``), never from a run of the code."""

from __future__ import annotations

import pytest

from survey.core.policy import DEFAULT_MAX_AGE, parse_policy
from tests.core.test_policy_profile_rules import errors, profile

ENFORCE = b"version: STSv1\nmode: enforce\nmax_age: 86400\n"
NONE = b"version: STSv1\nmode: none\nmax_age: 86400\n"


# -- colon_in_value: "ext: https://x" (sts-policy-vchar includes ':', some senders split on it) --

@pytest.mark.parametrize(("knob", "expected"), [
    ("accept", []),  # the RFC: a ':' is an ordinary value character
    ("reject", [("colon_in_value", "field 'ext': ':' in the value", True)]),
    ("unknown", [("colon_in_value", "field 'ext': ':' in the value", None)]),
])
def test_a_colon_in_a_field_value_is_judged_by_colon_in_value(
        knob: str, expected: list[tuple[str, str, bool | None]]) -> None:
    """colon_in_value: accept (no error) | reject (fatal) | unknown (fatal unknown)."""
    assert errors(NONE + b"ext: https://x\n", colon_in_value=knob) == expected
    assert errors(NONE + b"ext: x\n", colon_in_value=knob) == []  # one ':' only: the delimiter


def test_a_colon_in_an_mx_value_is_judged_too() -> None:
    """The knob is about any field's value: ``mx: a:b`` is also an invalid host pattern."""
    assert [c for c, _, _ in errors(ENFORCE + b"mx: a:b\n", colon_in_value="reject")] == [
        "colon_in_value", "mx_invalid"]


# -- mx_empty_value: "mx:" or "mx: *." is kept (an invalid pattern) or dropped (not an mx) --

@pytest.mark.parametrize("empty", [b"", b"*."])
def test_an_empty_mx_dropped_leaves_the_other_fields_read(empty: bytes) -> None:
    """mx_empty_value dropped: that line is not an mx at all; the lines after it still count."""
    body = b"version: STSv1\nmx: " + empty + b"\nmode: enforce\nmx: mail.example.com\nmax_age: 60\n"
    policy = parse_policy(body, profile(mx_empty_value="dropped"))
    assert (policy.version, policy.mode, policy.max_age, policy.mx) == (
        "STSv1", "enforce", 60, ["mail.example.com"])
    assert policy.errors == [] and policy.valid


@pytest.mark.parametrize("empty", ["", "*."])
def test_an_empty_mx_kept_is_an_invalid_pattern(empty: str) -> None:
    """mx_empty_value kept (the RFC): an mx field whose value is no ``["*."] Domain``."""
    policy = parse_policy(ENFORCE + b"mx: " + empty.encode() + b"\n")
    assert policy.mx == [empty]
    assert [e.code for e in policy.errors] == ["mx_invalid"]


def test_the_only_mx_empty_and_dropped_means_no_mx() -> None:
    """A policy whose only mx is dropped has no mx: enforce then lacks one (RFC 8461 §3.2)."""
    policy = parse_policy(ENFORCE + b"mx: *.\n", profile(mx_empty_value="dropped"))
    assert policy.mx == [] and [e.code for e in policy.errors] == ["mx_missing"]


# -- version_value_case: "version: stsv1" (the RFC: %s"STSv1", case-sensitive) --

@pytest.mark.parametrize(("knob", "fatal"), [
    ("sensitive", True), ("insensitive", False), ("unknown", None)])
@pytest.mark.parametrize("version", ["stsv1", "STSV1", "StSv1"])
def test_a_version_differing_only_in_case_is_judged_by_version_value_case(
        version: str, knob: str, fatal: bool | None) -> None:
    """version_value_case insensitive: ``stsv1`` is STSv1 for that sender; unknown: not known."""
    policy = parse_policy(f"version: {version}\nmode: none\nmax_age: 1\n".encode(),
                          profile(version_value_case=knob))
    assert policy.version == version  # recorded as written
    assert [(e.code, e.message, e.fatal) for e in policy.errors] == [
        ("version_invalid", f"version '{version}' is not 'STSv1'", fatal)]


@pytest.mark.parametrize("knob", ["sensitive", "insensitive", "unknown"])
@pytest.mark.parametrize("version", ["STSv2", "STSv1x", "v=STSv1", "1", "sts"])
def test_another_version_is_fatal_whatever_the_case_knob(version: str, knob: str) -> None:
    """Only a case variant of STSv1 is left to the knob: any other value is no STSv1 for anyone."""
    policy = parse_policy(f"version: {version}\nmode: none\nmax_age: 1\n".encode(),
                          profile(version_value_case=knob))
    assert [(e.code, e.fatal) for e in policy.errors] == [("version_invalid", True)]


# -- missing_max_age: reject (the RFC: max_age is required) | default (a built-in one) --

@pytest.mark.parametrize(("knob", "max_age", "fatal"), [
    ("reject", None, True), ("default", DEFAULT_MAX_AGE, False), ("unknown", None, None)])
def test_a_missing_max_age_is_judged_by_missing_max_age(knob: str, max_age: int | None,
                                                        fatal: bool | None) -> None:
    """missing_max_age default: the sender uses its built-in max_age (86400 s); else none."""
    policy = parse_policy(b"version: STSv1\nmode: none\n", profile(missing_max_age=knob))
    assert policy.max_age == max_age
    assert [(e.code, e.message, e.fatal) for e in policy.errors] == [
        ("max_age_missing", "no max_age field", fatal)]


def test_the_default_max_age_is_one_day() -> None:
    """The documented built-in value (senders.py: ``missing_max_age`` default): 86400 s."""
    assert DEFAULT_MAX_AGE == 24 * 60 * 60


# -- mx_required_in_none: mode none without mx (the RFC: mx is required "except when mode is
# none") --

@pytest.mark.parametrize(("knob", "expected"), [
    ("no", []),
    ("yes", [("mx_missing", "mode none requires at least one mx", True)]),
    ("unknown", [("mx_missing", "mode none requires at least one mx", None)]),
])
def test_mode_none_without_mx_is_judged_by_mx_required_in_none(
        knob: str, expected: list[tuple[str, str, bool | None]]) -> None:
    assert errors(NONE, mx_required_in_none=knob) == expected


@pytest.mark.parametrize("knob", ["no", "yes", "unknown"])
@pytest.mark.parametrize("mode", ["enforce", "testing"])
def test_enforce_and_testing_without_mx_are_fatal_whatever_the_none_knob(mode: str,
                                                                        knob: str) -> None:
    """RFC 8461 §3.2: mx is required in modes enforce and testing: no knob tolerates it."""
    body = f"version: STSv1\nmode: {mode}\nmax_age: 1\n".encode()
    assert errors(body, mx_required_in_none=knob) == [
        ("mx_missing", f"mode {mode} requires at least one mx", True)]


# -- the mx host pattern: sts-policy-mx-value = ["*."] Domain (LDH labels, RFC 5321 §4.1.2) --

LABEL63 = "a" * 63


def mx_codes(value: str) -> list[str]:
    """The error codes of an enforce policy whose one mx is ``value``."""
    return [e.code for e in parse_policy(ENFORCE + b"mx: " + value.encode() + b"\n").errors]


def name_of_length(length: int) -> str:
    """A name of ``length`` characters: 63-character labels, then one shorter last label."""
    labels = [LABEL63] * (length // 64)
    return ".".join([*labels, "b" * (length - 64 * len(labels))])


@pytest.mark.parametrize("value", [
    "mail.example.com", "*.example.com", "a", "a.b", "*.a", "x-y.example", "a--b.example",
    "a1.example", "1.example", "MAIL.Example.COM", LABEL63 + ".example", "*." + LABEL63,
    name_of_length(253), "*." + name_of_length(253),
])
def test_valid_host_patterns(value: str) -> None:
    """LDH labels of 1-63 characters, inner hyphens only, at most 253 in all, optional ``*.``."""
    assert mx_codes(value) == []


@pytest.mark.parametrize("value", [
    "a" * 64 + ".example",  # a label over 63 characters
    name_of_length(254),  # a name over 253 characters
    "*." + name_of_length(254),
    "-a.example", "a-.example", "ab-.example", "-.example", "a.-b", "a.b-",  # edge hyphens
    "a..example", ".example", "*.", "", "*", "*.*.example", "a.*.example",  # empty or * labels
    "mail_1.example.com", "m ail.example", "ñ.example", "a:b",  # outside LDH
])
def test_invalid_host_patterns(value: str) -> None:
    """Anything else is ``mx_invalid`` (RFC 8461 §3.2, RFC 5321 §4.1.2)."""
    assert mx_codes(value) == ["mx_invalid"]


@pytest.mark.parametrize("length", [1, 253, 254, 300])
def test_name_of_length_builds_that_many_characters(length: int) -> None:
    """The helper above is what the length cases rely on: check its arithmetic."""
    name = name_of_length(length)
    assert len(name) == length
    assert all(0 < len(label) <= 63 for label in name.split("."))
