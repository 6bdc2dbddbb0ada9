"""Property tests of the parsers: they never raise, give only documented codes, round-trip valid
input, and ``mx_matches`` agrees with a plain reference implementation."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import survey.core.policy as policy_module
from survey.core.policy import (
    MAX_AGE_LIMIT,
    POLICY_ERROR_CODES,
    POLICY_MAX_BYTES,
    SELECTION_REASONS,
    STS_RECORD_ERROR_CODES,
    TLSRPT_RECORD_ERROR_CODES,
    TxtStrings,
    mx_matches,
    parse_policy,
    parse_sts_record,
    parse_tlsrpt_record,
    select_sts_record,
    select_tlsrpt_record,
)

# No deadline (CI machines are slow and shared); randomness and database from the profile
# conftest.py loads (derandomised in CI, failures kept locally).
PROFILE = settings(deadline=None, max_examples=200)

# Text biased towards the records' own vocabulary, so that deep branches are reached.
TOKENS = st.sampled_from(["v=STSv1", "v=TLSRPTv1", "id=", "rua=", "mailto:", "https://", "@",
                          ";", " ", "\t", ",", "=", "!", "a", "Z", "9", "-", "_", ".", "[", "]",
                          ":", "/", "?", "\xe9", "\x00", "\u2603"])
RECORD_TEXT = st.one_of(st.text(), st.lists(TOKENS, max_size=30).map("".join))
TXT_STRING = st.one_of(RECORD_TEXT, st.binary(), RECORD_TEXT.map(lambda s: s.encode("utf-8")))
TXT_RECORD = st.lists(TXT_STRING, max_size=5)


def as_text(strings: TxtStrings) -> str:
    return "".join(s.decode("latin-1") if isinstance(s, bytes) else s for s in strings)


@pytest.mark.slow
@PROFILE
@given(TXT_RECORD)
def test_sts_record_never_raises(strings: list[str | bytes]) -> None:
    rec = parse_sts_record(strings)
    assert rec.raw == as_text(strings)
    assert {e.code for e in rec.errors} <= STS_RECORD_ERROR_CODES
    assert rec.valid is all(e.fatal is False for e in rec.errors)
    if rec.valid:
        assert rec.raw.startswith("v=STSv1") and rec.id is not None


@pytest.mark.slow
@PROFILE
@given(TXT_RECORD)
def test_tlsrpt_record_never_raises(strings: list[str | bytes]) -> None:
    rec = parse_tlsrpt_record(strings)
    assert rec.raw == as_text(strings)
    assert {e.code for e in rec.errors} <= TLSRPT_RECORD_ERROR_CODES
    if rec.valid:
        assert rec.raw.startswith("v=TLSRPTv1") and rec.rua


@pytest.mark.slow
@PROFILE
@given(st.lists(TXT_RECORD, max_size=4))
def test_selection_counts(records: list[list[str | bytes]]) -> None:
    for select, tag in ((select_sts_record, "v=STSv1"), (select_tlsrpt_record, "v=TLSRPTv1")):
        sel = select(records)
        assert sel.candidates + sel.discarded == len(records)
        assert sel.candidates <= sum(as_text(r).startswith(tag) for r in records)
        assert (sel.record is not None) is (sel.candidates == 1)
        assert (sel.reason is None) is (sel.candidates == 1)
        assert sel.reason is None or sel.reason in SELECTION_REASONS


POLICY_LINE = st.one_of(
    st.text(max_size=40),
    st.tuples(st.sampled_from(["version", "mode", "max_age", "mx", "x", "Mode", " mx", ""]),
              st.sampled_from([":", ": ", ":\t", " :", ""]),
              st.one_of(st.sampled_from(["STSv1", "enforce", "none", "testing", "86400", "0",
                                         "31557601", "*.example.com", "a..b", "-1"]),
                        st.text(max_size=12)),
              st.sampled_from(["", " ", "\t", "\r"]))
    .map("".join),
)
POLICY_BODY = st.one_of(
    st.binary(),
    st.lists(POLICY_LINE, max_size=8).map(lambda ls: "\n".join(ls).encode("utf-8")),
    st.tuples(st.sampled_from([b"", b"\xef\xbb\xbf"]), st.binary(max_size=40),
              st.lists(POLICY_LINE, max_size=6).map(lambda ls: "\r\n".join(ls).encode()))
    .map(b"".join),
)


@pytest.mark.slow
@PROFILE
@given(POLICY_BODY)
def test_policy_never_raises(body: bytes) -> None:
    p = parse_policy(body)
    got = {e.code for e in p.errors}
    assert got <= POLICY_ERROR_CODES
    if p.valid:
        assert p.version == "STSv1" and p.mode in ("enforce", "testing", "none")
        assert p.max_age is not None and 0 <= p.max_age <= MAX_AGE_LIMIT
        assert p.mx or p.mode == "none"
    if p.max_age is not None and "max_age_out_of_range" not in got:
        assert p.max_age <= MAX_AGE_LIMIT


# --- valid input round-trips ---------------------------------------------------------------------

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
STS_ID = st.text(ALNUM, min_size=1, max_size=32)
EXT_NAME = st.tuples(st.sampled_from(ALNUM), st.text(ALNUM + "_-.", max_size=31)).map("".join)
EXT_VALUE = st.text("".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ";="), min_size=1)
WSP = st.text(" \t", max_size=2)


def split_anywhere(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


@pytest.mark.slow
@PROFILE
@given(STS_ID, st.dictionaries(EXT_NAME.filter(lambda n: n != "id"), EXT_VALUE, max_size=3),
       st.lists(WSP, min_size=8, max_size=8), st.booleans(), st.lists(st.integers(0, 400)))
def test_valid_sts_record_round_trips(sts_id: str, ext: dict[str, str], wsp: list[str],
                                      trailing: bool, cuts: list[int]) -> None:
    fields = [f"id={sts_id}", *(f"{k}={v}" for k, v in ext.items())]
    text = "v=STSv1"
    for i, f in enumerate(fields):
        text += f"{wsp[2 * i % 8]};{wsp[(2 * i + 1) % 8]}{f}"
    if trailing:
        text += f"{wsp[7]};{wsp[6]}"
    rec = parse_sts_record(split_anywhere(text, cuts))
    assert {e.code for e in rec.errors} <= {"space_before_semicolon"}  # a warning: still valid
    assert rec.valid
    assert (rec.id, rec.extensions) == (sts_id, ext)
    assert select_sts_record([[text], ["v=spf1 -all"]]).record == rec


HOST_LABEL = st.from_regex(r"\A[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?\Z")
HOST = st.lists(HOST_LABEL, min_size=1, max_size=4).map(".".join)
MX_PATTERN = st.tuples(st.sampled_from(["", "*."]), HOST).map("".join)


@pytest.mark.slow
@PROFILE
@given(st.lists(HOST, min_size=1, max_size=3).map(lambda hs: ["mailto:r@" + h for h in hs]),
       st.lists(WSP, min_size=4, max_size=4))
def test_valid_tlsrpt_record_round_trips(rua: list[str], wsp: list[str]) -> None:
    text = f"v=TLSRPTv1{wsp[0]};{wsp[1]}rua=" + f"{wsp[2]},{wsp[3]}".join(rua)
    rec = parse_tlsrpt_record([text])
    assert {e.code for e in rec.errors} <= {"space_before_semicolon"}
    assert rec.valid
    assert rec.rua == rua


@pytest.mark.slow
@PROFILE
@given(st.sampled_from(["enforce", "testing", "none"]), st.integers(0, MAX_AGE_LIMIT),
       st.lists(MX_PATTERN, min_size=1, max_size=4), st.sampled_from(["\n", "\r\n"]), WSP, WSP)
def test_valid_policy_round_trips(mode: str, max_age: int, mx: list[str], eol: str,
                                  after_colon: str, trailing: str) -> None:
    lines = [f"version:{after_colon}STSv1", f"mode:{after_colon}{mode}",
             f"max_age:{after_colon}{max_age}", *(f"mx:{after_colon}{m}" for m in mx)]
    p = parse_policy(eol.join(line + trailing for line in lines).encode())
    assert p.errors == []
    assert (p.version, p.mode, p.max_age, p.mx) == ("STSv1", mode, max_age, mx)


# --- mx_matches against a reference -------------------------------------------------------------

def reference_mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1 written plainly: compare label lists, "*" standing for one leftmost label."""
    def labels(name: str) -> list[str]:
        name = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in name)
        if name.endswith("."):
            name = name[:-1]
        return name.split(".")

    if pattern.endswith(".") or len(pattern.removeprefix("*.")) > 253:
        return False  # no trailing dot in sts-policy-mx-value: an invalid pattern matches nothing
    pat, hst = labels(pattern), labels(host)
    ldh = "abcdefghijklmnopqrstuvwxyz0123456789-"
    if any(not p or p[0] == "-" or p[-1] == "-" or len(p) > 63 or any(c not in ldh for c in p)
           for p in pat[1 if pat[0] == "*" and len(pat) > 1 else 0:]):
        return False
    if "" in pat or "" in hst:
        return False
    if pat[0] == "*" and len(pat) >= 2:
        return len(hst) == len(pat) and hst[1:] == pat[1:]
    return pat == hst


NAME_LABEL = st.sampled_from(["a", "b", "A", "mail", "MAIL", "*", "", "x-y", "é", "İ"])
NAME = st.tuples(st.lists(NAME_LABEL, max_size=4).map(".".join), st.sampled_from(["", ".", ".."])
                 ).map("".join)


@pytest.mark.slow
@PROFILE
@given(NAME, NAME)
def test_mx_matches_agrees_with_reference(pattern: str, host: str) -> None:
    assert mx_matches(pattern, host) is reference_mx_matches(pattern, host)


@pytest.mark.slow
@PROFILE
@given(MX_PATTERN, HOST, HOST_LABEL)
def test_mx_matches_on_related_names(pattern: str, host: str, label: str) -> None:
    # Names built from the same parts, so that matches are frequent.
    suffix = pattern.removeprefix("*.")
    for candidate in (suffix, f"{label}.{suffix}", f"{label}.{label}.{suffix}", host,
                      suffix.upper() + ".", f"{label}.{host}"):
        assert mx_matches(pattern, candidate) is reference_mx_matches(pattern, candidate)
    wildcard = pattern.startswith("*.")
    assert mx_matches(pattern, f"{label}.{suffix}") is wildcard
    assert mx_matches(pattern, suffix) is not wildcard
    assert mx_matches(pattern, f"{label}.{label}.{suffix}") is False


# --- documentation and cost ----------------------------------------------------------------------

def test_every_code_is_documented() -> None:
    doc = policy_module.__doc__ or ""
    for code in STS_RECORD_ERROR_CODES | TLSRPT_RECORD_ERROR_CODES | POLICY_ERROR_CODES:
        assert f"``{code}``" in doc, code
    for reason in SELECTION_REASONS:
        assert f"``{reason}``" in doc, reason


# Inputs that would make a careless parser superlinear, each built at a given size.
ADVERSARIAL_INPUTS: dict[str, Callable[[int], Callable[[], object]]] = {
    "long mx name": lambda n: partial(parse_policy, b"mx: " + b"a." * (n // 2 - 3) + b"\n"),
    "colons": lambda n: partial(parse_policy, b"x:" * (n // 2)),
    "line breaks": lambda n: partial(parse_policy, b"\n" * n),
    "many mx lines": lambda n: partial(parse_policy, (b"mx: a.b\n" * (n // 8))[:n]),
    "long mode": lambda n: partial(parse_policy, b"mode: " + b"x" * n),
    "sts fields": lambda n: partial(parse_sts_record, ["v=STSv1;" + "a=b;" * (n // 4)]),
    "sts spaces": lambda n: partial(parse_sts_record, ["v=STSv1" + " " * n]),
    "sts long values": lambda n: partial(
        parse_sts_record, ["v=STSv1 " + "x" * n + "; id=" + "y" * n + "; z" * n]),
    "long rua": lambda n: partial(parse_tlsrpt_record, ["v=TLSRPTv1; rua=mailto:" + "a" * n]),
    "many ruas": lambda n: partial(
        parse_tlsrpt_record, ["v=TLSRPTv1; rua=" + "mailto:a@b," * (n // 11)]),
    "sts selection": lambda n: partial(select_sts_record, [["v=STSv1;" * (n // 8)]] * 10),
    "mx match": lambda n: partial(mx_matches, "*." + "a." * n + "b", "c." + "a." * n + "b"),
}

# Slack for calls too fast to time: a quadratic parser still this fast at the full size costs
# nothing worth catching (16 x t(n/4) < 8 x t(n/4) + slack means t(n/4) < 6 ms, t(n) < 0.1 s).
LINEAR_SLACK_S = 0.05


def _cpu_seconds(call: Callable[[], object]) -> tuple[float, object]:
    """Best of three, in CPU time: neither a busy machine nor one collector pause makes it fail."""
    best, result = float("inf"), None
    for _ in range(3):
        start = time.process_time()
        result = call()
        best = min(best, time.process_time() - start)
    return best, result


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ADVERSARIAL_INPUTS))
def test_large_adversarial_inputs_parse_in_linear_time(name: str) -> None:
    # Four times the input may cost four times the CPU (twice that, for noise), never the sixteen
    # times of a quadratic parser. A ratio, not a wall-clock bound: the same on a slow machine,
    # under load, or under mutmut's instrumentation, which slows both sizes alike.
    build, n = ADVERSARIAL_INPUTS[name], POLICY_MAX_BYTES
    small, _ = _cpu_seconds(build(n // 4))
    full, result = _cpu_seconds(build(n))
    assert full <= 8 * small + LINEAR_SLACK_S, (name, small, full)
    errors = getattr(result, "errors", [])
    assert all(len(e.message) < 200 for e in errors), errors  # quoted input is shortened
