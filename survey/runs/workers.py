"""``--workers N``: shard jobs in N child processes on this machine, each re-run if it dies.

A child is ``python -m survey.runs.workers PARENT_PID`` reading ``(task, job)`` pickled on
stdin (the task function travels by reference: ``shards.run_shard`` or the object store's
``store.run_store_shard``) and writing its pickled ``ShardResult`` to stdout. A subprocess
rather than ``multiprocessing``: nothing depends on how the parent's ``__main__`` imports.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from survey.runs.progress import ProgressFeed, ProgressReader
from survey.runs.shards import (
    PROGRESS_INTERVAL,
    ShardJob,
    ShardResult,
    ShardTask,
    run_shard,
    shard_name,
)
from survey.scan.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class _Child:
    job: ShardJob
    tries: int
    process: subprocess.Popen[bytes]
    output: Any  # the temporary file the child's pickled result goes to


def _start_child(task: ShardTask, job: ShardJob, tries: int) -> _Child:
    """``python -m survey.runs.workers PARENT_PID``, the task function (pickled by reference)
    and the job pickled on stdin, in its own process
    group (the parent forwards Ctrl-C once, as SIGTERM). A subprocess rather than
    ``multiprocessing``: nothing depends on how the parent's ``__main__`` can be imported."""
    output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by _child_result)
    process = subprocess.Popen([sys.executable, "-m", "survey.runs.workers", str(os.getpid())],
                               stdin=subprocess.PIPE, stdout=output, process_group=0)
    assert process.stdin is not None
    with process.stdin, contextlib.suppress(BrokenPipeError):
        process.stdin.write(pickle.dumps((task, job)))
    return _Child(job, tries, process, output)


def _stop_child(child: _Child, grace: float = 30.0) -> None:
    """SIGTERM (the child flushes its parts and exits), SIGKILL after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        child.process.terminate()
    try:
        child.process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.process.kill()
        child.process.wait()
    child.output.close()


def _child_result(child: _Child) -> ShardResult | None:
    child.output.seek(0)
    data = child.output.read()
    child.output.close()
    try:
        result = pickle.loads(data)
    except Exception:  # killed before it wrote a result
        return None
    return result if isinstance(result, ShardResult) else None


def run_workers(jobs: Sequence[ShardJob], processes: int, progress: Progress, *,
                task: ShardTask = run_shard, read: ProgressReader | None = None,
                retries: int = 2, poll: float = PROGRESS_INTERVAL,
                on_start: Callable[[ShardJob, int], None] | None = None,
                on_poll: Callable[[], None] | None = None) -> list[ShardResult]:
    """Run ``jobs`` in at most ``processes`` child processes; a child that dies is re-run
    (up to ``retries`` times; its successor adopts its parts). Ctrl-C is forwarded once per
    press as SIGTERM, so the children flush and stop; the results then say ``interrupted``.
    ``task`` runs each job in its child; ``read``: where the shards' progress is (local files
    by default)."""
    pending = collections.deque((job, 0) for job in jobs)
    running: list[_Child] = []
    results: dict[int, ShardResult] = {}
    feed = ProgressFeed(Path(jobs[0].outdir), jobs[0].count, progress, read) \
        if jobs else None
    stopping = False

    def reap(child: _Child) -> None:
        running.remove(child)
        result, job = _child_result(child), child.job
        if result is None:
            error = f"worker process exited with code {child.process.returncode}"
            if child.tries < retries and not stopping:
                log.warning("shard %s: %s; retrying", shard_name(job.index, job.count), error)
                pending.append((job, child.tries + 1))
                return
            result = ShardResult(job.index, job.count, "failed", error=error)
        results[job.index] = result

    try:
        while pending or running:
            try:
                while pending and len(running) < processes and not stopping:
                    child = _start_child(task, *pending.popleft())
                    running.append(child)
                    if on_start is not None:
                        on_start(child.job, child.process.pid)
                time.sleep(poll)
                for child in [c for c in running if c.process.poll() is not None]:
                    reap(child)
                if feed is not None:
                    feed.poll()
                if on_poll is not None:
                    on_poll()
            except KeyboardInterrupt:
                stopping = True
                log.warning("stopping the workers; finished domains are being written")
                for child in running:
                    with contextlib.suppress(ProcessLookupError):
                        child.process.send_signal(signal.SIGTERM)
    finally:
        for child in running:  # only when the parent itself fails
            _stop_child(child)
    progress.close()
    stopped = ShardResult(0, 0, "interrupted")
    return [results.get(job.index, replace(stopped, index=job.index, count=job.count))
            for job in jobs]

def _child_main(parent_pid: int) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    task, job = pickle.load(sys.stdin.buffer)
    try:
        result = task(job, parent_pid=parent_pid)
    except Exception as exc:
        traceback.print_exc()
        result = ShardResult(job.index, job.count, "failed", error=f"{type(exc).__name__}: {exc}")
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    # Through the package module, so that the task and its results unpickle by their own names.
    from survey.runs.workers import _child_main as child_main

    sys.exit(child_main(int(sys.argv[1])))
