"""Every analysis notebook executes on a test dataset (a broken notebook fails CI)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pyarrow.parquet as pq
import pytest

from survey.notebooks import analysis_notebooks, execute_notebook
from survey.schema import rows_to_table
from tests.test_stats import ROWS

NOTEBOOKS = analysis_notebooks()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nbdata")
    (root / "parts").mkdir()
    pq.write_table(rows_to_table(ROWS), root / "parts" / "part-1.parquet")
    return root


def test_the_three_analysis_notebooks_exist() -> None:
    names = {p.stem for p in NOTEBOOKS}
    assert {"adoption", "mistakes", "providers"} <= names


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs_and_has_parameters(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_on_dataset(notebook: Path, dataset: Path, tmp_path: Path) -> None:
    html = tmp_path / f"{notebook.stem}.html"
    nb = execute_notebook(notebook, {"DATASET": str(dataset)}, out_html=html, timeout=180)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    svgs = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert svgs, "each notebook shows at least one figure"
    assert html.stat().st_size > 10_000
