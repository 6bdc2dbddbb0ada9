"""Sharded scans in child processes (``--workers``) against the test internet on loopback.

What must hold whoever dies when: every domain of the toplist exactly once in ``OUT/parts``,
the same rows as a one-process scan, and no shard committed with rows missing or extra.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from survey.dataset.schema import RunContext, rows_to_table
from survey.dataset.sink import part_files, write_part
from survey.runs.progress import ProgressFeed, shard_progress
from survey.runs.shards import (
    PROGRESS_FILE,
    ShardJob,
    ShardResult,
    ShardTask,
    committed_dir,
    is_committed,
    merge_stats,
    plan_jobs,
    publish_shard,
    run_shard,
    shard_dir,
    shard_lock,
    stats_to_dict,
)
from survey.runs.workers import run_workers
from survey.scan.pool import ScanConfig
from survey.scan.progress import Progress
from survey.sim.generator import generate_world
from survey.sim.world import RunningWorld, start_world
from survey.toplist.reader import ToplistStats, read_toplist
from tests.conftest import Spawn

#: Columns that differ between two scans of the same world (run, clock, timing).
VOLATILE = ("run_id", "scanned_at", "https_elapsed_ms", "smtp")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    with start_world(generate_world(400, seed=11), tmp_path_factory.mktemp("world")) as running:
        yield running


def config(world: RunningWorld, rate: float = 4000.0) -> ScanConfig:
    """Gentle enough that the world's DNS server (a thread of the test process) keeps up."""
    return ScanConfig(context=RunContext("run11", world.toplist.name), resolvers=(world.resolver,),
                      rate=rate, concurrency=50, dns_timeout=2.0, retries=2,
                      ca_bundle=world.ca_bundle, https_port=world.https_port,
                      smtp_port=world.smtp_port, allow_private=True)


def dataset(outdir: Path) -> pl.DataFrame:
    """The committed rows, ordered, without the columns that differ between runs."""
    frame = pl.read_parquet([str(p) for p in part_files(outdir)])
    return frame.drop([c for c in VOLATILE if c in frame.columns]).sort("domain")


def toplist_domains(world: RunningWorld) -> list[str]:
    return sorted(e.domain for e in read_toplist(world.toplist))


def rows_in_attempts(outdir: Path) -> int:
    """Rows the running (or dead) attempts have reported in their progress files."""
    return sum(json.loads(p.read_text() or "{}").get("done", 0)
               for p in outdir.glob(f"shards/*/attempt-*/{PROGRESS_FILE}"))


def ctrl_c_after(outdir: Path, rows: int) -> tuple[Callable[[], None], list[bool]]:
    """An ``on_poll`` that raises KeyboardInterrupt once, when ``rows`` are done; and whether
    it did (the parent's Ctrl-C, at a moment the test chooses)."""
    pressed: list[bool] = []

    def press_ctrl_c() -> None:
        if rows_in_attempts(outdir) >= rows and not pressed:
            pressed.append(True)
            raise KeyboardInterrupt

    return press_ctrl_c, pressed


def test_plan_divides_the_rate_by_the_shards_running_at_once(tmp_path: Path,
                                                              world: RunningWorld) -> None:
    base = config(world, rate=900.0)
    jobs = plan_jobs("list.csv", tmp_path, base, shards=6, parallel=3, limit=10)
    assert [(j.index, j.count) for j in jobs] == [(i, 6) for i in range(6)]
    assert {j.config.dns.rate for j in jobs} == {300.0}
    assert {j.config.guard.per_destination for j in jobs} == {1}  # 4 // 3, and never 0
    assert {j.limit for j in jobs} == {10} and jobs[0].config.context == base.context
    two = plan_jobs("l", tmp_path, base, shards=2, parallel=8)[0].config
    assert (two.dns.rate, two.guard.per_destination) == (450.0, 2)
    with pytest.raises(ValueError):
        plan_jobs("l", tmp_path, base, shards=0, parallel=1)


def test_merged_stats_count_lines_once_and_entries_per_shard(world: RunningWorld) -> None:
    stats = []
    for index in range(3):
        s = ToplistStats()
        list(read_toplist(world.toplist, shard=(index, 3), stats=s))
        stats.append(stats_to_dict(s))
    whole = ToplistStats()
    list(read_toplist(world.toplist, stats=whole))
    merged = merge_stats(stats)
    assert stats_to_dict(merged) == stats_to_dict(whole)
    assert merged.entries == 400 and merged.skipped_by_shard == 0


def test_merged_stats_sum_the_own_shard_counts(world: RunningWorld, tmp_path: Path) -> None:
    """The shards of a run de-duplicate their own names only (``run_shard``): summed, their
    duplicates and exclusions are the whole list's; a run begun by an older version (records
    without the flag) keeps the whole-list counts of its first such record."""
    text = world.toplist.read_bytes()
    doubled = tmp_path / "doubled.csv"
    doubled.write_bytes(text + text)  # every name twice
    stats = []
    for index in range(3):
        s = ToplistStats()
        list(read_toplist(doubled, shard=(index, 3), stats=s, own_shard_dedup=True))
        stats.append(stats_to_dict(s))
    whole = ToplistStats()
    list(read_toplist(doubled, stats=whole))
    assert whole.duplicates >= 400
    assert stats_to_dict(merge_stats(stats)) == stats_to_dict(whole)
    old = ToplistStats()
    list(read_toplist(doubled, shard=(1, 3), stats=old))
    mixed = merge_stats([stats[0], stats_to_dict(old), stats[2]])
    assert (mixed.duplicates, mixed.entries) == (whole.duplicates, whole.entries)


def test_progress_feed_counts_new_rows_once_and_never_backwards(tmp_path: Path) -> None:
    def attempt(index: int, name: str, counts: dict[str, int]) -> None:
        directory = shard_dir(tmp_path, index, 2) / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / PROGRESS_FILE).write_text(json.dumps({"counts": counts}))

    attempt(0, "attempt-a", {"absent": 5})  # done before this session: not progress
    progress = Progress(mode="off")
    feed = ProgressFeed(tmp_path, 2, progress)
    attempt(0, "attempt-a", {"absent": 8, "enforce": 1})
    attempt(1, "attempt-b", {"absent": 2})
    feed.poll()
    assert progress.done == 6 and progress.counts == {"absent": 5, "enforce": 1}
    committed = committed_dir(tmp_path, 1, 2)
    committed.mkdir()
    (committed / "shard.json").write_text(json.dumps({"counts": {"absent": 1}}))
    feed.poll()  # a retry restarting lower does not move the bar back
    assert progress.done == 6
    assert shard_progress(tmp_path, 1, 2) == {"absent": 1}


def test_the_shard_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    with shard_lock(tmp_path / "s"):
        assert locked(tmp_path / "s" / "lock")
    assert not locked(tmp_path / "s" / "lock")


def run_killing_shard_0(jobs: list[ShardJob], outdir: Path, *, rows: int,
                        task: ShardTask = run_shard
                        ) -> tuple[list[ShardResult], dict[int, int], list[int]]:
    """``run_workers`` with 2 processes running ``task``, SIGKILLing shard 0's child once it
    reported ``rows`` rows; (results, the last pid of each shard, the pids killed)."""
    pids: dict[int, int] = {}
    killed: list[int] = []

    def kill_shard_0() -> None:
        progress = list(shard_dir(outdir, 0, 2).glob(f"attempt-*/{PROGRESS_FILE}"))
        if killed or not progress:
            return
        if json.loads(progress[0].read_text())["done"] >= rows:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    results = run_workers(jobs, 2, Progress(mode="off"), task=task, poll=0.1,
                          on_start=lambda job, pid: pids.__setitem__(job.index, pid),
                          on_poll=kill_shard_0)
    return results, pids, killed


@pytest.mark.slow
def test_a_killed_child_is_rerun_and_its_parts_adopted(tmp_path: Path,
                                                        world: RunningWorld) -> None:
    jobs = plan_jobs(str(world.toplist), tmp_path, config(world, rate=1200.0), shards=2,
                     parallel=2, part_rows=25, progress_interval=0.1)
    results, pids, killed = run_killing_shard_0(jobs, tmp_path, rows=60)
    assert killed and pids[0] != killed[0]  # shard 0 ran again, in a new process
    assert [r.state for r in results] == ["complete", "complete"]
    assert results[0].adopted >= 50  # the complete parts of the killed attempt (25 rows each)
    assert results[0].adopted + results[0].scanned == results[0].rows
    assert dataset(tmp_path)["domain"].to_list() == toplist_domains(world)
    assert not list(shard_dir(tmp_path, 0, 2).glob("attempt-*"))  # adopted and removed


@pytest.mark.slow
def test_a_shard_whose_parts_do_not_match_its_entries_is_not_committed(
        tmp_path: Path, world: RunningWorld) -> None:
    """A dead attempt's part holding a name from another shard: adopted, then caught at commit."""
    job = plan_jobs(str(world.toplist), tmp_path, config(world), shards=2, parallel=1)[0]
    other = next(e for e in read_toplist(world.toplist, shard=(1, 2)))
    dead = shard_dir(tmp_path, 0, 2) / "attempt-dead" / "parts"
    dead.mkdir(parents=True)
    row = dataset_row(other.domain, other.rank)
    write_part(dead / "part-000001-run11.parquet", rows_to_table([row]))
    result = run_shard(job)
    assert result.state == "failed" and "not committed" in (result.error or "")
    assert not is_committed(tmp_path, 0, 2) and not part_files(tmp_path)
    # The refused attempt is set aside (quarantine/, which no reader reads): a re-run is exact.
    (kept,) = (tmp_path / "quarantine").iterdir()
    assert kept.name.startswith("0-of-2-attempt-") and len(part_files(kept)) == 2
    again = run_shard(job)
    assert again.complete and again.adopted == 0
    expected = sorted(e.domain for e in read_toplist(world.toplist, shard=(0, 2)))
    assert dataset(tmp_path)["domain"].to_list() == expected


def dataset_row(domain: str, rank: int) -> dict[str, object]:
    """A minimal valid row (the schema fills the rest with nulls)."""
    import datetime as dt

    from survey.core.classify import classify
    from survey.core.observations import DnsResult, DnsStatus, DomainObservations
    from survey.dataset.schema import to_row

    def nx(qname: str, qtype: str) -> DnsResult:
        return DnsResult(qname, qtype, DnsStatus.NXDOMAIN)

    obs = DomainObservations(domain=domain, sts_txt=nx(f"_mta-sts.{domain}", "TXT"),
                             tlsrpt_txt=nx(f"_smtp._tls.{domain}", "TXT"), mx=nx(domain, "MX"),
                             policy_host=nx(f"mta-sts.{domain}", "A"))
    return to_row(RunContext("run11", "t"), rank, obs, classify(obs), dt.datetime.now(dt.UTC))


def test_publish_moves_committed_parts_once(tmp_path: Path) -> None:
    source = committed_dir(tmp_path, 1, 3) / "parts"
    source.mkdir(parents=True)
    table = pa.table({"domain": ["a.test"]})
    write_part(source / "part-000001-abc.parquet", table)
    write_part(source / "part-000002-abc.parquet", table)
    moved = publish_shard(tmp_path, 1, 3)
    assert [p.name for p in moved] == ["part-000001-abcs1of3.parquet",
                                       "part-000002-abcs1of3.parquet"]
    assert publish_shard(tmp_path, 1, 3) == [] and len(part_files(tmp_path)) == 2


def test_jobs_pickle(world: RunningWorld, tmp_path: Path) -> None:
    import pickle

    job = plan_jobs(str(world.toplist), tmp_path, config(world), shards=2, parallel=2)[1]
    assert pickle.loads(pickle.dumps(job)) == job
    assert (job.index, job.count, job.toplist, job.outdir) == (
        1, 2, str(world.toplist), str(tmp_path))


def locked(lock: Path) -> bool:
    """Whether a live attempt holds this shard lock."""
    import fcntl

    with lock.open("a") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return False


@pytest.mark.slow
def test_sigint_then_sigkill_of_the_parent_and_the_same_command_finishes(
        tmp_path: Path, world: RunningWorld, spawn: Spawn) -> None:
    """`scan --workers 2` stopped by SIGINT (exit 0, resumable), then SIGKILLed (its children
    stop by themselves, flushing their parts): the same command then finishes the run with
    every domain once, taking over the parts of both sessions."""
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    command = [sys.executable, "-m", "survey", "scan", str(world.toplist), "-o", str(out),
               *world.scan_args(), "--workers", "2", "--rate", "600", "--part-rows", "20",
               "--no-progress"]
    deadline = time.monotonic() + 90

    def sessions() -> int:
        manifest = out / "manifest.json"
        return len(json.loads(manifest.read_text()).get("sessions", [])) if manifest.exists() else 0

    def start_and_wait_for(rows: int) -> subprocess.Popen[str]:
        """Start the command; return once it has recorded its session in the manifest and its
        own attempts have reported rows (the earlier session's count is not enough: one that
        flushed many rows on SIGINT must not let this one be killed before it starts)."""
        before_sessions, before_rows = sessions(), rows_in_attempts(out)
        parent = spawn(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
        while (sessions() <= before_sessions or rows_in_attempts(out) <= before_rows
               or rows_in_attempts(out) < rows):
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        return parent

    def no_live_attempt() -> None:
        locks = list(out.glob("shards/*/lock"))
        assert len(locks) == 2
        while any(locked(lock) for lock in locks):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert json.loads((out / "manifest.json").read_text())["state"] == "running"

    parent = start_and_wait_for(60)
    parent.send_signal(signal.SIGINT)
    _, err = parent.communicate(timeout=60)
    assert parent.returncode == 0 and "re-run the same command to resume" in err
    no_live_attempt()
    parent = start_and_wait_for(160)
    parent.kill()
    parent.communicate()
    no_live_attempt()  # the orphans noticed and stopped
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "complete" and sum(manifest["counts"].values()) == 400
    assert len(manifest["sessions"]) == 3
    records = [json.loads(p.read_text()) for p in out.glob("shards/*/committed/shard.json")]
    assert len(records) == 2 and sum(r["adopted"] for r in records) >= 140
    assert dataset(out)["domain"].to_list() == toplist_domains(world)


@pytest.mark.slow
def test_ctrl_c_stops_the_children_gracefully_and_the_rerun_finishes(
        tmp_path: Path, world: RunningWorld) -> None:
    jobs = plan_jobs(str(world.toplist), tmp_path, config(world, rate=800.0), shards=2,
                     parallel=2, part_rows=20, progress_interval=0.1)
    press_ctrl_c, pressed = ctrl_c_after(tmp_path, 60)
    stopped = run_workers(jobs, 2, Progress(mode="off"), poll=0.1, on_poll=press_ctrl_c)
    assert pressed and "interrupted" in {r.state for r in stopped}
    assert all(r.state in ("interrupted", "complete") for r in stopped)
    kept = sum(r.rows for r in stopped)  # flushed by the children on SIGTERM
    assert kept >= 60
    finished = run_workers(jobs, 2, Progress(mode="off"))
    assert all(r.complete for r in finished)
    assert sum(r.adopted + (r.rows if r.skipped else 0) for r in finished) == kept
    assert dataset(tmp_path)["domain"].to_list() == toplist_domains(world)
