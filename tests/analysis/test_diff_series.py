"""A series over time never adds up two snapshots (same day, other toplist) into one point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from survey.analysis.diff import adoption_over_time, latest_toplist_series, series_label
from survey.analysis.publish import publish
from tests.analysis.test_publish import evolve, make_run
from tests.analysis.test_stats import ROWS

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow


def _snapshot(root: Path, name: str, toplist: str, run_date: str, *, later: bool = False) -> Path:
    run = make_run(root / name, evolve(ROWS) if later else ROWS, run_date=run_date,
                   run_id=name * 8)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["toplist"] = {"name": toplist, "date": run_date}
    (run / "manifest.json").write_text(json.dumps(manifest))
    return publish(run, root / "datasets").path


def test_same_day_snapshots_are_labelled_apart_and_repeats_refused(tmp_path: Path) -> None:
    tranco = _snapshot(tmp_path, "a", "tranco-6P7X", "2026-10-01")
    umbrella = _snapshot(tmp_path, "b", "umbrella", "2026-10-01")
    labels = [series_label(tranco), series_label(umbrella)]
    assert labels == [tranco.name, umbrella.name]
    assert labels == ["2026-10-01-tranco-6p7x-aaaaaaaa", "2026-10-01-umbrella-bbbbbbbb"]
    assert series_label(tmp_path / "a") == tranco.name  # the run: the name publish gives it
    both = adoption_over_time([tranco, umbrella])  # distinct labels: one row each, no sum
    assert both["snapshot"].to_list() == labels
    assert both["enforce"].to_list() == [2, 2]
    with pytest.raises(ValueError, match="several snapshots labelled 2026-10-01-tranco-6p7x"):
        adoption_over_time([tranco, umbrella, tmp_path / "a"])
    assert series_label(tmp_path) == tmp_path.name  # no manifest: the directory's name


def test_latest_toplist_series_picks_the_toplist_surveyed_last(tmp_path: Path) -> None:
    t1 = _snapshot(tmp_path, "a", "tranco-6P7X", "2026-10-01")
    u1 = _snapshot(tmp_path, "b", "umbrella", "2026-10-01")
    t2 = _snapshot(tmp_path, "c", "tranco-6P7X", "2026-11-01", later=True)
    u0 = _snapshot(tmp_path, "d", "umbrella", "2026-09-01")
    assert latest_toplist_series([t1, u1, t2, u0]) == ("tranco-6P7X", [t1, t2])
    assert latest_toplist_series([u0, u1]) == ("umbrella", [u0, u1])
    assert latest_toplist_series([]) == (None, [])
    over = adoption_over_time(latest_toplist_series([t1, u1, t2, u0])[1])
    assert over["enforce"].to_list() == [2, 4]


def test_trends_notebook_on_snapshots_of_two_toplists(tmp_path: Path) -> None:
    from survey.analysis.notebooks import execute_notebook, series_notebooks

    _snapshot(tmp_path, "a", "umbrella", "2026-10-01")
    _snapshot(tmp_path, "b", "tranco-6P7X", "2026-10-01")
    _snapshot(tmp_path, "c", "tranco-6P7X", "2026-11-01", later=True)
    nb = execute_notebook(series_notebooks()[0], {"SNAPSHOTS": str(tmp_path / "datasets")},
                          timeout=180)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "snapshots of several toplists: using tranco-6P7X (2 of 3)" in text
    assert "2 snapshots" in text and "umbrella" not in text.split("2 snapshots")[1]
