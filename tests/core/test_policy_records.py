"""The TXT-record side of ``survey.core.policy`` (RFC 8461 §3.1, RFC 8460 §3) at its edges:
record selection per sender profile, the ``id`` and value-whitespace knobs, rua URI checks,
what counts as whitespace (WSP = SP / HTAB, RFC 5234 B.1) and how long inputs are quoted in
messages. Each expectation is read from the RFC clause or the knob's documented meaning
(``survey.core.senders``)."""

from __future__ import annotations

import dataclasses

import pytest

from survey.core.policy import (
    RecordSelection,
    StsRecord,
    parse_sts_record,
    parse_tlsrpt_record,
    select_sts_record,
    select_tlsrpt_record,
)
from survey.core.senders import RFC8461, SenderProfile


def profile(**knobs: object) -> SenderProfile:
    return dataclasses.replace(RFC8461, name="test", **knobs)  # type: ignore[arg-type]


def codes(record: object) -> list[str]:
    return [e.code for e in record.errors]  # type: ignore[attr-defined]


def found(errors: list[tuple[str, str, bool | None]], code: str) -> list[tuple[str, bool | None]]:
    return [(message, fatal) for c, message, fatal in errors if c == code]


def sts_errors(text: str, prof: SenderProfile = RFC8461) -> list[tuple[str, str, bool | None]]:
    return [(e.code, e.message, e.fatal) for e in parse_sts_record([text], prof).errors]


# -- selection (RFC 8461 §3.1: records not starting with "v=STSv1" are discarded) ----------

@pytest.mark.parametrize("follower", [";", " ", "\t", ""])
def test_the_version_tag_ended_by_a_delimiter_or_the_end_makes_a_candidate(follower: str) -> None:
    """sts-version is followed by sts-sep (``*WSP ";"``) or ends the record."""
    assert select_sts_record([["v=STSv1" + follower]]).candidates == 1


@pytest.mark.parametrize("follower", ["X", "x", "0", "1", ",", "=", ":"])
def test_the_version_tag_run_on_by_another_character_is_no_candidate(follower: str) -> None:
    """``v=STSv1X;`` is another version value, not STSv1 followed by a separator."""
    selection = select_sts_record([["v=STSv1" + follower + ";id=1"]])
    assert (selection.candidates, selection.discarded, selection.reason) == (0, 1, "no_record")
    tls = select_tlsrpt_record([["v=TLSRPTv1" + follower + ";rua=mailto:a@example.com"]])
    assert (tls.candidates, tls.reason) == (0, "no_record")


@pytest.mark.parametrize(("lead", "accept", "reject"), [
    (" ", 1, 0), ("\t", 1, 0), (" \t ", 1, 0),
    # not WSP: no profile trims them
    ("X", 0, 0), ("XX", 0, 0), ("\n", 0, 0), (";", 0, 0),
])
def test_leading_whitespace_is_trimmed_only_for_a_profile_that_accepts_it(
        lead: str, accept: int, reject: int) -> None:
    """txt_leading_wsp: accept trims SP/HTAB before ``v=STSv1``; reject (the RFC) does not."""
    record = [lead + "v=STSv1; id=1"]
    assert select_sts_record([record], profile(txt_leading_wsp="accept")).candidates == accept
    assert select_sts_record([record], profile(txt_leading_wsp="reject")).candidates == reject
    assert select_sts_record([record], profile(txt_leading_wsp="unknown")).candidates == reject


@pytest.mark.parametrize("version", ["V=STSv1", "v=stsv1", "V=STSV1", "v=StSv1"])
def test_the_version_letter_case_counts_only_for_an_insensitive_profile(version: str) -> None:
    """txt_version_case: insensitive folds ASCII case; sensitive (the RFC) and unknown do not."""
    record = [version + "; id=1"]
    chosen = select_sts_record([record], profile(txt_version_case="insensitive"))
    assert (chosen.candidates, chosen.reason) == (1, None)
    assert chosen.record is not None and chosen.record.id == "1"
    for case in ("sensitive", "unknown"):
        assert select_sts_record([record], profile(txt_version_case=case)).candidates == 0


@pytest.mark.parametrize(("text", "anywhere"), [
    ("id=1; v=STSv1", 1), ("id=1;v=STSv1", 1), ("id=1;\tv=STSv1 ;", 1), ("id=1;v=STSv1;x=2", 1),
    ("id=1; v=STSv1x", 0), ("id=1 v=STSv1", 0),
    # a line break is not WSP: the field is "\nv=STSv1", which is not the version field
    ("id=1;\nv=STSv1", 0), ("id=1;v=STSv1\r", 0),
])
def test_a_profile_reading_the_version_anywhere_takes_it_as_any_field(text: str,
                                                                      anywhere: int) -> None:
    """txt_version_position anywhere: a ``;``-separated field equal to ``v=STSv1`` (around WSP)."""
    selection = select_sts_record([[text]], profile(txt_version_position="anywhere"))
    assert selection.candidates == anywhere
    if anywhere:
        assert selection.record is not None
        assert selection.record.id == "1" and "version_not_first" in codes(selection.record)
    for position in ("first", "unknown"):
        assert select_sts_record([[text]], profile(txt_version_position=position)).candidates == 0


def test_a_profile_refusing_other_records_selects_nothing_beside_them() -> None:
    """txt_other_records no_policy: an STS record beside another TXT record is not used."""
    records = [["v=spf1 -all"], ["v=STSv1; id=1"], ["x"]]
    assert select_sts_record(records, profile(txt_other_records="no_policy")) == RecordSelection(
        None, 1, 2, "other_records")
    ignored = select_sts_record(records, profile(txt_other_records="ignored"))
    assert (ignored.candidates, ignored.discarded, ignored.reason) == (1, 2, None)
    assert ignored.record == parse_sts_record(["v=STSv1; id=1"])


def test_a_first_valid_profile_takes_the_first_valid_of_several_records() -> None:
    """txt_multiple_records first_valid: several candidates, the first valid one is used."""
    records = [["v=STSv1; id=bad!"], ["other"], ["v=STSv1; id=2"], ["v=STSv1; id=3"]]
    assert select_sts_record(records, profile(txt_multiple_records="first_valid")) == (
        RecordSelection(parse_sts_record(["v=STSv1; id=2"]), 3, 1, None))
    assert select_sts_record(records) == RecordSelection(None, 3, 1, "multiple_records")


def test_a_first_valid_profile_falls_back_to_the_first_record_when_none_is_valid() -> None:
    """txt_multiple_records first_valid with no valid candidate: the first, with its errors."""
    records = [["v=STSv1; id=first!"], ["v=STSv1; id=second!"]]
    selection = select_sts_record(records, profile(txt_multiple_records="first_valid"))
    assert selection == RecordSelection(parse_sts_record(["v=STSv1; id=first!"]), 2, 0, None)
    assert isinstance(selection.record, StsRecord) and selection.record.id == "first!"
    assert not selection.record.valid


# -- the id and the value knobs (RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT)) -------------------

@pytest.mark.parametrize(("value", "knob", "fatal"), [
    ("_x", "abnf", True), ("_x", "any_nonempty", False), ("_x", "any", False),
    ("_x", "not_required", False), ("_x", "unknown", None),
    ("a" * 33, "abnf", True), ("a" * 33, "any_nonempty", False), ("a" * 33, "any", False),
    ("", "abnf", True), ("", "any_nonempty", True), ("", "any", False),
    ("", "not_required", False), ("", "unknown", None),
])
def test_an_invalid_id_is_fatal_as_the_id_syntax_knob_says(value: str, knob: str,
                                                           fatal: bool | None) -> None:
    """txt_id_syntax: abnf rejects any id outside 1-32 ALPHA/DIGIT, any_nonempty only an empty
    one, any and not_required none."""
    errors = sts_errors("v=STSv1; id=" + value, profile(txt_id_syntax=knob))
    assert found(errors, "id_invalid") == [(f"id {value!r}: not 1-32 ALPHA/DIGIT", fatal)]
    assert [c for c, _, _ in errors] == ["id_invalid"]


@pytest.mark.parametrize(("text", "knobs", "shown"), [
    ("v=STSv1; id=foo include=x", {"txt_id_syntax": "any"}, "'foo include=x'"),
    ("v=STSv1; id=1; x=a=b", {"txt_extension_abnf": "ignore"}, "'a=b'"),
    ("v=STSv1; id=1\tb", {"txt_id_syntax": "any_nonempty"}, "'1\\tb'"),
])
@pytest.mark.parametrize(("value_wsp", "fatal"), [("reject", True), ("unknown", None)])
def test_whitespace_inside_a_value_is_judged_by_the_value_wsp_knob(
        text: str, knobs: dict[str, str], shown: str, value_wsp: str, fatal: bool | None) -> None:
    """txt_value_wsp: WSP or a second '=' inside a value, asked where nothing else rejects."""
    errors = sts_errors(text, profile(txt_value_wsp=value_wsp, **knobs))
    assert found(errors, "field_invalid")[-1:] == [
        (f"whitespace or '=' in the value {shown}", fatal)]
    assert all(f is not True for c, _, f in errors if c != "field_invalid")
    accepted = sts_errors(text, profile(txt_value_wsp="accept", **knobs))
    assert accepted == errors[:-1]
    assert all(f is False for _, _, f in accepted)


def test_whitespace_inside_a_value_is_not_said_again_where_the_record_is_rejected() -> None:
    """txt_value_wsp is only asked when the id and extension rules let the record through."""
    assert [c for c, _, _ in sts_errors("v=STSv1; id=foo include=x")] == ["id_invalid"]


# -- whitespace is SP and HTAB only (RFC 5234 B.1), around the version too ------------------

@pytest.mark.parametrize(("knob", "fatal"), [("reject", True), ("accept", False),
                                             ("unknown", None)])
@pytest.mark.parametrize("lead", [" ", "\t", " \t"])
def test_whitespace_before_the_version_is_judged_by_the_leading_wsp_knob(
        lead: str, knob: str, fatal: bool | None) -> None:
    """txt_leading_wsp: the record is read trimmed; a profile that rejects it says so."""
    errors = sts_errors(lead + "v=STSv1; id=1", profile(txt_leading_wsp=knob))
    assert errors == [("syntax", "whitespace before the version field", fatal)]


@pytest.mark.parametrize("control", ["\n", "\r", "\x0b", "\x0c", "\x1f", "\x85", "\xa0"])
def test_a_control_character_before_the_version_is_no_whitespace(control: str) -> None:
    """Not WSP: the record does not begin with the version field (and is not printable)."""
    assert codes(parse_sts_record([control + "v=STSv1; id=1"]))[:2] == [
        "non_ascii", "version_missing"]
    after_space = codes(parse_sts_record([" " + control + "v=STSv1; id=1"]))
    assert after_space[:3] == ["non_ascii", "syntax", "version_missing"]


@pytest.mark.parametrize(("length", "shown"), [
    (79, repr("a" * 79)), (80, repr("a" * 80)),
    (81, repr("a" * 80) + "..."), (82, repr("a" * 80) + "..."),
])
def test_long_values_are_quoted_to_80_characters_in_messages(length: int, shown: str) -> None:
    """Inputs can be 64 KiB long: a message quotes the first 80 characters, then '...'."""
    value = ("a" * 80 + "bc")[:length]
    errors = sts_errors("v=STSv1; id=" + value)
    assert errors == [("id_invalid", f"id {shown}: not 1-32 ALPHA/DIGIT", True)]


# -- TLS-RPT records and their rua URIs (RFC 8460 §3) -------------------------------------------

def test_rua_is_read_after_extension_fields() -> None:
    """tlsrpt-field may come in any order after the version: extensions before rua too."""
    record = parse_tlsrpt_record(["v=TLSRPTv1; x=1; y=2; rua=mailto:tlsrpt@example.com"])
    assert (record.rua, record.extensions, record.errors) == (
        ["mailto:tlsrpt@example.com"], {"x": "1", "y": "2"}, [])


@pytest.mark.parametrize(("value", "rua", "bad"), [
    ("mailto:a@example.com , \tmailto:b@example.com", ["mailto:a@example.com",
                                                       "mailto:b@example.com"], []),
    ("mailto:a@example.com,\nmailto:b@example.com", ["mailto:a@example.com",
                                                     "\nmailto:b@example.com"], ["non_ascii"]),
    ("mailto:a@example.com,mailto:b@example.com\x0b", ["mailto:a@example.com",
                                                       "mailto:b@example.com\x0b"], ["non_ascii"]),
])
def test_only_wsp_around_rua_commas_is_trimmed(value: str, rua: list[str],
                                               bad: list[str]) -> None:
    """tlsrpt-rua = "rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri): WSP is SP / HTAB only."""
    record = parse_tlsrpt_record(["v=TLSRPTv1; rua=" + value])
    assert record.rua == rua
    assert codes(record) == bad + ["rua_invalid_uri"] * len(bad)


def rua_errors(uri: str) -> list[tuple[str, str]]:
    return [(e.code, e.message) for e in parse_tlsrpt_record(["v=TLSRPTv1; rua=" + uri]).errors]


def test_a_uri_with_characters_outside_rfc_3986_is_named_in_the_message() -> None:
    """RFC 8460 §3: "!" in a URI MUST be percent-encoded; the message says what is wrong."""
    assert rua_errors("mailto:a!b@example.com") == [(
        "rua_invalid_uri", "'mailto:a!b@example.com' is not a URI (empty, or characters "
        "outside RFC 3986, or an unencoded '!')")]


@pytest.mark.parametrize("uri", [
    "mailto:tlsrpt?cc=tlsrpt@example.com",  # the address only in a header field
    "mailto:tlsrpt@example.com@",  # the domain after the last '@' is empty
    "mailto:@example.com", "mailto:tlsrpt@", "mailto:tlsrpt",
])
def test_a_mailto_uri_needs_local_at_domain_before_its_query(uri: str) -> None:
    """RFC 8460 §3 / RFC 6068: the mailto path is the address local@domain."""
    assert rua_errors(uri) == [("rua_invalid_uri", f"{uri!r}: mailto without local@domain")]


@pytest.mark.parametrize("uri", [
    "mailto:tlsrpt@example.com", "mailto:tlsrpt@example.com?subject=TLS-RPT",
    "mailto:tls%40rpt@example.com", "MAILTO:a@b",
    "https://example.com/tlsrpt", "https://X.example/", "HTTPS://XN--BCHER-KVA.EXAMPLE/TLSRPT",
    "https://user@example.com:443/x?y#z", "https://[::1]/", "https://[::1]:8443/tlsrpt", "https://[::1]:/",
    "https://[2001:db8::1]", "https://[1:2:3:4:5:6:7:8]/", "https://[::ffff:192.0.2.1]/",
    "https://example.com:/", "https://192.0.2.1:8443/r", "https://example.com:0443?x",
    "https://[v1.fe80::a+en1]/", "https://[V7.x]/", "https://[vF.a.b]/",
])
def test_well_formed_report_uris_are_accepted(uri: str) -> None:
    """RFC 8460 §3: mailto with an address, or https with a host (a name or an IP-literal)."""
    assert rua_errors(uri) == []


@pytest.mark.parametrize("uri", [
    "https://[1]/", "https://[]/", "https://[]:443/", "https://[:1]/", "https://[::1/",
    "https://[1:2:3:4:5:6:7:8/", "https://[::1]x/", "https://[::1]:x443/", "https://[::1]:44x/",
    "https://[::1]:443]/", "https://[::1]:1:2/", "https://[::1]]/", "https://[::g]/",
    "https://[v.x]/", "https://[v1x]/", "https://[v1.]/", "https://[vg.x]/", "https://[v1.x/y]/",
    "https://[v1.[]/", "https:///x", "https://user@/x", "https://:443/",
    "https://example.com:x/", "https://example.com:443x/", "https://example.com:-1/",
    "https://example.com:44:3/", "https://192.0.2.1:x/", "https://user@example.com:x?y",
])
def test_an_https_uri_without_a_valid_host_is_invalid(uri: str) -> None:
    """RFC 3986 §3.2.2: host = IP-literal / IPv4address / reg-name; IP-literal = "[" (IPv6address
    / IPvFuture) "]", and only ":" port (port = *DIGIT) may follow any host."""
    assert rua_errors(uri) == [("rua_invalid_uri", f"{uri!r}: https URI without a host")]


# -- a TXT record's character-strings (RFC 8461 §3.1: concatenated without separator) ---------

@pytest.mark.parametrize(("strings", "raw"), [
    (["v=STSv1; ", "id=1"], "v=STSv1; id=1"),
    ([b"v=STSv1;", b" id=", b"1"], "v=STSv1; id=1"),
    (["v=STS", b"v1; id=1"], "v=STSv1; id=1"),
    # one character per byte: bytes that are no UTF-8 and UTF-8 sequences alike
    ([b"v=STSv1; id=\xe9"], "v=STSv1; id=\xe9"),
    ([b"v=STSv1; id=\xc3\xa9"], "v=STSv1; id=\xc3\xa9"),
])
def test_character_strings_are_joined_byte_for_character(strings: list[str | bytes],
                                                         raw: str) -> None:
    """Split strings join without separator; each byte reads as one character (Latin-1)."""
    assert parse_sts_record(strings).raw == raw
    selected = select_sts_record([strings]).record
    assert selected is not None and selected.raw == raw


# -- the version field and the delimiters (RFC 8461 §3.1 ABNF; profile knobs) ------------------

@pytest.mark.parametrize("version", ["V=STSv1", "v=stsv1", "V=STSV1"])
@pytest.mark.parametrize(("knob", "fatal"), [("insensitive", False), ("unknown", None)])
def test_a_version_in_another_letter_case_is_read_as_the_case_knob_says(
        version: str, knob: str, fatal: bool | None) -> None:
    """txt_version_case: the record is read as version STSv1, a letter-case error said."""
    record = parse_sts_record([version + "; id=1"], profile(txt_version_case=knob))
    assert [(e.code, e.message, e.fatal) for e in record.errors] == [
        ("version_invalid", f"version {version!r} is not 'v=STSv1' (letter case)", fatal)]
    assert (record.id, record.extensions) == ("1", {})


def test_a_version_in_another_letter_case_is_no_version_under_the_rfc() -> None:
    """sts-version = %s"v=STSv1" (case-sensitive): ``V=STSv1`` is just another field."""
    assert sts_errors("V=STSv1; id=1") == [("version_missing", "no 'v=STSv1' field", True)]


@pytest.mark.parametrize("knob", ["insensitive", "unknown", "sensitive"])
@pytest.mark.parametrize(("text", "code"), [
    ("v=STSv2; id=1", "version_invalid"), ("V=STSv2; id=1", "version_missing"),
    ("v=STSv1; id=1", None)])
def test_other_versions_are_not_read_as_a_letter_case_variant(text: str, code: str | None,
                                                              knob: str) -> None:
    """Folding the case does not turn another version (or the right one) into a case error."""
    assert [c for c, _, _ in sts_errors(text, profile(txt_version_case=knob))] == (
        [code] if code else [])


@pytest.mark.parametrize(("text", "exact"), [
    ("v=STSv1 ; id=1", True), ("v=STSv1\t;id=1", True), ("v=STSv1", True), ("v=STSv1 ", True),
    ("v=STSv1;id=1", False), ("v=STSv1; id=1", False),
])
@pytest.mark.parametrize(("knob", "fatal"), [("exact", True), ("unknown", None)])
def test_a_profile_reading_only_v_stsv1_semicolon_says_so(text: str, exact: bool, knob: str,
                                                          fatal: bool | None) -> None:
    """txt_version_delimiter exact: the record must begin ``v=STSv1;``; abnf allows ``*WSP``."""
    errors = sts_errors(text, profile(txt_version_delimiter=knob))
    said = ("syntax", "'v=STSv1' not followed at once by ';'", fatal)
    assert (said in errors) == exact
    assert said not in sts_errors(text, profile(txt_version_delimiter="abnf"))


@pytest.mark.parametrize("lead", [" ", "\t "])
def test_leading_whitespace_does_not_hide_the_delimiter_after_the_version(lead: str) -> None:
    """A profile trimming leading WSP and reading ``v=STSv1;`` sees that prefix after the trim."""
    prof = profile(txt_leading_wsp="accept", txt_version_delimiter="exact")
    assert sts_errors(lead + "v=STSv1;id=1", prof) == [
        ("syntax", "whitespace before the version field", False)]


@pytest.mark.parametrize(("knob", "fatal"), [("reject", True), ("accept", False),
                                             ("unknown", None)])
@pytest.mark.parametrize(("text", "after"), [
    ("v=STSv1 ", "'v=STSv1'"), ("v=STSv1\t", "'v=STSv1'"), ("v=STSv1; id=1 ", "'id=1'"),
    ("v=STSv1; id=1;x=2\t", "'x=2'"),
])
def test_trailing_whitespace_is_judged_by_the_trailing_wsp_knob(
        text: str, after: str, knob: str, fatal: bool | None) -> None:
    """txt_trailing_wsp: the ABNF has WSP only around ``;``, never at the record's end."""
    errors = sts_errors(text, profile(txt_trailing_wsp=knob))
    assert [e for e in errors if e[0] != "id_missing"] == [
        ("trailing_whitespace", f"whitespace without ';' after {after}", fatal)]


@pytest.mark.parametrize("text", ["v=STSv1;id=1 ;x=2", "v=STSv1;id=1\t;x=2",
                                  "v=STSv1 ;id=1", "v=STSv1;x=2 ; id=1;"])
def test_whitespace_before_a_later_semicolon_is_a_warning(text: str) -> None:
    """sts-sep = *WSP ";" *WSP (erratum 6285): WSP before any ``;`` is allowed, and said."""
    assert sts_errors(text) == [("space_before_semicolon", "whitespace before a ';'", False)]
    assert sts_errors(text, profile(txt_space_before_semicolon="reject")) == [
        ("space_before_semicolon", "whitespace before a ';'", True)]


@pytest.mark.parametrize(("text", "expected"), [
    # a line break is not WSP: it stays in the value, and no WSP error is said for it
    ("v=STSv1; id=1\n", ["non_ascii", "id_invalid"]),
    ("v=STSv1;id=1\n;x=2", ["non_ascii", "id_invalid"]),
    ("v=STSv1; \nid=1", ["non_ascii", "field_invalid", "id_missing"]),
    ("v=STSv1 \n;id=1", ["non_ascii", "syntax"]),
    ("id=1;\nv=STSv1", ["non_ascii", "version_missing", "field_invalid"]),
])
def test_only_sp_and_htab_are_whitespace_around_fields(text: str, expected: list[str]) -> None:
    """WSP = SP / HTAB (RFC 5234 B.1): other characters are part of the field they touch."""
    assert codes(parse_sts_record([text])) == expected
    if text.startswith("v=STSv1; id="):
        assert parse_sts_record([text]).id == "1\n"


def test_text_after_the_version_without_semicolon_is_quoted() -> None:
    """``v=STSv1 <text>`` lacks its ``;``: the message shows the first field as written."""
    assert sts_errors("v=STSv1 \n;id=1")[1] == (
        "syntax", "missing ';' after 'v=STSv1': 'v=STSv1 \\n'", True)


@pytest.mark.parametrize(("knob", "fatal"), [("first", True), ("anywhere", False),
                                             ("unknown", None)])
def test_a_version_field_not_first_is_judged_by_the_position_knob(knob: str,
                                                                  fatal: bool | None) -> None:
    """txt_version_position: the RFC wants the record to begin with it."""
    assert sts_errors("id=1; v=STSv1", profile(txt_version_position=knob)) == [
        ("version_not_first", "'v=STSv1' is not the first field", fatal)]


@pytest.mark.parametrize(("text", "knobs"), [
    ("id=1; id=2; v=STSv1", {"txt_version_position": "anywhere"}),
    ("id=1; id=2", {"txt_id_syntax": "any"}),
])
def test_the_displaced_first_field_keeps_its_place(text: str, knobs: dict[str, str]) -> None:
    """The first field (not the version) is still the first: the first id is ``1``."""
    record = parse_sts_record([text], profile(**knobs))
    assert record.id == "1"
    assert ("id_duplicate", "second id '2'") in [(e.code, e.message) for e in record.errors]


@pytest.mark.parametrize(("knob", "fatal"), [("enforce", True), ("shape", True),
                                             ("ignore", False), ("unknown", None)])
@pytest.mark.parametrize("text", ["v=STSv1; id=1; x", "v=STSv1; x; id=1", "v=STSv1;x;id=1;"])
def test_a_field_that_is_not_name_value_is_judged_by_the_extension_knob(
        text: str, knob: str, fatal: bool | None) -> None:
    """txt_extension_abnf: every sts-field is ``name=value``; shape rejects exactly these. The
    fields after it are read all the same."""
    record = parse_sts_record([text], profile(txt_extension_abnf=knob))
    assert [(e.code, e.message, e.fatal) for e in record.errors] == [
        ("field_invalid", "field 'x' is not name=value", fatal)]
    assert record.id == "1"
