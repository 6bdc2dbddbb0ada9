"""Unit tests of the RFC 8461/8460 parsers: the RFCs' examples and every edge case of the spec."""

from __future__ import annotations

import pytest

from survey.core.policy import (
    MAX_AGE_LIMIT,
    POLICY_MAX_BYTES,
    ParseError,
    Policy,
    StsRecord,
    TlsRptRecord,
    TxtStrings,
    mx_matches,
    parse_policy,
    parse_sts_record,
    parse_tlsrpt_record,
    select_sts_record,
    select_tlsrpt_record,
)


def codes(result: StsRecord | TlsRptRecord | Policy) -> list[str]:
    return [e.code for e in result.errors]


# --- _mta-sts TXT record (RFC 8461 §3.1) -------------------------------------------------------

def test_sts_rfc_example() -> None:
    rec = parse_sts_record(["v=STSv1; id=20160831085700Z;"])
    assert rec == StsRecord(raw="v=STSv1; id=20160831085700Z;", id="20160831085700Z")
    assert rec.valid


@pytest.mark.parametrize("strings", [
    ["v=STSv1; id=", "20160831085700Z;"],
    ["v=STS", "v1; id=2016", "0831085700Z;"],
    [b"v=STSv1; id=", b"20160831085700Z;"],
    ["v=STSv1; ", b"id=20160831085700Z;"],
    ["", "v=STSv1; id=20160831085700Z;", ""],
])
def test_sts_strings_concatenated_without_separator(strings: TxtStrings) -> None:
    rec = parse_sts_record(strings)
    assert rec.raw == "v=STSv1; id=20160831085700Z;"
    assert rec.id == "20160831085700Z"
    assert rec.valid


@pytest.mark.parametrize("text", [
    "v=STSv1;id=1",
    "v=STSv1; id=1",
    "v=STSv1; id=1;",
    "v=STSv1; id=1; ",
    "v=STSv1 ; id=1",  # erratum 6285: accepted (docs/classification.md "Decisions")
    "v=STSv1\t;\tid=1\t;",
    "v=STSv1  ;  id=1  ;  ",
    "v=STSv1;id=1;ext=x",
])
def test_sts_whitespace_and_trailing_semicolon_accepted(text: str) -> None:
    rec = parse_sts_record([text])
    assert rec.valid
    # WSP before ";" is named (a warning: some senders reject it), nothing else is
    assert codes(rec) == (["space_before_semicolon"] if " ;" in text or "\t;" in text else [])
    assert rec.id == "1"


@pytest.mark.parametrize("text", [
    "v=STSv1; id=1 ",  # WSP at the end needs a ';' after it (field-delim)
    "v=STSv1; id=1; ext=x\t",
])
def test_sts_trailing_whitespace_is_fatal_by_the_letter(text: str) -> None:
    rec = parse_sts_record([text])
    assert codes(rec) == ["trailing_whitespace"]
    assert not rec.valid


@pytest.mark.parametrize("text", [
    "v=STSv1;; id=1",
    "v=STSv1; ;id=1",
    "v=STSv1; id=1;;",
    " v=STSv1; id=1",
])
def test_sts_delimiter_errors_are_syntax(text: str) -> None:
    rec = parse_sts_record([text])
    assert codes(rec) == ["syntax"]
    assert rec.id == "1"


def test_sts_missing_semicolon_after_version() -> None:
    assert codes(parse_sts_record(["v=STSv1 id=1"])) == ["syntax", "id_missing"]


@pytest.mark.parametrize(("text", "code"), [
    ("", "version_missing"),
    ("id=1", "version_missing"),
    ("v=spf1 -all", "version_invalid"),
    ("v=STSv10; id=1", "version_invalid"),
    ("v=STSv2; id=1", "version_invalid"),
    ("v=stsv1; id=1", "version_invalid"),  # %s"v=STSv1": case-sensitive
    ("V=STSv1; id=1", "version_missing"),
    ("id=1; v=STSv1", "version_not_first"),
    ("id=1;v=STSv1;", "version_not_first"),
])
def test_sts_version_errors(text: str, code: str) -> None:
    rec = parse_sts_record([text])
    assert code in codes(rec)
    assert not rec.valid


def test_sts_version_not_first_keeps_other_fields() -> None:
    rec = parse_sts_record(["id=1; v=STSv1; ext=y"])
    assert codes(rec) == ["version_not_first"]
    assert rec.id == "1"
    assert rec.extensions == {"ext": "y"}


@pytest.mark.parametrize("text", ["v=STSv1", "v=STSv1;", "v=STSv1; ext=1", "v=STSv1; ID=1"])
def test_sts_id_missing(text: str) -> None:
    assert codes(parse_sts_record([text])) == ["id_missing"]


@pytest.mark.parametrize("value", ["", "2016-08-31", "a_b", "a.b", "x" * 33, "Ã©"])
def test_sts_id_invalid(value: str) -> None:
    rec = parse_sts_record([f"v=STSv1; id={value}"])
    assert "id_invalid" in codes(rec)
    assert rec.id == value  # recorded as written


@pytest.mark.parametrize("value", ["a", "A1", "x" * 32, "20160831085700Z"])
def test_sts_id_valid(value: str) -> None:
    assert parse_sts_record([f"v=STSv1; id={value}"]).id == value


def test_sts_id_duplicate() -> None:
    rec = parse_sts_record(["v=STSv1; id=1; id=2"])
    assert codes(rec) == ["id_duplicate"]
    assert rec.id == "1"
    assert codes(parse_sts_record(["v=STSv1; id=1; id=1"])) == ["id_duplicate"]


def test_sts_extensions_kept() -> None:
    rec = parse_sts_record(["v=STSv1; id=1; a.b-c_d=x!y; 9=~; a.b-c_d=other"])
    assert rec.valid
    assert rec.extensions == {"a.b-c_d": "x!y", "9": "~"}


@pytest.mark.parametrize("field", [
    "noequals", "=x", "_a=x", "-a=x", "a" * 33 + "=x", "a=", "a=b=c", "a=b c", "a b=c", "é=x",
])
def test_sts_field_invalid(field: str) -> None:
    rec = parse_sts_record([f"v=STSv1; id=1; {field}"])
    assert "field_invalid" in codes(rec)
    assert rec.extensions == {}


def test_sts_ext_name_of_32_chars_ok() -> None:
    assert parse_sts_record(["v=STSv1; id=1; " + "a" * 32 + "=x"]).valid


@pytest.mark.parametrize("strings", [
    [b"v=STSv1; id=1; e=\xff"],
    ["v=STSv1; id=1; e=\x7f"],
    ["v=STSv1; id=1\x00"],
    ["v=STSv1;\nid=1"],
    ["v=STSv1; id=1; e=\u2603"],
])
def test_sts_non_ascii_and_controls(strings: TxtStrings) -> None:
    rec = parse_sts_record(strings)
    assert codes(rec)[0] == "non_ascii"


def test_sts_raw_bytes_are_latin1() -> None:
    assert parse_sts_record([b"v=STSv1; id=1; e=\xe9"]).raw == "v=STSv1; id=1; e=\xe9"


# --- selection (RFC 8461 §3.1, RFC 8460 §3) -----------------------------------------------------

def test_select_sts_one_candidate_among_others() -> None:
    sel = select_sts_record([["v=spf1 -all"], ["v=STSv1; id=1;"], ["google-site-verification=x"]])
    assert sel.candidates == 1
    assert sel.discarded == 2
    assert sel.reason is None
    assert sel.record is not None and sel.record.id == "1"


def test_select_sts_single_candidate_with_errors_is_returned() -> None:
    sel = select_sts_record([["v=STSv1; id=bad-id"]])
    assert sel.record is not None
    assert codes(sel.record) == ["id_invalid"]
    assert (sel.candidates, sel.discarded, sel.reason) == (1, 0, None)


def test_select_sts_none() -> None:
    sel = select_sts_record([])
    assert (sel.record, sel.candidates, sel.discarded, sel.reason) == (None, 0, 0, "no_record")
    sel = select_sts_record([["v=STSv10; id=1"], ["id=1; v=STSv1"], [" v=STSv1; id=1"],
                             ["V=STSv1; id=1"], ["v=STSv1x"]])
    assert (sel.record, sel.candidates, sel.discarded, sel.reason) == (None, 0, 5, "no_record")


def test_select_sts_multiple() -> None:
    sel = select_sts_record([["v=STSv1; id=1"], ["v=STSv1 ; id=2"], ["x"]])
    assert (sel.record, sel.candidates, sel.discarded, sel.reason) == (
        None, 2, 1, "multiple_records")


@pytest.mark.parametrize("strings", [
    ["v=STSv1"], ["v=STSv1;"], ["v=STSv1 ;id=1"], ["v=STSv1\t"], ["v=STS", "v1; id=1"],
    [b"v=STSv1; id=1"],
])
def test_select_sts_candidates(strings: TxtStrings) -> None:
    assert select_sts_record([strings]).candidates == 1


def test_select_tlsrpt() -> None:
    sel = select_tlsrpt_record([["v=TLSRPTv1; rua=mailto:a@example.com"], ["v=STSv1; id=1"],
                                ["v=TLSRPTv10; rua=mailto:b@example.com"]])
    assert (sel.candidates, sel.discarded, sel.reason) == (1, 2, None)
    assert sel.record is not None and sel.record.rua == ["mailto:a@example.com"]
    assert select_tlsrpt_record([]).reason == "no_record"
    two = select_tlsrpt_record([["v=TLSRPTv1;rua=mailto:a@b.c"], ["v=TLSRPTv1 ;rua=x"]])
    assert (two.record, two.candidates, two.reason) == (None, 2, "multiple_records")


# --- _smtp._tls TXT record (RFC 8460 §3) --------------------------------------------------------

@pytest.mark.parametrize(("text", "rua"), [
    ("v=TLSRPTv1;rua=mailto:reports@example.com", ["mailto:reports@example.com"]),
    ("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
     ["https://reporting.example.com/v1/tlsrpt"]),
    ("v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.net/x;",
     ["mailto:a@example.com", "https://r.example.net/x"]),
    ("v=TLSRPTv1 ; rua=mailto:a@example.com \t,\t MAILTO:b@example.com ; ",
     ["mailto:a@example.com", "MAILTO:b@example.com"]),
    ("v=TLSRPTv1; rua=HTTPS://[2001:db8::1]:8443/r?x=1#f", ["HTTPS://[2001:db8::1]:8443/r?x=1#f"]),
    ("v=TLSRPTv1; rua=mailto:tls%2Brpt@example.com?subject=x",
     ["mailto:tls%2Brpt@example.com?subject=x"]),
])
def test_tlsrpt_valid(text: str, rua: list[str]) -> None:
    rec = parse_tlsrpt_record([text])
    assert rec.valid
    assert codes(rec) == (["space_before_semicolon"] if " ;" in text else [])
    assert rec.rua == rua


def test_tlsrpt_strings_and_extensions() -> None:
    rec = parse_tlsrpt_record(["v=TLSRPTv1; rua=mailto:rep", b"orts@example.com; ext=1"])
    assert rec.valid
    assert rec.raw == "v=TLSRPTv1; rua=mailto:reports@example.com; ext=1"
    assert rec.extensions == {"ext": "1"}


@pytest.mark.parametrize(("text", "expected"), [
    ("", ["version_missing", "rua_missing"]),
    ("rua=mailto:a@b.c", ["version_missing"]),
    ("rua=mailto:a@b.c; v=TLSRPTv1", ["version_not_first"]),
    ("v=TLSRPTv2; rua=mailto:a@b.c", ["version_invalid"]),
    ("v=TLSRPTv10; rua=mailto:a@b.c", ["version_invalid"]),
    ("v=tlsrptv1; rua=mailto:a@b.c", ["version_invalid"]),
    ("v=TLSRPTv1", ["rua_missing"]),
    ("v=TLSRPTv1; RUA=mailto:a@b.c", ["rua_missing"]),
    ("v=TLSRPTv1; rua=mailto:a@b.c; rua=mailto:d@e.f", ["rua_duplicate"]),
    ("v=TLSRPTv1; rua=", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=mailto:a@b.c,", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=mailto:a@b.c,,mailto:d@e.f", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=reports@example.com", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=mailto:reports", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=mailto:@example.com", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=mailto:a@", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=mailto:a@b.c!10m", ["rua_invalid_uri"]),  # "!" MUST be encoded
    ("v=TLSRPTv1; rua=mailto:a b@c.d", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=https:/r.example.com/x", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=https:///x", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=https://user@:443/x", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=https://[/x", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=1https://a.b/", ["rua_invalid_uri"]),
    ("v=TLSRPTv1; rua=http://r.example.com/x", ["rua_scheme"]),
    ("v=TLSRPTv1; rua=ftp://r.example.com/x", ["rua_scheme"]),
    ("v=TLSRPTv1; rua=mailto:a@b.c, http://x", ["rua_scheme"]),
    ("v=TLSRPTv1; rua=mailto:a@b.c; bad", ["field_invalid"]),
    ("v=TLSRPTv1; rua=mailto:a@b.c;; x=1", ["syntax"]),
    ("v=TLSRPTv1; rua=mailto:a@b.c ", ["trailing_whitespace"]),
    ("v=TLSRPTv1; rua=mailto:\xe9@b.c", ["non_ascii", "rua_invalid_uri"]),
])
def test_tlsrpt_errors(text: str, expected: list[str]) -> None:
    rec = parse_tlsrpt_record([text])
    assert codes(rec) == expected


def test_tlsrpt_rua_kept_as_written_with_invalid_ones() -> None:
    rec = parse_tlsrpt_record(["v=TLSRPTv1; rua=mailto:a@b.c, http://x; rua=mailto:z@y.x"])
    assert rec.rua == ["mailto:a@b.c", "http://x", "mailto:z@y.x"]
    assert codes(rec) == ["rua_scheme", "rua_duplicate"]


def test_tlsrpt_repeated_rua_fields_are_joined_and_valid() -> None:
    """RFC 8460 §3: ``1*(field-delim tlsrpt-field)`` lets ``rua=`` repeat: a warning only."""
    rec = parse_tlsrpt_record(["v=TLSRPTv1; rua=mailto:a@b.c; rua=https://r.example/x"])
    assert rec.valid
    assert rec.rua == ["mailto:a@b.c", "https://r.example/x"]
    assert [(e.code, e.fatal) for e in rec.errors] == [("rua_duplicate", False)]


# --- policy body (RFC 8461 §3.2) ----------------------------------------------------------------

RFC_POLICY = (b"version: STSv1\r\n"
              b"mode: enforce\r\n"
              b"mx: mail.example.com\r\n"
              b"mx: *.example.net\r\n"
              b"mx: backupmx.example.com\r\n"
              b"max_age: 604800\r\n")
RFC_MX = ["mail.example.com", "*.example.net", "backupmx.example.com"]


def test_policy_rfc_example() -> None:
    assert parse_policy(RFC_POLICY) == Policy(version="STSv1", mode="enforce", max_age=604800,
                                              mx=RFC_MX)


@pytest.mark.parametrize("body", [
    RFC_POLICY.replace(b"\r\n", b"\n"),  # erratum 6253: LF
    RFC_POLICY.removesuffix(b"\r\n"),  # final line break optional
    RFC_POLICY.replace(b"\r\n", b"\n").removesuffix(b"\n"),
    RFC_POLICY.replace(b"\r\n", b" \t\r\n"),  # trailing whitespace
    RFC_POLICY.replace(b"\r\n", b"  \n"),
    RFC_POLICY.replace(b": ", b":"),  # whitespace after the colon optional
    RFC_POLICY.replace(b": ", b":\t  "),
    RFC_POLICY.replace(b"mode: enforce\r\n", b"mode: enforce\n"),  # mixed line ends
])
def test_policy_formatting_variants_accepted(body: bytes) -> None:
    policy = parse_policy(body)
    assert codes(policy) == []
    assert (policy.version, policy.mode, policy.max_age, policy.mx) == (
        "STSv1", "enforce", 604800, RFC_MX)


def policy(*lines: str) -> Policy:
    return parse_policy("\n".join(lines).encode())


BASE = ("version: STSv1", "mode: testing", "max_age: 86400", "mx: mx.example.com")


@pytest.mark.parametrize(("value", "seconds"), [
    ("0", 0), ("86400", 86400), (str(MAX_AGE_LIMIT), MAX_AGE_LIMIT), ("0000000001", 1),
])
def test_policy_max_age_valid(value: str, seconds: int) -> None:
    p = policy("version: STSv1", "mode: none", f"max_age: {value}")
    assert codes(p) == []
    assert p.max_age == seconds


@pytest.mark.parametrize(("value", "recorded"), [
    (str(MAX_AGE_LIMIT + 1), MAX_AGE_LIMIT + 1),
    ("9999999999", 9999999999),
    ("12345678901", None),  # 11 digits
    ("00000000001", None),
    ("+86400", None),
    ("-1", None),
    ("86400s", None),
    ("1e5", None),
    ("", None),
    ("86 400", None),
    ("\u0663", None),  # a non-ASCII digit
])
def test_policy_max_age_out_of_range(value: str, recorded: int | None) -> None:
    p = policy("version: STSv1", "mode: none", f"max_age: {value}")
    assert codes(p) == ["max_age_out_of_range"]
    assert p.max_age == recorded


@pytest.mark.parametrize("mode", ["Enforce", "ENFORCE", "TESTING", "None", "enforced", "", "off"])
def test_policy_mode_is_case_sensitive_and_kept_as_written(mode: str) -> None:
    p = policy("version: STSv1", f"mode: {mode}", "max_age: 86400", "mx: mx.example.com")
    assert codes(p) == ["mode_invalid"]
    assert p.mode == mode


@pytest.mark.parametrize("mode", ["enforce", "testing", "none"])
def test_policy_modes(mode: str) -> None:
    assert policy("version: STSv1", f"mode: {mode}", "max_age: 1", "mx: a.b").valid


def test_policy_mx_missing() -> None:
    for mode in ("enforce", "testing"):
        assert codes(policy("version: STSv1", f"mode: {mode}", "max_age: 1")) == ["mx_missing"]
    assert codes(policy("version: STSv1", "mode: none", "max_age: 1")) == []
    # An invalid mode is reported as such, not as a missing mx as well.
    assert codes(policy("version: STSv1", "mode: Enforce", "max_age: 1")) == ["mode_invalid"]


@pytest.mark.parametrize("mx", [
    "mx.example.com", "*.example.com", "a", "*.a", "MX-1.Example.COM", "a" * 63 + ".com",
    "1.2.3.4", "xn--nxasmq6b.example",
    ".".join(["a" * 63] * 3 + ["a" * 61]),  # 253 characters: the longest name
    "*." + ".".join(["a" * 63] * 3 + ["a" * 61]),  # the limit is the domain's, after "*."
])
def test_policy_mx_valid(mx: str) -> None:
    p = policy(*BASE, f"mx: {mx}")
    assert codes(p) == []
    assert p.mx == ["mx.example.com", mx]


@pytest.mark.parametrize("mx", [
    "", "*", "*.", "*.*.example.com", "mx.*.example.com", "a*.example.com", "**.example.com",
    ".example.com", "a..b", "a..b.", "-a.example.com", "a-.example.com",
    "mx_1.example.com", "a" * 64 + ".com", "mx example.com", "mx.exämple.com",
    ".".join(["a" * 63] * 4),  # 255 characters
    ".".join(["a" * 63] * 3 + ["a" * 62]),  # 254 characters
])
def test_policy_mx_invalid(mx: str) -> None:
    p = policy(*BASE, f"mx: {mx}")
    assert codes(p) == ["mx_invalid"]
    assert p.mx == ["mx.example.com", mx]  # kept as written, in order


@pytest.mark.parametrize(("lines", "expected"), [
    (BASE[1:], ["version_missing"]),
    ((BASE[0], *BASE[2:]), ["mode_missing"]),
    (BASE[:2] + BASE[3:], ["max_age_missing"]),
    (("version: STSv2", *BASE[1:]), ["version_invalid"]),
    (("version: stsv1", *BASE[1:]), ["version_invalid"]),
    (("version: STSv1 x", *BASE[1:]), ["version_invalid"]),
    (("Version: STSv1", *BASE[1:]), ["version_missing"]),  # field names are case-sensitive
    ((*BASE, "version: STSv1"), ["duplicate_key"]),
    ((*BASE, "mode: enforce"), ["duplicate_key"]),
    ((*BASE, "max_age: 86400"), ["duplicate_key"]),
    ((*BASE, "mx: mx.example.com"), []),  # mx is repeatable, even with the same value
    ((*BASE, "garbage"), ["syntax"]),
    ((*BASE, " indented: x"), ["indented_line"]),
    ((*BASE, "_bad: x"), ["field_name_invalid"]),
    ((*BASE, "key:"), ["extension_value_invalid"]),
    ((*BASE, "key:  \t"), ["extension_value_invalid"]),
    ((*BASE, "key: a\x01b"), ["extension_value_invalid"]),
    ((*BASE, "comment: two  words é"), []),  # inner SP and UTF-8 are sts-policy-vchar
    ((*BASE, "mx: mx.example.com."), ["mx_trailing_dot"]),
    ((*BASE, "sp ace: x"), ["syntax"]),
    ((*BASE, ": x"), ["syntax"]),
    ((*BASE, "k" * 33 + ": x"), ["syntax"]),
    (("mode : testing", *BASE[:1], *BASE[2:]), ["syntax", "mode_missing"]),
    (("garbage",), ["syntax", "body_prose", "version_missing", "mode_missing",
                    "max_age_missing"]),
])
def test_policy_field_errors(lines: tuple[str, ...], expected: list[str]) -> None:
    assert codes(policy(*lines)) == expected


def test_policy_duplicate_key_keeps_first() -> None:
    p = policy(*BASE, "mode: enforce", "max_age: 5")
    assert (p.mode, p.max_age) == ("testing", 86400)
    assert codes(p) == ["duplicate_key", "duplicate_key"]


def test_policy_unknown_keys_kept_and_ignored() -> None:
    p = policy(*BASE, "comment: anything goes here", "x-y_z.1: 1", "comment: second")
    assert p.valid
    assert p.extensions == {"comment": "anything goes here", "x-y_z.1": "1"}


@pytest.mark.parametrize("body", [b"", b"\n", b"\r\n \t\r\n\n"])
def test_policy_empty(body: bytes) -> None:
    p = parse_policy(body)
    assert codes(p) == ["empty"]
    assert p == Policy(errors=p.errors)


def test_policy_bom_reported_and_rest_parsed() -> None:
    p = parse_policy(b"\xef\xbb\xbf" + RFC_POLICY)
    assert codes(p) == ["bom"]
    assert (p.version, p.mode, p.mx) == ("STSv1", "enforce", RFC_MX)


def test_policy_not_utf8() -> None:
    p = parse_policy(RFC_POLICY + b"comment: caf\xe9\n")
    assert codes(p) == ["not_utf8"]
    assert p.mode == "enforce"
    p = parse_policy(RFC_POLICY.replace(b"enforce", b"enf\xffrce"))
    assert codes(p) == ["not_utf8", "mode_invalid"]
    assert p.mode == "enf\ufffdrce"


def test_policy_utf8_in_unknown_field_is_fine() -> None:
    assert parse_policy(RFC_POLICY + "comment: café ☃\n".encode()).valid


def test_policy_size_cap() -> None:
    lines = (POLICY_MAX_BYTES - len(RFC_POLICY)) // 80
    at_cap = RFC_POLICY + b"".join(b"c%06d: " % i + b"x" * 70 + b"\n" for i in range(lines))
    at_cap += b"c: " + b"y" * (POLICY_MAX_BYTES - len(at_cap) - 4) + b"\n"
    assert len(at_cap) == POLICY_MAX_BYTES
    assert parse_policy(at_cap).valid
    # One byte over: too_large, and the fields in the first 64 KiB are still read.
    over = parse_policy(at_cap + b"x")
    assert codes(over) == ["too_large"]
    assert (over.mode, over.max_age, over.mx) == ("enforce", 604800, RFC_MX)
    # Cut at the last line break in the cap, so a split line or character is no extra error.
    split = at_cap[:-2] + "é\n".encode()
    assert codes(parse_policy(split)) == ["too_large"]
    # Whatever comes after the cap is not read.
    late = parse_policy(at_cap + b"mode: none\nbroken\n")
    assert codes(late) == ["too_large"]
    assert late.mode == "enforce"


def test_policy_over_cap_without_line_break() -> None:
    assert codes(parse_policy(b"v" * (POLICY_MAX_BYTES + 1)))[:2] == ["too_large", "syntax"]


def test_parse_error_is_a_value() -> None:
    assert ParseError("a", "b") == ParseError("a", "b")


# --- mx matching (RFC 8461 §4.1) ----------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "host", "expected"), [
    ("mail.example.com", "mail.example.com", True),
    ("mail.example.com", "MAIL.Example.Com", True),
    ("MAIL.EXAMPLE.COM", "mail.example.com", True),
    ("mail.example.com.", "mail.example.com", False),  # mx_trailing_dot: matches nothing
    ("mail.example.com", "mail.example.com.", True),
    ("mail.example.com", "mail2.example.com", False),
    ("mail.example.com", "a.mail.example.com", False),
    ("*.mail.example.com", "a.mail.example.com", True),
    ("*.mail.example.com", "A.MAIL.example.com.", True),
    ("*.Mail.Example.com", "a.mail.example.com", True),
    ("*.mail.example.com.", "a.mail.example.com", False),
    ("*.mail.example.com", "mail.example.com", False),
    ("*.mail.example.com", "a.b.mail.example.com", False),
    ("*.mail.example.com", ".mail.example.com", False),  # empty label
    ("*.mail.example.com", "a.mail.example.co", False),
    ("*.example.com", "a.example.com", True),
    ("*.com", "example.com", True),
    ("mail.*.com", "mail.example.com", False),  # "*" elsewhere is literal text
    ("mail.*.com", "mail.*.com", False),  # mx_invalid: matches nothing
    ("a*.example.com", "ab.example.com", False),
    ("*", "example", False),
    ("*", "*", False),
    ("://google.com", "google.com", False),
    ("*.", "a", False),
    ("", "", False),
    (".", ".", False),
    ("a..b", "a..b", False),
    ("mail.example.com..", "mail.example.com", False),
    ("mail.example.com", "mail.example.com..", False),
])
def test_mx_matches(pattern: str, host: str, expected: bool) -> None:
    assert mx_matches(pattern, host) is expected


def test_mx_matches_rfc_policy_patterns() -> None:
    p = parse_policy(RFC_POLICY)
    hosts = {"mail.example.com": True, "backupmx.example.com": True, "mx1.example.net": True,
             "example.net": False, "a.mx1.example.net": False, "mail.example.net": True,
             "other.example.com": False}
    for host, expected in hosts.items():
        assert any(mx_matches(pattern, host) for pattern in p.mx) is expected, host
