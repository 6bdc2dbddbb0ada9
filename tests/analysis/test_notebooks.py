"""Every analysis notebook executes on a test dataset (a broken notebook fails CI)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pyarrow.parquet as pq
import pytest

from survey.analysis.notebooks import analysis_notebooks, execute_notebook, series_notebooks
from survey.analysis.publish import publish
from survey.dataset.schema import rows_to_table
from tests.analysis.test_stats import ROWS

NOTEBOOKS = analysis_notebooks()
ALL_NOTEBOOKS = sorted(Path(NOTEBOOKS[0]).parent.glob("*.ipynb"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nbdata")
    (root / "parts").mkdir()
    pq.write_table(rows_to_table(ROWS), root / "parts" / "part-1.parquet")
    return root


def test_every_notebook_is_known_and_exists() -> None:
    names = {p.stem for p in ALL_NOTEBOOKS}
    assert names == {p.stem for p in NOTEBOOKS + series_notebooks()}
    assert {"adoption", "mistakes", "providers", "trends"} <= names


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=[p.stem for p in ALL_NOTEBOOKS])
def test_notebook_is_stored_without_outputs_and_has_parameters(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    # nbformat 4.5 wants a unique id per cell (a missing one warns now, errors in future nbformat)
    ids = [c.get("id") for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]]
    assert None not in ids and len(set(ids)) == len(ids)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_on_dataset(notebook: Path, dataset: Path, tmp_path: Path) -> None:
    html = tmp_path / f"{notebook.stem}.html"
    nb = execute_notebook(notebook, {"DATASET": str(dataset)}, out_html=html, timeout=180)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    svgs = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert svgs, "each notebook shows at least one figure"
    assert html.stat().st_size > 10_000


@pytest.mark.slow
def test_trends_notebook_on_a_series(tmp_path: Path) -> None:
    from tests.analysis.test_publish import evolve, make_run

    first = make_run(tmp_path / "r1", ROWS, run_id="aaaa1111", finished="2026-10-01T00:00:00Z")
    second = make_run(tmp_path / "r2", evolve(ROWS), run_id="bbbb2222",
                      finished="2026-11-01T00:00:00Z")
    for run in (first, second):
        publish(run, tmp_path / "datasets")
    notebook = series_notebooks()[0]
    nb = execute_notebook(notebook, {"SNAPSHOTS": str(tmp_path / "datasets")},
                          out_html=tmp_path / "trends.html", timeout=180)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "2 snapshots" in text
    assert "enforce without testing: 3 of 5" in text
    svgs = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) >= 3
    assert any("Longitudinal mistakes per interval" in svg for svg in svgs)
