"""The human text of every parse error: what a reader of ``Policy.errors`` / ``record.errors``
sees beside each code (the dataset keeps the codes; the text names the offending value and,
for a policy, its line). Each expectation was read against the input it describes."""

from __future__ import annotations

import pytest

from survey.core.policy import parse_policy, parse_sts_record, parse_tlsrpt_record

BASE = b"version: STSv1\nmode: none\nmax_age: 1\n"
NOT_A_POLICY = [("version_missing", "no version field"), ("mode_missing", "no mode field"),
                ("max_age_missing", "no max_age field")]


@pytest.mark.parametrize(("body", "expected"), [
    (b"", [("empty", "the policy has no field")]),
    (b"version: STSv1\nmode: enforce\nmx: a.example\n", [("max_age_missing", "no max_age field")]),
    (b"version: STSv1\nmax_age: 1\n", [("mode_missing", "no mode field")]),
    (b"mode: none\nmax_age: 1\n", [("version_missing", "no version field")]),
    (b"version: STSv2\nmode: Enforce\nmax_age: 1\n",
     [("version_invalid", "version 'STSv2' is not 'STSv1'"),
      ("mode_invalid", "mode 'Enforce' is not one of enforce, testing, none")]),
    (b"version: STSv1\nmode: enforce\nmax_age: 1\n",
     [("mx_missing", "mode enforce requires at least one mx")]),
    (b"version: STSv1\nmode: none\nmax_age: 99999999999\n",
     [("max_age_out_of_range", "max_age '99999999999' is not 1-10 digits")]),
    (b"version: STSv1\nmode: none\nmax_age: +5\n",
     [("max_age_out_of_range", "max_age '+5' is not 1-10 digits")]),
    (b"version: STSv1\nmode: none\nmax_age: 40000000\n",
     [("max_age_out_of_range", "max_age 40000000 is over 31557600")]),
    (BASE + b"mx: a.example.\nmx: a..b\n",
     [("mx_trailing_dot", "mx 'a.example.' ends with a dot"),
      ("mx_invalid", "mx 'a..b' is not a host pattern")]),
    (BASE + b"nocolon\n_x: 1\nx:\nmode: testing\n",
     [("syntax", "line 4: no ':' in 'nocolon'"),
      ("field_name_invalid", "line 5: field name '_x' does not start with a letter or digit"),
      ("extension_value_invalid", "field 'x': value '' is empty or has control characters"),
      ("duplicate_key", "mode given more than once")]),
    (b"version: STSv1\n\nmode: none\n max_age: 1\n",
     [("indented_line", "line 4 starts with whitespace"),
      ("blank_line", "1 blank line(s), the first is line 2")]),
    (b"version: STSv1\rmode: none\nmax_age: 1\n",
     [("lone_cr", "a CR not followed by LF ends a line")]),
    (b"\xef\xbb\xbf" + BASE, [("bom", "the body starts with a UTF-8 byte order mark")]),
    (BASE + b"ext: \xff\n", [("not_utf8", "not UTF-8 at byte 42")]),  # 37 + len("ext: ")
    (b"<html></html>", [("syntax", "line 1: no ':' in '<html></html>'"),
                        ("body_html", "the body is an HTML or XML document, not a policy"),
                        *NOT_A_POLICY]),
    (b"{\\rtf1}", [("syntax", "line 1: no ':' in '{\\\\rtf1}'"),
                  ("body_rtf", "the body is an RTF document, not a policy"), *NOT_A_POLICY]),
    (b"v=STSv1; id=1", [("syntax", "line 1: no ':' in 'v=STSv1; id=1'"),
                        ("body_dns_record", "the body is a DNS record, not a policy"),
                        *NOT_A_POLICY]),
    (b"hello world", [("syntax", "line 1: no ':' in 'hello world'"),
                      ("body_prose", "the body has no policy field (text, not a policy)"),
                      *NOT_A_POLICY]),
])
def test_policy_error_messages(body: bytes, expected: list[tuple[str, str]]) -> None:
    assert [(e.code, e.message) for e in parse_policy(body).errors] == expected


def test_a_policy_over_the_cap_says_its_size() -> None:
    errors = parse_policy(b"x" * 70_000).errors
    assert (errors[0].code, errors[0].message) == ("too_large", "70000 bytes, over 65536")


@pytest.mark.parametrize(("txt", "expected"), [
    ("v=STSv1; id=1 ", [("trailing_whitespace", "whitespace without ';' after 'id=1'")]),
    (" v=STSv1; id=1", [("syntax", "whitespace before the version field")]),
    ("v=STSv2; id=1", [("version_invalid", "version 'v=STSv2' is not 'v=STSv1'")]),
    ("v=STSv1 ;id=1", [("space_before_semicolon", "whitespace before a ';'")]),
    ("id=1; v=STSv1", [("version_not_first", "'v=STSv1' is not the first field")]),
    ("v=STSv1;; id=1", [("syntax", "empty field (';;')")]),
    ("v=STSv1; id", [("field_invalid", "field 'id' is not name=value"),
                     ("id_missing", "no id= field")]),
    ("v=STSv1; id=a_b", [("id_invalid", "id 'a_b': not 1-32 ALPHA/DIGIT")]),
    ("v=STSv1; id=1; id=2", [("id_duplicate", "second id '2'")]),
    ("v=STSv1; _x=1", [("field_invalid", "invalid field '_x=1'"), ("id_missing", "no id= field")]),
    ("v=STSv1\u00e9; id=1", [("non_ascii", "character '\u00e9' is not printable ASCII"),
                             ("version_invalid", "version 'v=STSv1\u00e9' is not 'v=STSv1'")]),
    ("v=STSv1 id=1", [("syntax", "missing ';' after 'v=STSv1': 'v=STSv1 id=1'"),
                      ("id_missing", "no id= field")]),
])
def test_sts_record_error_messages(txt: str, expected: list[tuple[str, str]]) -> None:
    assert [(e.code, e.message) for e in parse_sts_record((txt,)).errors] == expected


@pytest.mark.parametrize(("txt", "expected"), [
    ("v=TLSRPTv1", [("rua_missing", "no rua= field")]),
    ("v=TLSRPTv1; rua=x", [("rua_invalid_uri", "'x' has no URI scheme")]),
    ("v=TLSRPTv1; rua=mailto:ab",
     [("rua_invalid_uri", "'mailto:ab': mailto without local@domain")]),
    ("v=TLSRPTv1; rua=https:x",
     [("rua_invalid_uri", "'https:x': https URI without '//' authority")]),
    ("v=TLSRPTv1; rua=https://", [("rua_invalid_uri", "'https://': https URI without a host")]),
    ("v=TLSRPTv1; rua=ftp://x",
     [("rua_scheme", "'ftp://x': scheme 'ftp' is not mailto or https")]),
    ("v=TLSRPTv1; rua=mailto:a@b.example; rua=mailto:c@d.example",
     [("rua_duplicate", "more than one rua= field (joined)")]),
])
def test_tlsrpt_record_error_messages(txt: str, expected: list[tuple[str, str]]) -> None:
    assert [(e.code, e.message) for e in parse_tlsrpt_record((txt,)).errors] == expected
