"""Sharded scans: one trio loop per shard (a child process or a Dask task), one dataset.

The toplist is split by ``toplist.reader.shard_of``; each shard is scanned by ``run_shard``, a
plain function that runs its own ``trio.run``, so the same code serves ``--workers N`` (child
processes, ``run_workers``) and ``--cluster`` (Dask tasks, ``survey.runs.cluster``). Layout::

    OUT/parts/part-<seq>-<runtag>s<i>of<n>.parquet   committed rows (what stats and publish read)
    OUT/shards/<i>-of-<n>/lock                        flock held by the shard's live attempt
    OUT/shards/<i>-of-<n>/attempt-<uuid>/parts/       an attempt's rows while it runs
    OUT/shards/<i>-of-<n>/attempt-<uuid>/progress.json  its rows so far (what the bar polls)
    OUT/shards/<i>-of-<n>/committed/shard.json        shard i is complete (counts, list stats)

Why exactly once holds, whoever dies when:

- An attempt writes only into its own directory, in the sink's atomic parts.
- One attempt per shard runs at a time (the lock; a new attempt waits for a live one). Holding
  the lock, it adopts the complete parts of dead attempts (moved one by one, atomically) and
  skips their domains, so a Ctrl-C or SIGKILL costs at most one part's rows, as in one process.
- It commits only if its parts hold each domain of the shard exactly once (count and a 64-bit
  multiset hash of the names read from the toplist against those read back from the parts),
  by renaming its directory to ``committed``: atomic, and exclusive (a rename onto a non-empty
  directory fails), so a stale attempt (e.g. a partitioned worker) can never mix in.
- Committed parts are then moved into ``OUT/parts/`` under shard-tagged names; the move is
  idempotent and finished by any later run. The manifest says ``complete`` only after every
  shard is committed and moved.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import trio

from survey.core.digests import NameSet
from survey.dataset import fsio
from survey.dataset.layout import COMMITTED as COMMITTED
from survey.dataset.layout import PROGRESS_FILE as PROGRESS_FILE
from survey.dataset.layout import SHARD_RECORD as SHARD_RECORD
from survey.dataset.sink import (
    PART_ROWS,
    PART_SECONDS,
    PARTS,
    QUARANTINE,
    SHARDS,
    completed_domains,
    completed_names,
    part_files,
    part_sequence,
    read_part_domains,
    status_counts,
)
from survey.scan.config import ScanConfig
from survey.scan.pool import ScanSummary, run_scan
from survey.scan.progress import Progress
from survey.toplist.reader import (
    ToplistEntry,
    ToplistFormat,
    ToplistStats,
    read_toplist,
)

log = logging.getLogger(__name__)

#: Seconds between progress-file writes of an attempt, and between polls of the parent.
PROGRESS_INTERVAL = 0.5
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class ShardJob:
    """Everything one shard attempt needs; picklable (it crosses processes and machines)."""

    toplist: str
    outdir: str
    index: int
    count: int
    config: ScanConfig  # its rate is this shard's share of the global rate
    fmt: str | None = None
    limit: int | None = None
    part_rows: int = PART_ROWS
    part_seconds: float = PART_SECONDS
    progress_interval: float = PROGRESS_INTERVAL
    stop_file: str | None = None  # its appearance stops the scan gracefully (Dask tasks)
    store: str | None = None  # an object-store OUT: ``outdir`` stages, the store task uploads


@dataclass(frozen=True, slots=True)
class ShardResult:
    """What became of one shard in one attempt (``skipped``: it was complete already)."""

    index: int
    count: int
    state: str  # "complete", "interrupted" or "failed"
    skipped: bool = False
    rows: int = 0  # rows of the shard in complete parts (adopted ones included)
    scanned: int = 0  # rows this attempt wrote
    adopted: int = 0  # rows taken over from dead attempts
    counts: dict[str, int] = field(default_factory=dict)
    toplist_stats: dict[str, Any] = field(default_factory=dict)
    queries_sent: int = 0
    internal_errors: int = 0
    duration: float = 0.0
    error: str | None = None
    blocked_addresses: int = 0  # this attempt's AddressGuard counts (ScanSummary's)
    excluded_addresses: int = 0
    dns_timeouts: int = 0  # ScanSummary's resolver counts
    dns_servfails: int = 0

    @property
    def complete(self) -> bool:
        return self.state == "complete"


class ShardTask(Protocol):
    """What a runner (``workers``, ``cluster``) runs for each job: ``run_shard``, or the object
    store's ``run_store_shard``; the session picks it. Module-level, so it pickles by name."""

    def __call__(self, job: ShardJob, *, parent_pid: int | None = None) -> ShardResult: ...


# --- layout -------------------------------------------------------------------------------------

def shard_name(index: int, count: int) -> str:
    return f"{index}-of-{count}"


def shard_dir(outdir: Path, index: int, count: int) -> Path:
    return outdir / SHARDS / shard_name(index, count)


def committed_dir(outdir: Path, index: int, count: int) -> Path:
    return shard_dir(outdir, index, count) / COMMITTED


def is_committed(outdir: Path, index: int, count: int) -> bool:
    return (committed_dir(outdir, index, count) / SHARD_RECORD).is_file()


def planned_shards(outdir: Path) -> int | None:
    """The shard count of the run in ``outdir`` from its ``shards/`` directory, if any."""
    found = {int(m.group(2)) for p in (outdir / SHARDS).glob("*-of-*")
             if (m := re.fullmatch(r"(\d+)-of-(\d+)", p.name))}
    return found.pop() if len(found) == 1 else None


def _write_json(path: Path, data: dict[str, Any], *, durable: bool = True) -> None:
    """Atomic replace; ``durable`` adds the fsyncs (not worth it for progress, twice a second)."""
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    fsio.atomic_write_bytes(path, text.encode(), durable=durable)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --- toplist stats across shards ---------------------------------------------------------------

def stats_to_dict(stats: ToplistStats) -> dict[str, Any]:
    return {"lines": stats.lines, "entries": stats.entries, "duplicates": stats.duplicates,
            "excluded": stats.excluded, "skipped_by_shard": stats.skipped_by_shard,
            "ignored": stats.ignored, "invalid": dict(stats.invalid),
            "examples": dict(stats.examples), "own_shard_only": stats.own_shard_only}


def merge_stats(per_shard: Sequence[dict[str, Any]]) -> ToplistStats:
    """The list's stats for the whole run: every shard reads the same list, so the line counts
    are any shard's; the entries are the sum, and no entry belongs to another shard. Shards
    that de-duplicated their own names only (``own_shard_only``) counted their own duplicates
    and exclusions: those are summed too (when every shard did; a run begun by an older
    version keeps the first shard's whole-list counts)."""
    merged = ToplistStats()
    if not per_shard:
        return merged
    first = per_shard[0]
    merged.lines = int(first.get("lines", 0))
    if all(s.get("own_shard_only") for s in per_shard):
        merged.duplicates = sum(int(s.get("duplicates", 0)) for s in per_shard)
        merged.excluded = sum(int(s.get("excluded", 0)) for s in per_shard)
    else:
        whole = next((s for s in per_shard if not s.get("own_shard_only")), first)
        merged.duplicates = int(whole.get("duplicates", 0))
        merged.excluded = int(whole.get("excluded", 0))
    merged.ignored = int(first.get("ignored", 0))
    merged.invalid.update({str(k): int(v) for k, v in first.get("invalid", {}).items()})
    merged.examples.update({str(k): str(v) for k, v in first.get("examples", {}).items()})
    merged.entries = sum(int(s.get("entries", 0)) for s in per_shard)
    return merged


# --- one shard attempt --------------------------------------------------------------------------

class StopRequested(Exception):
    """The run's stop file appeared while this attempt waited."""


@contextlib.contextmanager
def shard_lock(directory: Path, *, poll: float = 0.2, stop_file: str | None = None
               ) -> Iterator[None]:
    """Hold the shard's lock, waiting while another attempt holds it; ``StopRequested`` if
    ``stop_file`` appears meanwhile.

    ``flock`` is per open file, so two attempts in one process (a Dask worker with several
    threads) exclude each other too; the kernel releases it when its holder dies.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "lock").open("a") as f:
        waited = False
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if stop_file is not None and Path(stop_file).exists():
                    raise StopRequested(stop_file) from None
                if not waited:
                    log.info("%s: waiting for a live attempt to finish", directory.name)
                    waited = True
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _adopt(shard: Path, attempt: Path) -> int:
    """Move the complete parts of dead attempts into ``attempt``; returns the parts moved.

    The caller holds the lock, so every other attempt directory belongs to a dead attempt.
    Unreadable parts are quarantined by ``completed_domains`` (their domains are scanned again).
    """
    target = attempt / PARTS
    target.mkdir(parents=True, exist_ok=True)
    seq = max((part_sequence(p) or 0 for p in part_files(attempt)), default=0)
    moved = 0
    for old in sorted(shard.glob("attempt-*")):
        if old == attempt or not old.is_dir():
            continue
        completed_domains(old)  # drops .tmp files, quarantines damaged parts
        for part in part_files(old):
            seq += 1
            tag = part.name.rsplit("-", 1)[1]
            os.replace(part, target / f"part-{seq:06d}-{tag}")
            moved += 1
        fsio.fsync_path(target)
        damaged = old / QUARANTINE
        if damaged.is_dir():
            _quarantine(shard, old, damaged)
        shutil.rmtree(old)
    return moved


def _quarantine(shard: Path, attempt: Path, source: Path) -> Path:
    """Move ``source`` (an attempt or its damaged parts) to ``OUT/quarantine/<shard>-<attempt>``:
    kept for inspection, read by no one."""
    target = shard.parent.parent / QUARANTINE / f"{shard.name}-{attempt.name}"
    target.parent.mkdir(exist_ok=True)
    os.replace(source, target)
    return target


def _digest(domain: str) -> int:
    return int.from_bytes(hashlib.blake2b(domain.encode(), digest_size=8).digest(), "big")


class Tally:
    """Count and 64-bit multiset hash of names: equal ``key``s mean the same names, each as
    often (up to a 2**-64 chance), in constant memory, unlike a set of a shard's names."""

    def __init__(self) -> None:
        self.count = 0
        self.hash = 0

    def add(self, domain: str) -> None:
        self.count += 1
        self.hash = (self.hash + _digest(domain)) & _MASK64

    @property
    def key(self) -> tuple[int, int]:
        return self.count, self.hash


def _tallied(entries: Iterator[ToplistEntry], tally: Tally) -> Iterator[ToplistEntry]:
    for entry in entries:
        tally.add(entry.domain)
        yield entry


def _parts_tally(directory: Path) -> Tally:
    tally = Tally()
    for part in part_files(directory):
        for domain in read_part_domains(part):
            tally.add(domain)
    return tally


class FileProgress(Progress):
    """Counts rows like ``Progress`` and writes them to a JSON file the parent polls.

    A file (not a queue) works the same for a child process and for a Dask worker on another
    machine with the dataset on shared storage, and survives the death of either side.
    """

    def __init__(self, path: Path, base: dict[str, int], *, interval: float) -> None:
        super().__init__(mode="off")
        self.path = path
        self.base = collections.Counter(base)
        self.write_interval = interval
        self._written = 0.0
        self.write()

    def snapshot(self) -> dict[str, Any]:
        counts = self.base + self.counts
        return {"done": sum(counts.values()), "counts": dict(counts)}

    def write(self) -> None:
        self._written = time.monotonic()
        _write_json(self.path, self.snapshot(), durable=False)

    def update(self, status: str) -> None:
        super().update(status)
        if time.monotonic() - self._written >= self.write_interval:
            self.write()

    def close(self) -> None:
        self.write()
        super().close()


async def _watch_parent(parent_pid: int) -> None:
    """Stop the scan gracefully (as SIGTERM does) once the parent process is gone."""
    while True:  # polling: no event tells a process that its parent died
        await trio.sleep(0.5)
        if os.getppid() != parent_pid:
            break
    log.warning("parent process %d is gone: stopping", parent_pid)
    os.kill(os.getpid(), signal.SIGTERM)


async def _watch_stop(stop_file: Path, scope: trio.CancelScope) -> None:
    """Cancel the scan once ``stop_file`` exists: the writer still flushes its rows."""
    while True:  # polling: the file may be on another machine's shared storage
        await trio.sleep(0.5)
        if await trio.Path(stop_file).exists():
            break
    log.warning("%s exists: stopping", stop_file)
    scope.cancel()


async def _scan(entries: Iterator[ToplistEntry], config: ScanConfig, sink: Any,
                progress: Progress, done: NameSet, parent_pid: int | None,
                stop_file: Path | None) -> ScanSummary:
    """``run_scan`` with the watchers of a shard; a stopped scan says ``interrupted``."""
    summary = ScanSummary(interrupted=True)
    async with trio.open_nursery() as nursery:
        scan_scope = trio.CancelScope()
        if parent_pid is not None:
            nursery.start_soon(_watch_parent, parent_pid)
        if stop_file is not None:
            nursery.start_soon(_watch_stop, stop_file, scan_scope)
        with scan_scope:
            summary = await run_scan(entries, config, sink, progress, done=done)
        nursery.cancel_scope.cancel()
    return summary


def run_shard(job: ShardJob, *, parent_pid: int | None = None) -> ShardResult:
    """Scan one shard into the dataset, resuming from dead attempts; idempotent.

    Returns at once (after finishing any interrupted move into ``parts/``) for a committed
    shard. ``parent_pid``: stop when that process dies (children of ``--workers``).
    """
    if job.store is not None:  # the session hands such jobs to the store's task
        raise ValueError(f"shard {job.index}: an object-store job needs store.run_store_shard")
    outdir = Path(job.outdir)
    shard = shard_dir(outdir, job.index, job.count)
    if is_committed(outdir, job.index, job.count):
        return _finish(job, skipped=True)
    started = time.monotonic()
    if job.stop_file and Path(job.stop_file).exists():  # a queued task after Ctrl-C
        return ShardResult(job.index, job.count, "interrupted")
    try:
        with shard_lock(shard, stop_file=job.stop_file):
            return _attempt(job, shard, started, parent_pid)
    except StopRequested:
        return ShardResult(job.index, job.count, "interrupted")


def _attempt(job: ShardJob, shard: Path, started: float, parent_pid: int | None
             ) -> ShardResult:
    """One attempt, under the shard's lock: adopt, scan, verify, commit, publish."""
    from survey.dataset.sink import PartWriter

    outdir = Path(job.outdir)
    if is_committed(outdir, job.index, job.count):
        return _finish(job, skipped=True)
    attempt = shard / f"attempt-{uuid.uuid4().hex}"
    attempt.mkdir()
    _adopt(shard, attempt)
    done = completed_names(attempt)  # digests: ~32 bytes a domain, not ~108
    adopted = status_counts(attempt)
    config = job.config
    if config.pool.handle_signals and threading.current_thread() is not threading.main_thread():
        config = replace(config, pool=replace(config.pool, handle_signals=False))
    stats = ToplistStats()
    read = Tally()
    entries = read_toplist(job.toplist, fmt=ToplistFormat(job.fmt) if job.fmt else None,
                           limit=job.limit, shard=(job.index, job.count),
                           exclusions=config.guard.exclusions, stats=stats,
                           own_shard_dedup=True)
    sink = PartWriter(attempt, config.context.run_id, max_rows=job.part_rows,
                      max_seconds=job.part_seconds)
    progress = FileProgress(attempt / PROGRESS_FILE, adopted, interval=job.progress_interval)
    try:
        summary = trio.run(_scan, _tallied(entries, read), config, sink, progress, done,
                           parent_pid, Path(job.stop_file) if job.stop_file else None)
    finally:
        getattr(entries, "close", lambda: None)()  # the toplist file, when stopped early
    result = ShardResult(
        index=job.index, count=job.count, state="interrupted", rows=sink.rows_written
        + len(done), scanned=sink.rows_written, adopted=len(done),
        counts=dict(collections.Counter(adopted) + summary.counts),
        toplist_stats=stats_to_dict(stats), queries_sent=summary.queries_sent,
        internal_errors=summary.internal_errors, duration=time.monotonic() - started,
        error=summary.input_error, blocked_addresses=summary.blocked_addresses,
        excluded_addresses=summary.excluded_addresses, dns_timeouts=summary.dns_timeouts,
        dns_servfails=summary.dns_servfails)
    if summary.interrupted or summary.internal_errors or summary.input_error:
        return result
    written = _parts_tally(attempt)
    if written.key != read.key:  # never adopted again: the next attempt starts afresh
        kept = _quarantine(shard, attempt, attempt)
        return replace(result, state="failed", error=(
            f"shard {shard.name}: parts hold {written.count} rows for {read.count} entries "
            f"or other names; not committed, moved to {kept} (re-run to retry)"))
    _write_json(attempt / SHARD_RECORD, {
        "index": job.index, "count": job.count, "rows": written.count,
        "adopted": len(done), "counts": result.counts,
        "toplist_stats": result.toplist_stats,
        "committed_at": time.time(), "attempt": attempt.name})
    try:
        os.rename(attempt, shard / COMMITTED)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        log.warning("%s: committed by another attempt; %s discarded", shard.name, attempt)
        shutil.rmtree(attempt)
        return _finish(job, skipped=True)
    fsio.fsync_path(shard)
    publish_shard(outdir, job.index, job.count)
    return replace(result, state="complete")


def _finish(job: ShardJob, *, skipped: bool) -> ShardResult:
    outdir = Path(job.outdir)
    publish_shard(outdir, job.index, job.count)
    record = read_json(committed_dir(outdir, job.index, job.count) / SHARD_RECORD) or {}
    return recorded_result(job, record, skipped=skipped)


def recorded_result(job: ShardJob, record: dict[str, Any], *, skipped: bool) -> ShardResult:
    """A complete shard's result from its commit record (local, or an object store's)."""
    return ShardResult(index=job.index, count=job.count, state="complete", skipped=skipped,
                       rows=int(record.get("rows", 0)), counts=dict(record.get("counts", {})),
                       toplist_stats=dict(record.get("toplist_stats", {})))


def publish_shard(outdir: Path, index: int, count: int) -> list[Path]:
    """Move a committed shard's parts into ``OUT/parts/`` (idempotent; resumable midway)."""
    source = committed_dir(outdir, index, count)
    target = outdir / PARTS
    target.mkdir(parents=True, exist_ok=True)
    moved: list[Path] = []
    for part in part_files(source):
        seq, tag = part_sequence(part), part.name.rsplit("-", 1)[1].removesuffix(".parquet")
        destination = target / f"part-{seq:06d}-{tag}s{index}of{count}.parquet"
        os.replace(part, destination)
        moved.append(destination)
    if moved:
        fsio.fsync_path(target)
    return moved


# --- planning -------------------------------------------------------------------

def plan_jobs(toplist: str, outdir: Path, config: ScanConfig, *, shards: int, parallel: int,
              fmt: str | None = None, limit: int | None = None, **job_options: Any
              ) -> list[ShardJob]:
    """One job per shard; each gets the global rate (and, down to one, the connections per
    destination) divided by the shards that run at once, so that politeness does not grow
    with the number of workers."""
    if shards < 1 or parallel < 1:
        raise ValueError("shards and parallel must be >= 1")
    at_once = min(shards, parallel)
    per_destination = max(1, config.guard.per_destination // at_once)
    per_shard = replace(config, dns=replace(config.dns, rate=config.dns.rate / at_once),
                        guard=replace(config.guard, per_destination=per_destination))
    return [ShardJob(toplist=toplist, outdir=str(outdir), index=i, count=shards,
                     config=per_shard, fmt=fmt, limit=limit, **job_options)
            for i in range(shards)]


def summarise(results: Sequence[ShardResult], duration: float) -> tuple[ScanSummary, ToplistStats]:
    """One ``ScanSummary`` (what the scan command reports) for the shards of a session.

    A failed shard (crashed past its retries, or refused at commit) counts as one internal
    error: logged, the run left ``running``, and the same command retries it.
    """
    summary = ScanSummary(duration=duration)
    for result in results:
        summary.scanned += result.scanned
        summary.skipped_done += result.adopted + (result.rows if result.skipped else 0)
        summary.queries_sent += result.queries_sent
        summary.internal_errors += result.internal_errors
        summary.blocked_addresses += result.blocked_addresses
        summary.excluded_addresses += result.excluded_addresses
        summary.dns_timeouts += result.dns_timeouts
        summary.dns_servfails += result.dns_servfails
        if result.state == "interrupted":
            summary.interrupted = True
        elif result.state == "failed":
            summary.internal_errors += 1
            log.error("shard %s: %s", shard_name(result.index, result.count), result.error)
    return summary, merge_stats([r.toplist_stats for r in results if r.toplist_stats])


def sharding_conflict(outdir: Path, sharded: bool) -> str | None:
    """Why ``outdir`` cannot be resumed in this mode: one-process parts and shard parts would
    cover the same domains twice."""
    if sharded and planned_shards(outdir) is None and part_files(outdir):
        return (f"{outdir} holds a one-process run; resume it without --workers/--cluster, "
                "or use another OUTDIR")
    if not sharded and planned_shards(outdir) is not None:
        return f"{outdir} holds a sharded run; resume it with --workers or --cluster"
    return None
