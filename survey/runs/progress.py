"""A sharded session's progress in the parent: each shard's rows by status, read from the
progress files its attempts write (``shards.FileProgress``) or from whatever a task function's
runner reports (an object store's uploads), fed into one ``Progress`` bar, never backwards."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path

from survey.runs.shards import COMMITTED, PROGRESS_FILE, SHARD_RECORD, read_json, shard_dir
from survey.scan.progress import Progress

#: (shard index, shard count) -> rows by status of that shard now.
ProgressReader = Callable[[int, int], dict[str, int]]


def shard_progress(outdir: Path, index: int, count: int) -> dict[str, int]:
    """Rows by status of one shard now: its record when committed, else its newest attempt's."""
    shard = shard_dir(outdir, index, count)
    record = read_json(shard / COMMITTED / SHARD_RECORD)
    if record is None:
        files = [p for p in shard.glob(f"attempt-*/{PROGRESS_FILE}")]
        newest = max(files, key=_mtime, default=None)
        record = read_json(newest) if newest is not None else None
    counts = (record or {}).get("counts", {})
    return {str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else {}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class ProgressFeed:
    """Feeds the parent's ``Progress`` from the shards' progress (never backwards): the local
    progress files under ``outdir`` unless ``read`` says where else to look."""

    def __init__(self, outdir: Path, count: int, progress: Progress,
                 read: ProgressReader | None = None) -> None:
        self.outdir, self.count, self.progress = outdir, count, progress
        self.read: ProgressReader = read if read is not None else (
            lambda index, count: shard_progress(outdir, index, count))
        self.shown = self.now()  # rows done in earlier sessions are not this session's progress

    def now(self) -> collections.Counter[str]:
        now: collections.Counter[str] = collections.Counter()
        for index in range(self.count):
            now.update(self.read(index, self.count))
        return now

    def poll(self) -> None:
        for status, n in self.now().items():
            for _ in range(n - self.shown[status]):
                self.progress.update(status)
            self.shown[status] = max(self.shown[status], n)
