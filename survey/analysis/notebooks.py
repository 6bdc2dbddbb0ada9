"""Execute the analysis notebooks on a dataset, papermill-style, and export them to HTML.

A notebook's cell tagged ``parameters`` holds its defaults; we insert a cell tagged
``injected-parameters`` after it (papermill's convention, so papermill works on the same files)
and run the notebook with nbclient. Used by ``make run`` and by the tests, so a notebook that
breaks fails CI.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def inject_parameters(nb: Any, parameters: Mapping[str, object]) -> None:
    import nbformat

    source = "# Parameters (injected)\n" + "\n".join(
        f"{name} = {value!r}" for name, value in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    index = next(
        (i + 1 for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), 0
    )
    nb.cells.insert(index, cell)


def execute_notebook(
    notebook: Path,
    parameters: Mapping[str, object],
    *,
    out_html: Path | None = None,
    out_ipynb: Path | None = None,
    timeout: int = 600,
) -> Any:
    """Run ``notebook`` with ``parameters``; raises nbclient's CellExecutionError on failure."""
    import nbformat
    from nbclient import NotebookClient
    from traitlets.config import Config

    nb = nbformat.read(notebook, as_version=4)
    inject_parameters(nb, parameters)
    # IPC (Unix sockets in a private directory) rather than TCP on localhost, which any local
    # user could reach and which the kernel warns about ("running over TCP without encryption")
    # on every start: the kernel is ours, on this machine, for one notebook. The socket path is
    # absolute: the kernel runs in the notebook's directory, the client in ours.
    with tempfile.TemporaryDirectory(prefix="nb-") as sockets:
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "k")}})
        client = NotebookClient(nb, config=ipc, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(notebook.parent)}})
        client.execute()
    if out_ipynb is not None:
        out_ipynb.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_ipynb)
    if out_html is not None:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
        out_html.parent.mkdir(parents=True, exist_ok=True)
        out_html.write_text(body, encoding="utf-8")
    return nb


#: Notebooks over one dataset (parameter ``DATASET``) and over a series (``SNAPSHOTS``).
SINGLE_DATASET = ("adoption", "mistakes", "providers")
SERIES = ("trends",)


def analysis_notebooks() -> list[Path]:
    return [NOTEBOOK_DIR / f"{name}.ipynb" for name in SINGLE_DATASET]


def series_notebooks() -> list[Path]:
    return [NOTEBOOK_DIR / f"{name}.ipynb" for name in SERIES]
