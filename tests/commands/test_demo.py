"""`make run` end to end on a small world: test internet, real scan, report, notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_make_run_on_a_small_world(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {**os.environ, "DEMO_DOMAINS": "400", "DEMO_OUT": str(out), "PYTHON": sys.executable}
    result = subprocess.run(["make", "-s", "run"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "demo finished" in result.stdout
    rows = pl.read_parquet(out / "scan" / "parts" / "*.parquet")
    assert rows.height == 400 and rows["domain"].n_unique() == 400
    assert set(rows["status"]) >= {"absent", "enforce"}
    assert (out / "report.html").stat().st_size > 20_000
    for name in ("adoption", "mistakes", "providers"):
        assert (out / "notebooks" / f"{name}.html").stat().st_size > 20_000
    for name in ("status", "funnel", "rank", "mistakes"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
