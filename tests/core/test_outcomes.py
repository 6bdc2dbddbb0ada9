"""Per-sender outcomes: each profile's reading of a domain, the RFC's equal to ``status``."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from survey.core.classify import classify
from survey.core.facts import parse_facts
from survey.core.observations import DnsResult, DnsStatus, DomainObservations, HttpsFetch
from survey.core.outcomes import (
    SenderOutcome,
    disagree,
    disagreement_class,
    sender_outcome,
    sender_outcomes,
)
from survey.core.senders import PROFILES, RFC8461, SenderProfile, profile
from survey.core.verdict import Status
from tests.conftest import count_calls
from tests.core.test_catalogue import SCENARIOS, observations_for

D = "example.com"
GOOD = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"


def obs(txt: tuple[tuple[str, ...], ...] = (("v=STSv1; id=1",),), body: bytes | None = GOOD,
        status: int = 200, content_type: str | None = "text/plain",
        truncated: bool = False) -> DomainObservations:
    ok = DnsStatus.NOERROR
    fetch = None if body is None else HttpsFetch(
        f"https://mta-sts.{D}/.well-known/mta-sts.txt", "127.0.0.1", http_status=status,
        content_type=content_type, body=body, body_truncated=truncated)
    return DomainObservations(
        D, DnsResult(f"_mta-sts.{D}", "TXT", ok, 0, txt=txt),
        DnsResult(f"_smtp._tls.{D}", "TXT", DnsStatus.NXDOMAIN, 3),
        DnsResult(D, "MX", ok, 0), DnsResult(f"mta-sts.{D}", "A", ok, 0, addresses=("127.0.0.1",)),
        fetch)


def variant(**knobs: object) -> SenderProfile:
    knobs.setdefault("name", "variant")
    return dataclasses.replace(RFC8461, **knobs)  # type: ignore[arg-type]


def test_a_clean_domain_is_applied_by_every_sender() -> None:
    outcomes = classify(obs()).sender_outcomes
    assert [o.sender for o in outcomes] == [p.name for p in PROFILES]
    assert all(o == SenderOutcome(o.sender, True, "enforce", None) for o in outcomes)
    assert not disagree(outcomes)


@pytest.mark.parametrize(("o", "knobs", "rfc_reason", "variant_effect"), [
    (obs(body=GOOD + b"\n"), {"blank_lines": "skip"}, "policy:blank_line", "enforce"),
    (obs(content_type="text/html"), {"content_type": "reject"}, None, "ignored"),
    (obs(txt=(("v=STSv1; id=1 ",),)), {"txt_trailing_wsp": "accept"},
     "txt:trailing_whitespace", "enforce"),
    (obs(body=GOOD + b"mode: testing\n"), {"duplicate_fields": "last"}, None, "testing"),
    (obs(status=302), {"redirects": "follow"}, "fetch:http_302", "unknown"),
    (obs(status=404), {"http_status": "any"}, "fetch:http_404", "enforce"),
    (obs(txt=(("v=STSv1; id=1",), ("v=STSv1; id=2",))), {"txt_multiple_records": "first_valid"},
     "txt:multiple_records", "enforce"),
    (obs(txt=(("v=STSv1; id=1",), ("v=spf1 -all",))), {"txt_other_records": "no_policy"},
     None, "ignored"),
    (obs(body=GOOD.replace(b"mode: enforce\n", b"")), {"missing_mode": "none"},
     "policy:mode_missing", "none"),
    (obs(body=GOOD.replace(b"mode: enforce", b"mode: Enforce")), {"mode_value_case": "insensitive"},
     "policy:mode_invalid", "enforce"),
    (obs(body=GOOD + b"<html>\n"), {"line_without_colon": "skip"}, "policy:syntax", "enforce"),
    (obs(body=b"junk\n" + GOOD), {"line_without_colon": "swallow_next"}, "policy:syntax",
     "ignored"),  # the version line goes with the junk: version missing
    (obs(body=GOOD.replace(b"max_age: 86400\n", b"")), {"missing_max_age": "default"},
     "policy:max_age_missing", "enforce"),
    (obs(body=GOOD.replace(b"86400", b"0")), {"max_age_zero": "reject"}, None, "ignored"),
    (obs(body=GOOD.replace(b"86400", b"+86400")), {"max_age_number": "lenient"},
     "policy:max_age_out_of_range", "enforce"),
    (obs(body=b"\xef\xbb\xbf" + GOOD), {"bom": "first_field_lost", "missing_version": "accept"},
     "policy:bom", "enforce"),
    (obs(body=GOOD + b"x: https://a\n"), {"colon_in_value": "reject"}, None, "ignored"),
    (obs(body=GOOD + b"x: caf\xc3\xa9\n"), {"charset": "ascii"}, None, "ignored"),
    (obs(body=GOOD.replace(b"mode: enforce\nmx: mx.example.com", b"mode: none")),
     {"mx_required_in_none": "yes"}, None, "ignored"),
    (obs(body=GOOD + b"mx: *.*.x\n"), {"invalid_mx_pattern": "kept"}, "policy:mx_invalid",
     "enforce"),
    (obs(body=GOOD.replace(b"\nmx", b"\n  mx")), {"indented_lines": "drop"},
     "policy:indented_line", "ignored"),  # the mx line is lost: enforce without mx
    # an indented line a sender drops is still a line: without ':' go-mtasts rejects it
    (obs(body=GOOD + b"  - aspmx2.example\n"), {"indented_lines": "drop"},
     "policy:indented_line", "ignored"),
    (obs(body=GOOD + b"  - aspmx2.example\n"),
     {"indented_lines": "drop", "line_without_colon": "skip"}, "policy:indented_line", "enforce"),
    (obs(body=GOOD + b"sp ace: x\n"), {"field_name_abnf": "ignore"}, "policy:syntax", "enforce"),
    (obs(txt=(("v=STSv1; id=foo include=x",),)), {"txt_id_syntax": "any_nonempty"},
     "txt:id_invalid", "ignored"),  # go-mtasts: WSP inside a value (txt_value_wsp reject)
    (obs(txt=(("v=STSv1; id=foo include=x",),)),
     {"txt_id_syntax": "any_nonempty", "txt_value_wsp": "accept"}, "txt:id_invalid", "enforce"),
    (obs(txt=(("v=STSv1; id=a-b",),)), {"txt_id_syntax": "any_nonempty"}, "txt:id_invalid",
     "enforce"),
    (obs(txt=(("v=STSv1;",),)), {"txt_id_syntax": "not_required"}, "txt:id_missing", "enforce"),
    (obs(txt=(("v=STSv1;; id=1",),)), {"txt_empty_field": "skip"}, "txt:syntax", "enforce"),
    (obs(body=GOOD, truncated=True), {"body_cap": None}, "fetch:too_large", "unknown"),
    (obs(body=GOOD.replace(b"\n", b"\r")), {"lone_cr": "line_end"}, "policy:lone_cr", "enforce"),
])
def test_each_knob_moves_the_outcome(o: DomainObservations, knobs: dict[str, object],
                                     rfc_reason: str | None, variant_effect: str) -> None:
    rfc = sender_outcome(RFC8461, o)
    assert rfc.reason == rfc_reason
    assert rfc.applies is (rfc_reason is None)
    assert sender_outcome(variant(**knobs), o).effect == variant_effect


def test_unknown_knob_gives_an_unknown_outcome_not_a_disagreement() -> None:
    o = obs(body=GOOD + b"\n")
    unknown = sender_outcome(variant(name="u", blank_lines="unknown"), o)
    assert unknown.applies is None and unknown.reason == "policy:blank_line"
    rfc = sender_outcome(RFC8461, o)
    assert not disagree([rfc, unknown])


def test_disagreement_class_names_who_does_what() -> None:
    o = obs(body=GOOD + b"\n")
    outcomes = [sender_outcome(p, o) for p in (RFC8461, variant(blank_lines="skip"))]
    assert disagree(outcomes)
    assert disagreement_class(outcomes) == "enforce: variant | ignored: rfc8461"


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_the_rfc_outcome_is_the_status(sc: object) -> None:
    verdict = classify(observations_for(sc))  # type: ignore[arg-type]
    if verdict.status is Status.ERROR:
        assert verdict.sender_outcomes == ()
        return
    rfc = verdict.sender_outcomes[0]
    assert rfc.sender == "rfc8461"
    in_effect = verdict.status in (Status.NONE, Status.TESTING, Status.ENFORCE)
    assert rfc.applies is in_effect
    assert rfc.mode == (str(verdict.status) if in_effect else None)
    assert ("senders_disagree" in verdict.mistakes) is disagree(verdict.sender_outcomes)


def test_profiles_split_on_the_constructs_the_issue_names() -> None:
    """From the research (/work/notes/senders_research.md): who applies a blank-line policy."""
    outcomes = {o.sender: o.effect for o in classify(obs(body=GOOD + b"\n")).sender_outcomes}
    assert outcomes["rfc8461"] == outcomes["mox"] == outcomes["go-mtasts"] == "ignored"
    assert outcomes["chasquid"] == outcomes["mailauth"] == "enforce"
    assert profile("mox").duplicate_fields == "first"


@pytest.mark.parametrize("txt", [(), (("v=spf1 -all",),), (("google-site-verification=x",),),
                                 (("id=1; v=STSv1",),), (("V=STSV1; id=1",),)])
def test_the_no_record_shortcut_says_what_each_profile_says(
        txt: tuple[tuple[str, ...], ...]) -> None:
    o = obs(txt=txt)
    assert sender_outcomes(o) == tuple(sender_outcome(p, o) for p in PROFILES)


_EDGES = [obs(), obs(body=None), obs(body=b""), obs(status=302), obs(status=404),
          obs(body=GOOD + b"\n"), obs(content_type="text/html"), obs(truncated=True),
          obs(body=GOOD + b"x" * (64 * 1024)), obs(txt=(("v=STSv1; id=1",), ("v=STSv1; id=2",)))]


@pytest.mark.parametrize("o", [*(observations_for(sc) for sc in SCENARIOS), *_EDGES])
def test_reusing_classifys_facts_changes_no_outcome(o: DomainObservations) -> None:
    """The RFC profile reads ``facts`` instead of parsing again: every outcome stays the same."""
    facts = parse_facts(o)
    assert sender_outcome(RFC8461, o, facts) == sender_outcome(RFC8461, o)
    assert sender_outcomes(o, facts=facts) == sender_outcomes(o)
    verdict = classify(o)  # an error verdict has no outcomes (its lookups failed)
    assert verdict.sender_outcomes == (() if verdict.status is Status.ERROR else sender_outcomes(o))


def test_classify_hands_its_facts_to_the_rfc_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """classify's outcomes parse the record and the policy once per profile but the RFC's, whose
    reading is classify's own parse (the outcomes are the same either way: only the cost
    tells a second parse apart)."""
    import survey.core.outcomes as outcomes_module

    calls: Counter[str] = Counter()
    for name in ("select_sts_record", "parse_policy"):
        count_calls(monkeypatch, calls, name, [outcomes_module])
    verdict = classify(obs())
    assert verdict.status is Status.ENFORCE
    others = len(PROFILES) - 1
    assert calls == Counter({"select_sts_record": others, "parse_policy": others})
