"""``scan --cluster``: one Dask task per shard, on a running scheduler or a ``LocalCluster``.

Dask supplies what a home-made cluster would get wrong: placement, a worker that dies has its
task re-run elsewhere, retries of a task that raised (``retries``). The survey's part is in
``runs.shards``: each task is ``run_shard`` (its own trio loop, its own Parquet parts, commit by
rename), so a re-run task adopts the dead attempt's complete parts and the dataset holds every
domain once. Progress needs no Dask machinery either: the client polls the shards' progress files
on the shared output directory. ``distributed`` is imported only here (the ``cluster`` extra).

The toplist may be a path every worker sees or an fsspec URL (s3://, gs://...) each worker opens
itself. The output directory is a path every worker sees (one machine, or shared storage such as
NFS), or an object-store URL: then each task stages its shard on its own machine and uploads it
whole once committed (``survey.runs.store``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from survey.dataset.sink import SHARDS
from survey.runs.progress import ProgressFeed, ProgressReader
from survey.runs.shards import PROGRESS_INTERVAL, ShardJob, ShardResult, ShardTask, run_shard
from survey.runs.store import STOP, Store
from survey.scan.progress import Progress

log = logging.getLogger(__name__)

#: The file whose existence asks every task of the run to stop (Ctrl-C in the client); the
#: same name on an object store (``survey.runs.store``).
STOP_FILE = STOP


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """``local:N`` (a ``LocalCluster`` of N one-thread worker processes) or a scheduler address."""

    address: str | None = None
    local_workers: int | None = None


def parse_cluster(text: str) -> ClusterSpec:
    """``local:N`` or ``tcp://host:port`` (any Dask protocol, e.g. ``tls://``); ValueError."""
    if text.startswith("local:"):
        count = text.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--cluster {text!r}: expected local:N with N >= 1")
        return ClusterSpec(local_workers=int(count))
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme or not rest:
        raise ValueError(f"--cluster {text!r}: expected local:N or a scheduler address such as "
                         "tcp://scheduler:8786")
    return ClusterSpec(address=text)


@contextlib.contextmanager
def open_client(spec: ClusterSpec, *, timeout: float = 30.0) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``; a local cluster listens on 127.0.0.1 only and
    is shut down on exit (its worker processes with it). ValueError without the extra;
    OSError when the scheduler cannot be reached within ``timeout``."""
    try:
        import distributed
    except ImportError as exc:
        raise ValueError("--cluster needs the cluster extra: "
                         "pip install 'mta-sts-survey[cluster]'") from exc
    dask: Any = distributed  # partly annotated: its constructors are untyped
    if spec.local_workers is not None:
        with (dask.LocalCluster(n_workers=spec.local_workers, threads_per_worker=1,
                                processes=True, host="127.0.0.1", dashboard_address=None,
                                # no dashboard, but the scheduler's HTTP (health) server still
                                # starts: on 8787 of every interface by default, with a warning on
                                # stderr when a second local cluster finds it taken
                                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                # workers log at CRITICAL only: a task's error reaches the
                                # client as its exception; what they logged at ERROR was a
                                # teardown race (a heartbeat to the scheduler just closed: a
                                # CommClosedError traceback on stderr after a complete scan,
                                # 1 of 16 `scan --cluster` in the 200-process clean-exit run)
                                silence_logs=logging.CRITICAL) as cluster,
              dask.Client(cluster, timeout=timeout) as client):
            yield client
    else:
        with dask.Client(spec.address, timeout=timeout) as client:
            yield client


def parallelism(client: Any) -> int:
    """Tasks the cluster runs at once now: the sum of its workers' threads (at least 1)."""
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


def worker_pids(client: Any) -> dict[str, int]:
    """Each worker's process id (what a test kills)."""
    pids: dict[str, int] = client.run(os.getpid)
    return pids


def _stop_file(outdir: Path) -> Path:
    return outdir / SHARDS / STOP_FILE


def run_on_cluster(client: Any, jobs: Sequence[ShardJob], progress: Progress, *,
                   task: ShardTask = run_shard, read: ProgressReader | None = None,
                   retries: int = 2, poll: float = PROGRESS_INTERVAL,
                   on_poll: Callable[[], None] | None = None) -> list[ShardResult]:
    """Submit one task per job and follow them until all are done.

    A task that raises is retried ``retries`` times by Dask; a task whose worker dies is re-run
    by the scheduler. Ctrl-C writes the stop file, which running tasks poll, so that they
    flush their parts and return ``interrupted``. ``task`` runs each job (the session picks
    it); ``read``: where the shards' progress is (the local progress files by default).
    """
    if not jobs:
        return []
    outdir = Path(jobs[0].outdir)
    stop = _stop_file(outdir)
    stop.parent.mkdir(parents=True, exist_ok=True)
    stop.unlink(missing_ok=True)
    store = None
    if jobs[0].store is not None:  # tasks elsewhere see the store's STOP, not this file
        store = Store.open(jobs[0].store)
        store.remove(f"{SHARDS}/{STOP_FILE}")
    session = uuid.uuid4().hex[:8]
    jobs = [_with_stop(job, stop) for job in jobs]
    futures = [client.submit(task, job, key=f"shard-{job.index}-of-{job.count}-{session}",
                             retries=retries, pure=False) for job in jobs]
    feed = ProgressFeed(outdir, jobs[0].count, progress, read)
    try:
        while not all(f.done() for f in futures):
            time.sleep(poll)
            feed.poll()
            if on_poll is not None:
                on_poll()
    except KeyboardInterrupt:
        log.warning("stopping the shards; finished domains are being written")
        stop.touch()
        if store is not None:
            store.touch(f"{SHARDS}/{STOP_FILE}")
        with contextlib.suppress(KeyboardInterrupt):
            while not all(f.done() for f in futures):
                time.sleep(poll)
    feed.poll()
    progress.close()
    return [_result(job, future) for job, future in zip(jobs, futures, strict=True)]


def _with_stop(job: ShardJob, stop: Path) -> ShardJob:
    return replace(job, stop_file=str(stop))


def _result(job: ShardJob, future: Any) -> ShardResult:
    if future.status == "finished":
        result: ShardResult = future.result()
        return result
    if future.status == "cancelled":
        return ShardResult(job.index, job.count, "interrupted")
    try:
        error = repr(future.exception())
    except Exception as exc:  # the exception itself could not be fetched
        error = repr(exc)
    return ShardResult(job.index, job.count, "failed", error=error)
