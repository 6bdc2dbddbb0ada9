"""Real inputs: policy files and TXT records from public repositories, each one's verdict pinned
per sender profile.

The inputs are kept byte for byte under ``tests/data`` (``real_policies/*.txt`` with
``real_policies/SOURCES.tsv``: repository, path, commit and SHA-256 of each file;
``real_txt.tsv``: each record with the repository, path and commit it was read from; octoDNS
zone files escape ``;`` as ``\\;``, so their records are kept as octoDNS publishes them, without
the backslash). The expected verdicts were computed once with
``python -m tests.core.test_real_inputs --write``, reviewed, and are stored as data
(``real_policies/EXPECTED.tsv``, the ``expected`` columns of ``real_txt.tsv``); the tests
recompute them and compare. A verdict is ``SenderOutcome.effect``: the mode a profile applies,
``ignored`` or ``unknown``. A policy is judged as served with status 200 and ``text/plain`` under
a valid ``_mta-sts`` record, a record as the only one at its name in front of a valid policy, so
each verdict is about the file or the record alone.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from survey.core.outcomes import sender_outcome
from survey.core.policy import select_tlsrpt_record
from survey.core.senders import PROFILES
from tests.core.test_outcomes import obs

DATA = Path(__file__).resolve().parents[1] / "data"
POLICIES = DATA / "real_policies"
SOURCES = POLICIES / "SOURCES.tsv"
EXPECTED = POLICIES / "EXPECTED.tsv"
TXT = DATA / "real_txt.tsv"
NAMES = [p.name for p in PROFILES]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None))


def policy_verdicts(body: bytes) -> list[str]:
    """Each profile's verdict on ``body`` served well under a valid record."""
    o = obs(body=body)
    return [sender_outcome(p, o).effect for p in PROFILES]


def record_verdicts(kind: str, record: str) -> list[str]:
    """Each profile's verdict on an ``_mta-sts`` record; for TLS-RPT the RFC 8460 reading."""
    if kind == "sts":
        o = obs(txt=((record,),))
        return [sender_outcome(p, o).effect for p in PROFILES]
    selection = select_tlsrpt_record([(record,)])
    codes = sorted({e.code for e in selection.record.errors}) if selection.record else ["none"]
    return [",".join(codes) or "valid"]


def test_every_policy_file_is_listed_with_its_source_and_unchanged() -> None:
    sources = _rows(SOURCES)
    files = sorted(p.name for p in POLICIES.glob("*.txt"))
    assert [r["file"] for r in sources] == files
    assert len(files) >= 300
    for r in sources:
        assert hashlib.sha256((POLICIES / r["file"]).read_bytes()).hexdigest() == r["sha256"]
        assert r["repository"].count("/") == 1 and len(r["commit"]) == 40, r


def test_expected_verdicts_cover_every_file_and_profile() -> None:
    rows = _rows(EXPECTED)
    assert list(rows[0])[1:] == NAMES
    assert sorted(r["file"] for r in rows) == sorted(p.name for p in POLICIES.glob("*.txt"))


@pytest.mark.parametrize("row", _rows(EXPECTED), ids=lambda r: r["file"])
def test_real_policy_verdict_per_profile(row: dict[str, str]) -> None:
    body = (POLICIES / row["file"]).read_bytes()
    assert dict(zip(NAMES, policy_verdicts(body), strict=True)) == {n: row[n] for n in NAMES}


def test_real_txt_records_are_sourced() -> None:
    rows = _rows(TXT)
    assert {r["kind"] for r in rows} == {"sts", "tlsrpt"}
    assert len({r["record"] for r in rows}) == len(rows) >= 80
    for r in rows:
        assert json.loads(r["record"]).startswith(("v=STSv1", "v=TLSRPTv1")), r
        assert r["repository"].count("/") == 1 and len(r["commit"]) == 40, r


@pytest.mark.parametrize("row", _rows(TXT), ids=lambda r: r["record"][:40])
def test_real_txt_verdict(row: dict[str, str]) -> None:
    verdicts = record_verdicts(row["kind"], json.loads(row["record"]))
    assert verdicts == row["expected"].split(" ")


def summary() -> str:
    """How often each profile applies / ignores the real policies, and how often they split."""
    rows = _rows(EXPECTED)
    lines = [f"{len(rows)} real policies"]
    for n in NAMES:
        lines.append(f"  {n:26} " + ", ".join(f"{k} {v}" for k, v in
                                              sorted(Counter(r[n] for r in rows).items())))
    split = sum(len({r[n] for n in NAMES if r[n] != "unknown"}) > 1 for r in rows)
    lines.append(f"  profiles disagree on {split} ({split / len(rows):.1%})")
    return "\n".join(lines)


def write() -> None:
    """Recompute every expected verdict (review the diff before committing it)."""
    files = sorted(p.name for p in POLICIES.glob("*.txt"))
    with EXPECTED.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None,
                         lineterminator="\n")
        out.writerow(["file", *NAMES])
        for name in files:
            out.writerow([name, *policy_verdicts((POLICIES / name).read_bytes())])
    rows = _rows(TXT)
    with TXT.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None,
                         lineterminator="\n")
        out.writerow(["kind", "record", "repository", "path", "commit", "expected"])
        for r in rows:
            verdicts = record_verdicts(r["kind"], json.loads(r["record"]))
            out.writerow([r["kind"], r["record"], r["repository"], r["path"], r["commit"],
                          " ".join(verdicts)])


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    print(summary())
