"""The publication index: one ``index.json`` at the root of a publication (directory or bucket
prefix) listing every complete snapshot, so that a periodic survey finds its previous snapshot
(``previous``) without listing a bucket, and users find the series.

``{"format": 1, "snapshots": [entry, ...]}``, entries ordered by run date then name; an entry
is added once, when its snapshot (and, under `run`, its report and diff) is complete, and never
changed: adding an entry already there changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from survey.dataset.destination import Destination

INDEX = "index.json"
FORMAT = 1


def read_index(dest: Destination) -> dict[str, Any]:
    """The index at ``dest`` (an empty one when there is none); ValueError when unreadable."""
    data = dest.read_bytes(INDEX)
    if data is None:
        return {"format": FORMAT, "snapshots": []}
    try:
        index = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"{dest.location}/{INDEX}: not JSON: {exc}") from exc
    if not isinstance(index, dict) or not isinstance(index.get("snapshots"), list):
        raise ValueError(f"{dest.location}/{INDEX}: not a snapshot index")
    return index


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def entry(manifest: dict[str, Any], sums: bytes, **files: str) -> dict[str, Any]:
    """The index entry of a published snapshot (its manifest as published, its SHA256SUMS)."""
    toplist = _object(manifest.get("toplist"))
    survey = _object(manifest.get("survey"))
    return {
        "snapshot": manifest["snapshot"], "survey": survey.get("name"),
        "run_date": manifest.get("run_date"), "toplist": toplist.get("name"),
        "toplist_citation": toplist.get("citation"), "rows": manifest.get("rows"),
        "status_counts": manifest.get("status_counts"),
        "sha256sums": hashlib.sha256(sums).hexdigest(),
        "files": dict(sorted(files.items())),
        "indexed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def find(index: dict[str, Any], snapshot: str) -> dict[str, Any] | None:
    return next((e for e in index["snapshots"] if e.get("snapshot") == snapshot), None)


def add(dest: Destination, new: dict[str, Any]) -> bool:
    """Add ``new`` unless its snapshot is listed already; True when the index was written."""
    index = read_index(dest)
    if find(index, new["snapshot"]) is not None:
        return False
    index["snapshots"] = sorted([*index["snapshots"], new],
                                key=lambda e: (str(e.get("run_date")), str(e.get("snapshot"))))
    dest.write_bytes(INDEX, (json.dumps(index, indent=1, sort_keys=True) + "\n").encode())
    return True


def previous(index: dict[str, Any], survey: str | None, run_date: str,
             toplist: str | None = None) -> dict[str, Any] | None:
    """The latest snapshot of the same survey before ``run_date`` (a survey without a name:
    the same toplist's), the one a periodic run compares with."""
    def same(e: dict[str, Any]) -> bool:
        if survey is not None:
            return e.get("survey") == survey
        return e.get("survey") is None and e.get("toplist") == toplist

    earlier = [e for e in index["snapshots"] if same(e) and str(e.get("run_date")) < run_date]
    return max(earlier, key=lambda e: (str(e.get("run_date")), str(e.get("snapshot"))),
               default=None)
