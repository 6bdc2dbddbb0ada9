"""Replay every fuzz corpus file through its harness's checks (no atheris needed).

The corpus holds the RFC examples, hand-made tricky inputs and whatever ``make fuzz`` kept, so
each input that ever reached new code (or crashed) stays a regression test in ``make test``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.harnesses import (
    TARGETS,
    check_dns_response,
    check_policy,
    check_sts_record,
    check_tlsrpt_record,
    split_records,
)

CORPUS = Path(__file__).parent / "fuzz" / "corpus"


def corpus_files(target: str) -> list[Path]:
    return sorted(p for p in (CORPUS / target).iterdir() if p.is_file())


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_corpus_replays_cleanly(target: str) -> None:
    files = corpus_files(target)
    assert len(files) >= 10, f"corpus of {target} has only {len(files)} files"
    assert len(files) <= 400, f"corpus of {target} has {len(files)} files: minimise it"
    check = TARGETS[target]
    start = time.process_time()  # CPU time: a busy machine stretches wall time, not this
    for path in files:
        try:
            check(path.read_bytes())
        except Exception as exc:
            raise AssertionError(f"{target} fails on {path.name}: {exc!r}") from exc
    assert time.process_time() - start < 10, f"replaying {target} is slow"


def test_every_corpus_dir_has_a_target() -> None:
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(TARGETS)


# The checks must be able to fail: each catches a planted violation of its property.

def test_checks_reject_a_broken_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.fuzz.harnesses as harnesses
    from survey.core.policy import ParseError, Policy, StsRecord

    def bad_sts(strings: object) -> StsRecord:
        return StsRecord(raw="", errors=[ParseError("made_up", "x")])

    monkeypatch.setattr(harnesses, "parse_sts_record", bad_sts)
    with pytest.raises(AssertionError, match=r"concatenation|undocumented"):
        check_sts_record(b"v=STSv1; id=1")

    monkeypatch.setattr(harnesses, "parse_policy",
                        lambda body: Policy(version="STSv1", mode="enforce", max_age=1))
    with pytest.raises(AssertionError, match="without mx"):
        check_policy(b"version: STSv1\n")


def test_dns_check_rejects_a_fast_path_that_accepts_any_id(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.fuzz.harnesses as harnesses
    from survey.probes.dns import Answer

    monkeypatch.setattr(harnesses, "check_response", lambda data, qid, question: Answer(0))
    data = (CORPUS / "dns_response" / "seed-nxdomain").read_bytes()
    with pytest.raises(AssertionError, match="another id"):
        check_dns_response(data)


def test_record_input_format() -> None:
    assert split_records(b"a\x00b\nc") == [[b"a", b"b"], [b"c"]]
    check_tlsrpt_record(b"v=TLSRPTv1; rua=mailto:a@b\x00,https://h/\nv=TLSRPTv1; rua=x")



# Between fuzzing sessions, hypothesis mutates the seeds in ``make test`` (cheap, no atheris).

@st.composite
def mutated_seed(draw: st.DrawFn, target: str) -> bytes:
    """A seed file with a few byte-level edits: flips, cuts, insertions, duplicated slices."""
    seeds = [p for p in corpus_files(target) if p.name.startswith("seed-")]
    data = bytearray(draw(st.sampled_from(seeds)).read_bytes())
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "duplicate"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:at + draw(st.integers(1, 16))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[at:at] = data[at:at + draw(st.integers(1, 64))]
    return bytes(data)


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_mutated_seeds_keep_the_properties(target: str) -> None:
    @settings(max_examples=100, deadline=None)
    @given(mutated_seed(target))
    def run(data: bytes) -> None:
        TARGETS[target](data)

    run()
