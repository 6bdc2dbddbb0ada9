"""A sharded session: picks the runner (``--workers`` processes or ``--cluster`` tasks) and the
task function each shard runs (``shards.run_shard`` into a local OUT, ``store.run_store_shard``
staging and uploading to an object store), and hands the task to the runner."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from survey.runs.progress import ProgressReader, shard_progress
from survey.runs.shards import ShardTask, plan_jobs, planned_shards, run_shard, summarise
from survey.runs.workers import run_workers
from survey.scan.config import ScanConfig
from survey.scan.pool import ScanSummary
from survey.scan.progress import Progress
from survey.toplist.reader import ToplistStats
from survey.toplist.sources import absolute_source


def shard_task(outdir: Path, store: str | None) -> tuple[ShardTask, ProgressReader]:
    """What each shard runs and where its progress is read: local, or an object store's."""
    if store is None:
        return run_shard, lambda index, count: shard_progress(outdir, index, count)
    from survey.runs.store import Store, StoreProgress, run_store_shard

    return run_store_shard, StoreProgress(Store.open(store))


def scan_sharded(toplist: str, outdir: Path, config: ScanConfig, progress: Progress, *,
                 workers: int = 1, cluster: str | None = None, store: str | None = None,
                 **job_options: Any) -> tuple[ScanSummary, ToplistStats]:
    """The scan command's sharded path: ``workers`` processes here, or tasks on ``cluster``.

    The shard count is the parallelism of the first session (``--workers N``, the cluster's
    worker threads) and is kept by every resume, whatever its parallelism; each shard's rate is
    the global rate over the shards that can run at once. ``job_options``: ``ShardJob`` fields
    (``fmt``, ``limit``, ``part_rows``, ``part_seconds``). Raises ValueError for a bad
    ``cluster`` and OSError when its scheduler cannot be reached. ``store``: the object-store
    URL the shards are uploaded to (``outdir`` is then the staging directory).
    """
    started = time.monotonic()
    path, out = absolute_source(toplist), outdir.resolve()  # workers may have another cwd
    task, read = shard_task(out, store)
    if store is not None:
        from survey.runs.store import Store

        shards = Store.open(store).planned_shards()
        job_options["store"] = store
    else:
        shards = planned_shards(out)
    if cluster is None:
        jobs = plan_jobs(path, out, config, shards=shards or workers, parallel=workers,
                         **job_options)
        results = run_workers(jobs, workers, progress, task=task, read=read)
    else:
        from survey.runs.cluster import open_client, parallelism, parse_cluster, run_on_cluster

        with open_client(parse_cluster(cluster)) as client:
            parallel = parallelism(client)
            jobs = plan_jobs(path, out, config, shards=shards or parallel, parallel=parallel,
                             **job_options)
            results = run_on_cluster(client, jobs, progress, task=task, read=read)
    return summarise(results, time.monotonic() - started)
