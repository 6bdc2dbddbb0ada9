"""The snapshot reads with the readers people use: the datasets README's polars, pyarrow, pandas
and DuckDB snippets, run as written on a published snapshot, give its rows and counts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from survey.analysis.publish import publish
from tests.analysis.test_publish import make_run
from tests.analysis.test_stats import ROWS

README = Path(__file__).resolve().parents[2] / "datasets" / "README.md"


def snippets() -> dict[str, str]:
    """The README's Python blocks of "Reading a snapshot", by the module each imports first."""
    section = README.read_text().split("## Reading a snapshot", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    return {re.match(r"import (\w+)", block).group(1): block for block in blocks}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("readers")
    return publish(make_run(root / "run", ROWS), root / "datasets").path


def run_snippet(reader: str, snapshot: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(snippets()[reader].replace("datasets/<snapshot>", str(snapshot)), namespace)
    return namespace


EXPECTED = {s: sum(r["status"] == s for r in ROWS) for s in {r["status"] for r in ROWS}}
ENFORCE = sorted(r["domain"] for r in ROWS if r["status"] == "enforce")


def test_the_readme_shows_four_readers() -> None:
    assert set(snippets()) == {"polars", "pyarrow", "pandas", "duckdb"}


def test_polars(snapshot: Path) -> None:
    found = run_snippet("polars", snapshot)
    assert dict(found["by_status"].iter_rows()) == EXPECTED
    assert sorted(found["enforce"]["domain"].to_list()) == ENFORCE


def test_pyarrow(snapshot: Path) -> None:
    found = run_snippet("pyarrow", snapshot)
    assert found["table"].num_rows == len(ROWS)
    assert sorted(found["enforce_table"].column("domain").to_pylist()) == ENFORCE
    assert found["enforce_table"].column_names == ["rank", "domain", "mode"]


def test_pandas(snapshot: Path) -> None:
    found = run_snippet("pandas", snapshot)
    assert found["frame"]["status"].value_counts().to_dict() == EXPECTED
    assert found["shares"]["enforce"] == pytest.approx(EXPECTED["enforce"] / len(ROWS))


def test_duckdb(snapshot: Path) -> None:
    found = run_snippet("duckdb", snapshot)
    assert dict(found["counts"]) == EXPECTED
    assert found["counts"][0][1] == max(EXPECTED.values())  # ordered as the query says
