"""Notebooks run on a kernel reached over IPC, not TCP: `make run` printed ipykernel's "running
over TCP without encryption" warning once per notebook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ipykernel.kernelapp
import nbformat
import pytest

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

WARNING = "running over TCP without encryption"

SCRIPT = """
import sys
from pathlib import Path
from survey.analysis.notebooks import execute_notebook
nb = execute_notebook(Path(sys.argv[1]), {"X": 20})
print("OUTPUT", nb.cells[-1].outputs[0]["text"].strip())
"""


def test_notebooks_run_without_the_kernels_tcp_warning(tmp_path: Path) -> None:
    # the warning is still in the installed ipykernel: its absence below means something
    assert WARNING in Path(ipykernel.kernelapp.__file__).read_text()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("X = 1", metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_code_cell("print(X + 1)")]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "OUTPUT 21" in done.stdout  # the injected parameter reached the kernel
    assert WARNING not in done.stderr + done.stdout
    assert "Parent appears to have exited" not in done.stderr  # the kernel was shut down
