"""Citable toplists: the list id or date a toplist's name or file name states, into the scan's
manifest, the snapshot's name and its datasheet's citation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from survey.analysis.publish import publish, snapshot_name, toplist_identity
from survey.dataset.citation import default_name, identify
from tests.analysis.test_publish import make_run
from tests.analysis.test_stats import ROWS


@pytest.mark.parametrize(("given", "name", "provider", "list_id", "date"), [
    ("tranco_6P7X.csv", "tranco-6P7X", "tranco", "6P7X", None),
    ("/lists/tranco_X5KNN-1m.csv.zip", "tranco-X5KNN", "tranco", "X5KNN", None),
    ("tranco-LJ494", "tranco-LJ494", "tranco", "LJ494", None),
    ("top-1m-2026-11-28.csv.zip", "umbrella-2026-11-28", "umbrella", None, "2026-11-28"),
    ("umbrella-20261128.csv", "umbrella-2026-11-28", "umbrella", None, "2026-11-28"),
    ("majestic-2026-11-28.csv", "majestic-2026-11-28", "majestic", None, "2026-11-28"),
    ("crux-202610.csv", "crux-2026-10", "crux", None, "2026-10-01"),
    ("lists/mine-2026-02-30.csv", "mine-2026-02-30", None, None, None),  # no such day
    ("tranco-list.csv", "tranco-list", None, None, None),  # 'list' is no Tranco id
    ("tranco_2026-12-01.csv", "tranco_2026-12-01", None, None, "2026-12-01"),  # nor a date
    ("top-1m.csv", "top-1m", None, None, None),  # inside Tranco's and Umbrella's zips alike
])
def test_identity_from_names_and_files(given: str, name: str, provider: str | None,
                                       list_id: str | None, date: str | None) -> None:
    found = identify(given)
    assert (found.name, found.provider, found.list_id, found.date) == (
        name, provider, list_id, date)


def test_default_name_and_citations() -> None:
    assert default_name("/data/tranco_6P7X.csv") == "tranco-6P7X"
    assert default_name("/data/top-1m.csv") == "top-1m.csv"  # nothing citable: the file name
    assert default_name("-") == "stdin"
    assert identify("tranco_6P7X.csv").citation.startswith("Tranco list 6P7X (Le Pochat")
    assert identify("crux-202610").citation.endswith("release 2026-10")
    assert identify("majestic_million.csv").citation == "Majestic Million (date unknown)"


def test_snapshot_of_a_tranco_file_names_and_cites_its_list(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", ROWS, run_date="2026-11-28")
    manifest = json.loads((run / "manifest.json").read_text())
    # an older manifest: the file name only, as scan recorded it before list ids
    manifest["toplist"] = {"name": "tranco_K8W3Q.csv", "path": "/lists/tranco_K8W3Q.csv"}
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert toplist_identity(manifest).list_id == "K8W3Q"
    assert snapshot_name(manifest) == "2026-11-28-tranco-k8w3q-01234567"
    snapshot = publish(run, tmp_path / "datasets").path
    published = json.loads((snapshot / "manifest.json").read_text())
    assert published["toplist"]["list_id"] == "K8W3Q"
    assert published["toplist"]["provider"] == "tranco"
    sheet = (snapshot / "README.md").read_text()
    cite = sheet.split("## How to cite", 1)[1].split("##", 1)[0]
    assert "Tranco list K8W3Q (Le Pochat et al., NDSS 2019)" in cite
    assert snapshot.name in cite
