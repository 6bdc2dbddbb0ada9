"""The sender profiles are well-formed data: the RFC first, every knob set and sourced."""

from __future__ import annotations

import typing

from survey.core.policy import mx_matches, parse_policy, parse_sts_record, select_sts_record
from survey.core.senders import KNOBS, PROFILES, RFC8461, SenderProfile, knob_names, profile


def test_rfc_profile_comes_first_and_names_are_unique() -> None:
    assert PROFILES[0] is RFC8461
    assert RFC8461.name == "rfc8461"
    names = [p.name for p in PROFILES]
    assert len(names) == len(set(names))
    assert all(profile(n).name == n for n in names)


def test_knob_list_is_the_dataclass_fields() -> None:
    assert knob_names() == KNOBS


def test_every_knob_of_every_profile_has_a_source_and_a_legal_value() -> None:
    hints = typing.get_type_hints(SenderProfile)
    for p in PROFILES:
        assert set(p.sources) == set(KNOBS), p.name
        assert all(p.sources[k].strip() for k in KNOBS), p.name
        for knob in KNOBS:
            value = p.knob(knob)
            allowed = {a for arg in typing.get_args(hints[knob])
                       for a in (typing.get_args(arg) or (arg,))}
            if isinstance(value, int):
                assert value > 0 and int in allowed, (p.name, knob)
            elif value is None:  # a legal value ("no cap") when the knob's type has None
                assert type(None) in allowed, (p.name, knob)
            else:
                assert value in allowed, (p.name, knob, value)


def test_the_rfc_profile_is_sourced_from_the_rfc_and_guesses_nothing() -> None:
    assert all("RFC 8461" in s for s in RFC8461.sources.values())
    assert "unknown" not in {RFC8461.knob(k) for k in KNOBS}


def test_an_empty_mx_is_no_mx_only_for_a_sender_that_drops_it() -> None:
    body = b"version: STSv1\nmode: testing\nmx:\nmax_age: 86400\n"  # real 214.txt's shape
    for p in PROFILES:
        codes = {e.code: e.fatal for e in parse_policy(body, p).errors}
        if p.mx_empty_value == "dropped":
            assert codes.get("mx_missing") is True, p.name
        else:
            assert "mx_missing" not in codes and "mx_invalid" in codes, p.name


def test_u_label_mx_matching_follows_the_idna_knob() -> None:
    cases = {("ñaca.com", "Ñaca.com"): {"a_labels"},
             ("x.xn--aca-6ma.com", "x.ñaca.com"): {"a_labels", "host_a_labels"},
             ("*.xn--aca-6ma.com", "mx.ñaca.com"): {"a_labels", "host_a_labels"},
             ("mx.xn--aca-6ma.com", "mx.naca.com"): set()}
    for p in PROFILES:
        if p.idna == "unknown":
            continue
        for (pattern, host), matching in cases.items():
            assert mx_matches(pattern, host, p) == (p.idna in matching), (p.name, pattern, host)


def test_leading_whitespace_and_extension_shapes_follow_their_knobs() -> None:
    for p in PROFILES:
        lead = select_sts_record([(" v=STSv1; id=a",)], p).record
        assert (lead is not None and lead.valid) == (p.txt_leading_wsp == "accept"), p.name
        unchecked = parse_sts_record(("v=STSv1; id=a; _x=1",), p)
        assert unchecked.valid == (p.txt_extension_abnf in ("ignore", "shape")), p.name
        no_equals = parse_sts_record(("v=STSv1; id=a; x",), p)
        assert no_equals.valid == (p.txt_extension_abnf == "ignore"), p.name


def test_wildcard_depth_follows_its_knob() -> None:
    for p in PROFILES:
        if p.wildcard_depth == "unknown":
            continue
        assert mx_matches("*.example.com", "a.example.com", p), p.name
        assert not mx_matches("*.example.com", "example.com", p), p.name
        deep = mx_matches("*.example.com", "a.b.example.com", p)
        assert deep == (p.wildcard_depth == "any_depth"), p.name


def test_an_invalid_pattern_matches_only_where_the_profile_keeps_it() -> None:
    for p in PROFILES:
        kept = p.invalid_mx_pattern == "kept"
        assert mx_matches("mail_1.example.com", "MAIL_1.example.com", p) == kept, p.name
        assert not mx_matches("mail_1.example.com", "mail-1.example.com", p), p.name
        assert not mx_matches("*.*.example.com", "a.b.example.com", p), p.name
        assert mx_matches("mx.example.com.", "mx.example.com", p) == (
            p.mx_trailing_dot == "strip"), p.name


def test_version_case_and_delimiter_follow_their_knobs() -> None:
    for p in PROFILES:
        upper = select_sts_record([("V=STSv1; id=a",)], p).record
        assert (upper is not None and upper.valid) == (p.txt_version_case == "insensitive"), p.name
        late_space = parse_sts_record(("v=STSv1; id=a ;",), p)
        assert late_space.valid == (p.txt_space_before_semicolon == "accept"), p.name
        early_space = parse_sts_record(("v=STSv1 ; id=a",), p)
        assert early_space.valid == (p.txt_space_before_semicolon == "accept"
                                     and p.txt_version_delimiter == "abnf"), p.name
