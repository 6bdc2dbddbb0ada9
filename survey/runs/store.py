"""OUT as an object-store URL (``s3://``, ``gs://``, any fsspec URL but ``file://``).

Object stores have no rename, no fsync and no flock, on which ``runs.shards`` builds exactly
once. So every shard is scanned by that same protocol into a *staging directory* on the machine
that runs it, and only a committed shard is uploaded, as a whole::

    URL/manifest.json                                the run (uploaded at start and at the end)
    URL/parts/part-<seq>-<tag>s<i>of<n>a<att>.parquet  rows (att: the committing attempt)
    URL/shards/<i>-of-<n>/shard.json                 the shard's commit record: lists its parts
    URL/shards/<i>-of-<n>/progress.json              rows so far (what the client's bar polls)
    URL/shards/STOP                                  asks every task to stop (Ctrl-C)

A shard is complete iff its record exists. The record is written after its parts, by an
exclusive create (``If-None-Match: *`` on S3), so of two attempts that both finish (a worker
presumed dead that was not) one wins and the loser deletes its uploads; parts a crash left
behind without a record are deleted by ``finalize`` once every shard is committed, before the
manifest says ``complete``. So the parts of a shard always come from one commit: never mixed.

The staging directory is ``$XDG_CACHE_HOME/mta-sts-survey/staging/<url hash>-<run id>`` on each
machine, computed there: workers beside the client share it (a re-run shard adopts the parts of a
killed attempt), a worker elsewhere starts the shard afresh. Uploaded parts are deleted from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from survey.dataset.destination import open_fs
from survey.dataset.layout import MANIFEST, PARTS, PROGRESS_FILE, SHARDS
from survey.dataset.layout import STOP as STOP
from survey.dataset.sink import part_sequence
from survey.runs.progress import shard_progress
from survey.runs.shards import (
    SHARD_RECORD,
    ShardJob,
    ShardResult,
    committed_dir,
    recorded_result,
    run_shard,
    shard_dir,
)
from survey.toplist.sources import url_scheme

log = logging.getLogger(__name__)

RECORD = SHARD_RECORD  # the same name locally and on the store
PROGRESS = PROGRESS_FILE
#: Seconds between a task's progress uploads and stop-file checks (each is a request).
PUMP_INTERVAL = 2.0


def is_store_url(text: str | Path) -> bool:
    """Whether OUT names an object store: a URL whose scheme is not ``file``."""
    return url_scheme(text) not in (None, "file")


def staging_dir(url: str, run_id: str) -> Path:
    """Where this machine stages the shards of run ``run_id`` bound for ``url``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    tag = re.sub(r"[^0-9A-Za-z]", "", run_id)[:16] or "run"
    return cache / "mta-sts-survey" / "staging" / f"{digest}-{tag}"


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = getattr(fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def shard_prefix(index: int, count: int) -> str:
    return f"{SHARDS}/{index}-of-{count}"


def _attempt_tag(record: dict[str, Any]) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", str(record.get("attempt", "")).removeprefix("attempt-"))[:8]


def store_part_name(local_name: str, attempt_tag: str) -> str:
    """``part-000001-abcds0of2.parquet`` -> ``part-000001-abcds0of2a<tag>.parquet``."""
    return local_name.removesuffix(".parquet") + f"a{attempt_tag}.parquet"


@dataclass(frozen=True)
class Store:
    """An fsspec filesystem and the dataset's root in it; every path below is relative."""

    url: str
    fs: Any
    root: str

    @classmethod
    def open(cls, url: str) -> Store:
        """ValueError when fsspec (the ``cluster`` extra) or the protocol's package is missing."""
        fs, root = open_fs(url)
        if "memory" in _protocols(fs):
            raise ValueError("memory:// lives in one process, and the shards run in others: "
                             "use a directory or an object store")
        return cls(url, fs, root)

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def read_json(self, relative: str) -> dict[str, Any] | None:
        """The object as a JSON object; None when it does not exist or is not one."""
        try:
            data = json.loads(self.fs.cat_file(self.path(relative)))
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_json(self, relative: str, data: dict[str, Any], *, exclusive: bool = False
                   ) -> None:
        """One PUT (atomic for readers); ``exclusive``: FileExistsError if it exists."""
        text = json.dumps(data, indent=1, sort_keys=True, default=str) + "\n"
        with self.fs.open(self.path(relative), "xb" if exclusive else "wb") as handle:
            handle.write(text.encode())

    def exists(self, relative: str) -> bool:
        self.fs.invalidate_cache()
        return bool(self.fs.exists(self.path(relative)))

    def touch(self, relative: str) -> None:
        with self.fs.open(self.path(relative), "wb") as handle:
            handle.write(b"")

    def remove(self, relative: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(relative))

    def names(self, relative: str) -> list[str]:
        """The file names directly under ``relative`` (none when it does not exist)."""
        self.fs.invalidate_cache()
        try:
            found = self.fs.ls(self.path(relative), detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(p).rstrip("/").rsplit("/", 1)[-1] for p in found)

    def put(self, local: Path, relative: str) -> None:
        self.fs.put_file(str(local), self.path(relative))

    # --- the dataset ------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any] | None:
        return self.read_json(MANIFEST)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self.write_json(MANIFEST, manifest)

    def record(self, index: int, count: int) -> dict[str, Any] | None:
        return self.read_json(f"{shard_prefix(index, count)}/{RECORD}")

    def planned_shards(self) -> int | None:
        """The shard count of the run at this URL (from ``shards/``), if one started."""
        found = {int(m.group(2)) for name in self.names(SHARDS)
                 if (m := re.fullmatch(r"(\d+)-of-(\d+)", name))}
        return found.pop() if len(found) == 1 else None

    def progress(self, index: int, count: int) -> dict[str, int]:
        """Rows by status of one running shard, as its task last uploaded them."""
        return _counts(self.read_json(f"{shard_prefix(index, count)}/{PROGRESS}"))

    def shard_progress(self, index: int, count: int) -> dict[str, int]:
        """Rows by status of one shard: its record's when committed, else its last upload."""
        record = self.record(index, count)
        return _counts(record) if record is not None else self.progress(index, count)


def _counts(data: dict[str, Any] | None) -> dict[str, int]:
    """The ``counts`` of a record or progress object, by status."""
    counts = (data or {}).get("counts", {})
    return {str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else {}


def _sum_counts(records: list[dict[str, Any] | None]) -> dict[str, int]:
    total: dict[str, int] = {}
    for record in records:
        for status, n in _counts(record).items():
            total[status] = total.get(status, 0) + n
    return total


class StoreProgress:
    """``Store.shard_progress`` for a client polling twice a second: a shard is asked at most
    every ``interval`` seconds, and never again once committed (two GETs a shard per poll
    would be hundreds of requests a second for a large cluster)."""

    def __init__(self, store: Store, *, interval: float = PUMP_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.interval, self.clock = store, interval, clock
        self._seen: dict[tuple[int, int], tuple[float, dict[str, int]]] = {}
        self._final: dict[tuple[int, int], dict[str, int]] = {}

    def __call__(self, index: int, count: int) -> dict[str, int]:
        key = (index, count)
        if key in self._final:
            return self._final[key]
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.interval:
            return seen[1]
        record = self.store.record(index, count)
        if record is not None:
            self._final[key] = _counts(record)
            return self._final[key]
        counts = self.store.progress(index, count)
        self._seen[key] = (now, counts)
        return counts


# --- a shard task ---------------------------------------------------------------------------

def run_store_shard(job: ShardJob, *, parent_pid: int | None = None) -> ShardResult:
    """``run_shard`` for an object-store OUT: scan into staging, then upload the shard whole."""
    assert job.store is not None
    store = Store.open(job.store)
    record = store.record(job.index, job.count)
    if record is not None:
        return recorded_result(job, record, skipped=True)
    # this machine's staging (the client's path is its own home, which may not exist here);
    # a stop file of this task's own, never a stale one of an earlier session
    staging = staging_dir(job.store, job.config.context.run_id)
    stop = shard_dir(staging, job.index, job.count) / f"STOP-{uuid.uuid4().hex[:12]}"
    local = replace(job, store=None, outdir=str(staging), stop_file=str(stop))
    staging.mkdir(parents=True, exist_ok=True)
    try:
        with _pump(store, local, watch_stop=job.stop_file is not None):
            result = run_shard(local, parent_pid=parent_pid)
    finally:
        stop.unlink(missing_ok=True)
    if not result.complete:
        return result
    try:
        push_shard(store, staging, job.index, job.count)
    except OSError as exc:
        return replace(result, state="failed", error=f"uploading shard {job.index}-of-"
                       f"{job.count} to {job.store} failed: {exc}; re-run to retry")
    return result


@contextlib.contextmanager
def _pump(store: Store, job: ShardJob, *, watch_stop: bool) -> Iterator[None]:
    """While the shard runs: upload its progress, and (``watch_stop``: a Dask task) turn the
    store's STOP into the local stop file the attempt polls."""
    finished = threading.Event()
    outdir = Path(job.outdir)

    def pump() -> None:
        last: dict[str, int] | None = None
        while not finished.wait(PUMP_INTERVAL):
            try:
                counts = shard_progress(outdir, job.index, job.count)
                if counts != last:
                    store.write_json(f"{shard_prefix(job.index, job.count)}/{PROGRESS}",
                                     {"counts": counts})
                    last = counts
                if watch_stop and job.stop_file and store.exists(f"{SHARDS}/{STOP}"):
                    Path(job.stop_file).parent.mkdir(parents=True, exist_ok=True)
                    Path(job.stop_file).touch()
            except OSError as exc:  # progress is best effort; the commit is not
                log.warning("shard %s: progress upload failed: %s", job.index, exc)

    thread = threading.Thread(target=pump, name=f"store-pump-{job.index}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        finished.set()
        thread.join()


def push_shard(store: Store, staging: Path, index: int, count: int) -> dict[str, Any]:
    """Upload a shard committed in ``staging``: its parts, then its record (exclusively).

    Idempotent: a shard already recorded on the store is left as it is (this attempt's uploads,
    if any, are deleted). Local parts are deleted once the record is on the store.
    """
    existing = store.record(index, count)
    if existing is not None:
        return existing
    local_record = json.loads((committed_dir(staging, index, count) / SHARD_RECORD).read_text())
    tag = _attempt_tag(local_record)
    suffix = f"s{index}of{count}.parquet"
    local_parts = sorted(p for p in (staging / PARTS).glob(f"part-*-*{suffix}")
                         if part_sequence(p) is not None)
    rows = int(local_record.get("rows", 0))
    if rows and not local_parts:
        raise OSError(f"shard {index}-of-{count} is committed in {staging} but its parts are "
                      "gone and the store has no record of it: delete that directory and re-run")
    names = [store_part_name(p.name, tag) for p in local_parts]
    for part, name in zip(local_parts, names, strict=True):
        store.put(part, f"{PARTS}/{name}")
    record = {**local_record, "parts": names}
    try:
        store.write_json(f"{shard_prefix(index, count)}/{RECORD}", record, exclusive=True)
    except FileExistsError:
        log.warning("shard %s-of-%s: committed by another attempt; this one's uploads deleted",
                    index, count)
        for name in names:
            store.remove(f"{PARTS}/{name}")
        record = store.record(index, count) or record
    for part in local_parts:
        part.unlink()
    return record


# --- the client -----------------------------------------------------------------------------

def finalize(store: Store, count: int) -> dict[str, int] | None:
    """Once every shard is recorded: delete parts no record lists (uploads of a losing or
    crashed attempt); the dataset's counts by status. None while a shard is missing."""
    records = [store.record(i, count) for i in range(count)]
    if any(r is None for r in records):
        return None
    listed = {name for r in records if r is not None for name in r.get("parts", [])}
    for name in store.names(PARTS):
        if part_sequence(Path(name)) is not None and name not in listed:
            log.warning("%s/%s/%s: listed by no shard record, deleted", store.url, PARTS, name)
            store.remove(f"{PARTS}/{name}")
    return _sum_counts(records)


def recorded_counts(store: Store, count: int) -> dict[str, int]:
    """Rows by status over the shards recorded so far (an unfinished run's manifest)."""
    return _sum_counts([store.record(index, count) for index in range(count)])
