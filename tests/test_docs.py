"""The README's reference tables are the code's (one source of truth)."""

from __future__ import annotations

import json

from survey.core.mistakes import MISTAKES
from survey.dataset.schema import SCHEMA
from survey.readme import README, render


def test_readme_tables_match_the_code() -> None:
    text = README.read_text()
    assert render(text) == text, "run `python -m survey.readme` to regenerate the tables"


def test_every_column_and_mistake_is_documented() -> None:
    text = README.read_text()
    for field in SCHEMA:
        assert f"`{field.name}`" in text
        assert (field.metadata or {}).get(b"doc"), f"column {field.name} has no doc"
    for code in MISTAKES:
        assert f"`{code}`" in text


def test_readme_quotes_the_latest_benchmark() -> None:
    """The README's performance table is the one `make bench` last wrote (benchmarks/results)."""
    latest = json.loads((README.parent / "benchmarks" / "results" / "latest.json").read_text())
    readme = README.read_text()
    assert latest["command"] in readme and f"commit {latest['git_sha']}" in readme
    for row in latest["rows"]:
        if row["label"] in ("dnsperf", "naive", "scan", "scan-w2"):
            assert f"| {round(row['queries_per_s']):,} |" in readme, row["label"]
    assert f"{latest['ratios']['scan/naive']:.2f}x" in readme
