"""The scan's output directory: Parquet parts written atomically, and the run's manifest.

Layout::

    OUTDIR/manifest.json                         the run (options, times, state, counts)
    OUTDIR/parts/part-<seq>-<runid8>.parquet     rows, zstd, the survey.dataset.schema schema
    OUTDIR/quarantine/                           parts found unreadable on resume

Exactly once rests on one rule: a domain is done iff it is in a complete part. A part is
written under a ``.tmp`` name, fsynced and renamed, so it exists whole or not at all; a crash
loses at most the rows not yet flushed, which the resume scans again. Only pyarrow and the
schema are used here: the sink knows nothing of probes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from survey.core.digests import NameSet
from survey.dataset import fsio
from survey.dataset.layout import MANIFEST as MANIFEST
from survey.dataset.layout import PART_ROWS as PART_ROWS
from survey.dataset.layout import PART_SECONDS as PART_SECONDS
from survey.dataset.layout import PARTS as PARTS
from survey.dataset.layout import QUARANTINE as QUARANTINE
from survey.dataset.layout import SHARDS as SHARDS
from survey.dataset.manifest import read_manifest as read_manifest
from survey.dataset.schema import rows_to_table

log = logging.getLogger(__name__)

#: Rows per Parquet row group (readers stream a dataset one row group at a time).
ROW_GROUP_ROWS = 1_000

_PART_NAME = re.compile(r"^part-(\d+)-([0-9A-Za-z]+)\.parquet$")


def part_sequence(path: Path) -> int | None:
    """The sequence number of a part file name, or None if it is not one."""
    match = _PART_NAME.match(path.name)
    return int(match.group(1)) if match else None


def part_files(outdir: Path) -> list[Path]:
    """The complete parts of ``outdir``, in sequence order."""
    parts = outdir / PARTS
    if not parts.is_dir():
        return []
    found = [p for p in parts.iterdir() if part_sequence(p) is not None]
    return sorted(found, key=lambda p: (part_sequence(p), p.name))


def write_part(path: Path, table: pa.Table, *, row_group_rows: int = ROW_GROUP_ROWS) -> None:
    """Write ``table`` to ``path`` atomically: tmp name, fsync, rename, fsync the directory.

    Through an open file: given a str, pyarrow parses ``run:2026/...`` as a URI and fails.
    """
    with fsio.replacing(path) as tmp, open(tmp, "wb") as handle:
        pq.write_table(table, handle, compression="zstd", row_group_size=row_group_rows)


def read_part(path: Path, columns: list[str] | None = None,
              schema: pa.Schema | None = None) -> pa.Table:
    """A part's table (``schema``: cast to it, e.g. to carry the schema's field docs).

    Through ``pa.OSFile`` (a path string is parsed as a URI, see ``write_part``) and
    ``ParquetFile.read``: ``pq.read_table`` on a Python file object left a native pool thread
    running that aborted the interpreter at exit (SIGABRT, ``terminate called without an active
    exception``) in 5-7 % of processes (apache/arrow#34314); this way aborted 0 of 200 and reads
    a part in 0.6 of the time (issue 17's note).
    """
    with pa.OSFile(os.fspath(path), "rb") as handle, pq.ParquetFile(handle) as parquet:
        table = parquet.read(columns=columns)
    return table if schema is None else table.cast(schema)


def read_part_schema(path: Path) -> pa.Schema:
    """A part's schema (footer only), read like ``read_part``."""
    with pa.OSFile(os.fspath(path), "rb") as handle, pq.ParquetFile(handle) as parquet:
        return parquet.schema_arrow


class PartWriter:
    """Rows in, parts out: a part per ``max_rows`` rows or ``max_seconds`` seconds.

    Holds at most one part's rows. ``add`` flushes when the part is full; the caller (the scan's
    writer task) calls ``flush_if_due`` when idle and ``close`` at the end, which also runs on
    cancellation so that finished rows are never lost to a graceful stop.
    """

    def __init__(
        self,
        outdir: Path,
        run_id: str,
        *,
        max_rows: int = PART_ROWS,
        max_seconds: float = PART_SECONDS,
        row_group_rows: int = ROW_GROUP_ROWS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_rows < 1 or max_seconds <= 0:
            raise ValueError("max_rows must be >= 1 and max_seconds > 0")
        self.outdir = outdir
        self.parts_dir = outdir / PARTS
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self.run_tag = re.sub(r"[^0-9A-Za-z]", "", run_id)[:8] or "run"
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self.row_group_rows = row_group_rows
        self._clock = clock
        self._rows: list[dict[str, Any]] = []
        self._first_at: float | None = None
        existing = [part_sequence(p) or 0 for p in part_files(outdir)]
        self._next_seq = max(existing, default=0) + 1
        self.rows_written = 0
        self.parts_written: list[Path] = []

    @property
    def pending(self) -> int:
        """Rows added but not yet in a complete part."""
        return len(self._rows)

    def add(self, row: dict[str, Any]) -> Path | None:
        """Buffer one row; returns the part written if this row filled it."""
        if not self._rows:
            self._first_at = self._clock()
        self._rows.append(row)
        if len(self._rows) >= self.max_rows:
            return self.flush()
        return None

    def seconds_until_due(self) -> float:
        """How long the buffered rows may still wait (infinite when nothing is buffered)."""
        if self._first_at is None:
            return float("inf")
        return max(0.0, self._first_at + self.max_seconds - self._clock())

    def flush_if_due(self) -> Path | None:
        return self.flush() if self.seconds_until_due() <= 0 else None

    def flush(self) -> Path | None:
        """Write the buffered rows as one part (nothing when empty); returns its path."""
        if not self._rows:
            return None
        path = self.parts_dir / f"part-{self._next_seq:06d}-{self.run_tag}.parquet"
        write_part(path, rows_to_table(self._rows), row_group_rows=self.row_group_rows)
        self._next_seq += 1
        self.rows_written += len(self._rows)
        self.parts_written.append(path)
        self._rows = []
        self._first_at = None
        return path

    def close(self) -> None:
        self.flush()


# --- resume ------------------------------------------------------------------------------------

def _quarantine(outdir: Path, part: Path, reason: str) -> Path:
    target_dir = outdir / QUARANTINE
    target_dir.mkdir(exist_ok=True)
    target = target_dir / part.name
    n = 1
    while target.exists():
        target = target_dir / f"{part.name}.{n}"
        n += 1
    os.replace(part, target)
    log.warning("%s: unreadable part moved to %s (%s); its domains will be scanned again",
                part, target, reason)
    return target


def remove_stray_tmp(outdir: Path) -> list[Path]:
    """Delete half-written ``.tmp`` files left by a crash (they never count as done)."""
    removed: list[Path] = []
    for directory in (outdir, outdir / PARTS):
        if directory.is_dir():
            for tmp in directory.glob(f"*{fsio.TMP_SUFFIX}"):
                tmp.unlink()
                removed.append(tmp)
    return removed


def read_part_domains(part: Path) -> list[str]:
    """The ``domain`` column of a part; raises on a truncated or corrupt file.

    Every column is decoded, not only ``domain``: a damaged page elsewhere would otherwise pass
    here and later break every reader of the dataset (one part in memory at a time).
    """
    table = read_part(part)
    domains: list[str] = table.column("domain").to_pylist()
    if any(d is None for d in domains):
        raise ValueError("null domain")
    return domains


def _completed_parts(outdir: Path) -> Iterator[list[str]]:
    """The domains of each complete part. Stray ``.tmp`` files are removed; a part that cannot
    be read is moved to ``quarantine/`` with a warning, so that its domains are scanned again
    rather than lost or counted twice."""
    remove_stray_tmp(outdir)
    for part in part_files(outdir):
        try:
            domains = read_part_domains(part)
        except (OSError, pa.ArrowException, ValueError) as exc:
            _quarantine(outdir, part, f"{type(exc).__name__}: {exc}")
            continue
        yield domains


def completed_domains(outdir: Path) -> set[str]:
    """The domains already in complete parts (see ``_completed_parts`` for damaged ones)."""
    done: set[str] = set()
    for domains in _completed_parts(outdir):
        done.update(domains)
    return done


def completed_names(outdir: Path) -> NameSet:
    """``completed_domains`` as 64-bit digests: what a resumed scan skips, in ~32 bytes a
    domain instead of ~108 (docs/zone-scale.md); answers ``in`` and ``len`` only."""
    done = NameSet()
    for domains in _completed_parts(outdir):
        done.update(domains)
    return done


def drop_rows(outdir: Path, status: str) -> int:
    """Remove the rows with ``status`` from every part, part by part atomically; how many.

    For ``scan --retry-errors``: the dropped domains are no longer done, so the resume that
    follows probes exactly them and writes their new rows. A domain is never in two parts at
    any moment: a crash between two parts leaves the other parts' rows in place (still errors,
    dropped by the next ``--retry-errors``), and a crash after the drop leaves domains that the
    next run probes like any unfinished domain. Call ``completed_domains`` first (quarantine).
    """
    dropped = 0
    for part in part_files(outdir):
        table = read_part(part)
        kept = table.filter(pc.invert(pc.equal(table.column("status"), status)))
        if kept.num_rows == table.num_rows:
            continue
        if kept.num_rows:
            write_part(part, kept)
        else:
            part.unlink()
            fsio.fsync_path(part.parent)
        dropped += table.num_rows - kept.num_rows
    return dropped


# --- manifest ----------------------------------------------------------------------------------

def utc_now() -> str:
    """Now, as the ISO 8601 UTC string the manifest uses."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_manifest(outdir: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically (tmp + fsync + rename): it is never half written."""
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    fsio.atomic_write_bytes(outdir / MANIFEST, text.encode("utf-8"))


def status_counts(outdir: Path) -> dict[str, int]:
    """Domains by status over every complete part (all sessions of a resumed run)."""
    counts: dict[str, int] = {}
    for part in part_files(outdir):
        for status in read_part(part, columns=["status"]).column("status").to_pylist():
            counts[status] = counts.get(status, 0) + 1
    return counts
