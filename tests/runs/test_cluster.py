"""Sharded scans as Dask tasks on a real ``LocalCluster`` (two worker processes, 127.0.0.1).

Workers and clients are killed with SIGKILL mid-run: the dataset must still end with every
domain of the toplist exactly once, and a resumed run must not scan committed shards again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from survey.dataset.schema import RunContext
from survey.dataset.sink import part_files
from survey.runs.cluster import (
    ClusterSpec,
    open_client,
    parallelism,
    parse_cluster,
    run_on_cluster,
    worker_pids,
)
from survey.runs.shards import PROGRESS_FILE, is_committed, plan_jobs, shard_dir
from survey.scan.pool import ScanConfig
from survey.scan.progress import Progress
from survey.sim.generator import generate_world
from survey.sim.world import RunningWorld, start_world
from tests.runs.test_workers import ctrl_c_after, toplist_domains

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    with start_world(generate_world(400, seed=12), tmp_path_factory.mktemp("world")) as running:
        yield running


@pytest.fixture(scope="module")
def local_client() -> Iterator[Any]:
    """One ``LocalCluster`` of two worker processes for the in-process tests (it outlives a
    killed worker: its nanny starts a new one)."""
    with open_client(ClusterSpec(local_workers=2)) as client:
        yield client


def config(world: RunningWorld, rate: float) -> ScanConfig:
    return ScanConfig(context=RunContext("clusterrun", world.toplist.name),
                      resolvers=(world.resolver,), rate=rate, concurrency=50, dns_timeout=2.0,
                      retries=2, ca_bundle=world.ca_bundle, https_port=world.https_port,
                      smtp_port=world.smtp_port, allow_private=True)


def committed_domains(outdir: Path) -> list[str]:
    frame = pl.read_parquet([str(p) for p in part_files(outdir)], columns=["domain"])
    return sorted(frame["domain"].to_list())


@pytest.mark.parametrize(
    ("text", "spec"),
    [("local:2", ClusterSpec(local_workers=2)),
     ("tcp://10.0.0.1:8786", ClusterSpec(address="tcp://10.0.0.1:8786")),
     ("tls://scheduler:8786", ClusterSpec(address="tls://scheduler:8786"))],
)
def test_parse_cluster(text: str, spec: ClusterSpec) -> None:
    assert parse_cluster(text) == spec


@pytest.mark.parametrize("text", ["local:0", "local:x", "local:", "scheduler:8786", "tcp://"])
def test_parse_cluster_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="--cluster"):
        parse_cluster(text)


def test_a_killed_worker_has_its_shard_rerun_and_the_result_is_exact(
        tmp_path: Path, world: RunningWorld, local_client: Any) -> None:
    client = local_client
    client.wait_for_workers(2, timeout=30)
    assert parallelism(client) == 2
    pids = worker_pids(client)
    jobs = plan_jobs(str(world.toplist), tmp_path, config(world, rate=800.0), shards=2,
                     parallel=2, part_rows=25, progress_interval=0.1)
    killed: list[int] = []

    def kill_the_worker_of_shard_0() -> None:
        progress = list(shard_dir(tmp_path, 0, 2).glob(f"attempt-*/{PROGRESS_FILE}"))
        if killed or not progress or json.loads(progress[0].read_text())["done"] < 60:
            return
        for address, keys in client.processing().items():
            if any(str(key).startswith("shard-0-of-2") for key in keys):
                os.kill(pids[address], signal.SIGKILL)
                killed.append(pids[address])

    results = run_on_cluster(client, jobs, Progress(mode="off"), poll=0.1,
                             on_poll=kill_the_worker_of_shard_0)
    assert killed
    assert [r.state for r in results] == ["complete", "complete"]
    assert results[0].adopted >= 50  # the killed attempt's complete parts (25 rows each)
    assert sum(r.rows for r in results) == 400
    assert committed_domains(tmp_path) == toplist_domains(world)


CLIENT = """
import sys
from pathlib import Path
from survey.runs.cluster import ClusterSpec, open_client, run_on_cluster
from survey.scan.progress import Progress
from survey.scan.pool import ScanConfig
from survey.dataset.schema import RunContext
from survey.runs.shards import plan_jobs

if __name__ == "__main__":
    toplist, out, host, port, rate = sys.argv[1:]
    config = ScanConfig(context=RunContext("clusterrun", "toplist.csv"),
                        resolvers=((host, int(port)),), rate=float(rate), concurrency=50)
    with open_client(ClusterSpec(local_workers=2)) as client:
        jobs = plan_jobs(toplist, Path(out), config, shards=4, parallel=2, part_rows=20)
        run_on_cluster(client, jobs, Progress(mode="off"))
"""


def test_resume_after_the_client_died_skips_committed_shards(
        tmp_path: Path, world: RunningWorld, local_client: Any) -> None:
    """The client (with its local cluster) is SIGKILLed once a shard is committed."""
    out = tmp_path / "out"
    host, port = world.resolver
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    client = subprocess.Popen(
        [sys.executable, str(script), str(world.toplist), str(out), host, str(port), "300"],
        start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any(is_committed(out, i, 4) for i in range(4)):
            assert client.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(client.pid, signal.SIGKILL)  # the client and its cluster's processes
        client.wait()
    before = {i for i in range(4) if is_committed(out, i, 4)}
    assert 0 < len(before) < 4
    jobs = plan_jobs(str(world.toplist), out, config(world, rate=4000.0), shards=4, parallel=2)
    results = run_on_cluster(local_client, jobs, Progress(mode="off"))
    assert all(r.complete for r in results)
    assert {r.index for r in results if r.skipped} == before
    assert all(r.scanned == 0 for r in results if r.index in before)
    assert committed_domains(out) == toplist_domains(world)


def scan(world: RunningWorld, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "survey", "scan", str(world.toplist), "-o", str(out),
         *world.scan_args(), "--rate", "4000", "--concurrency", "100", "--no-progress",
         "--run-id", "samerun", *extra], capture_output=True, text=True, timeout=120)


def test_workers_1_workers_2_and_local_cluster_give_the_same_dataset(
        tmp_path: Path, world: RunningWorld) -> None:
    frames, manifests = [], []
    for name, extra in [("one", ["--workers", "1"]), ("two", ["--workers", "2"]),
                        ("dask", ["--cluster", "local:2"])]:
        out = tmp_path / name
        done = scan(world, out, *extra)
        assert done.returncode == 0, done.stderr
        manifests.append(json.loads((out / "manifest.json").read_text()))
        frame = pl.read_parquet([str(p) for p in part_files(out)])
        frames.append(frame.drop("scanned_at", "https_elapsed_ms", "smtp").sort("domain"))
    assert frames[0]["domain"].to_list() == toplist_domains(world)
    assert frames[0].equals(frames[1]) and frames[0].equals(frames[2])
    assert {m["state"] for m in manifests} == {"complete"}
    assert manifests[0]["counts"] == manifests[1]["counts"] == manifests[2]["counts"]
    assert manifests[0]["toplist_stats"] == manifests[1]["toplist_stats"] \
        == manifests[2]["toplist_stats"]
    assert not (tmp_path / "one" / "shards").exists()
    assert sorted(p.name for p in part_files(tmp_path / "two")) == [
        "part-000001-sameruns0of2.parquet", "part-000001-sameruns1of2.parquet"]
    assert {p.name for p in (tmp_path / "dask" / "shards").iterdir()} >= {"0-of-2", "1-of-2"}


def test_ctrl_c_in_the_client_stops_the_tasks_and_the_rerun_finishes(
        tmp_path: Path, world: RunningWorld, local_client: Any) -> None:
    jobs = plan_jobs(str(world.toplist), tmp_path, config(world, rate=800.0), shards=2,
                     parallel=2, part_rows=20, progress_interval=0.1)
    press_ctrl_c, pressed = ctrl_c_after(tmp_path, 60)
    local_client.wait_for_workers(2, timeout=30)
    stopped = run_on_cluster(local_client, jobs, Progress(mode="off"), poll=0.1,
                             on_poll=press_ctrl_c)
    assert pressed and (tmp_path / "shards" / "STOP").exists()
    assert "interrupted" in {r.state for r in stopped}
    kept = sum(r.rows for r in stopped)
    assert kept >= 60
    finished = run_on_cluster(local_client, jobs, Progress(mode="off"))
    assert not (tmp_path / "shards" / "STOP").exists()
    assert all(r.complete for r in finished)
    assert sum(r.adopted + (r.rows if r.skipped else 0) for r in finished) == kept
    assert committed_domains(tmp_path) == toplist_domains(world)


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker --nworkers 2`` (as docs/cluster.md says), on
    127.0.0.1 only; the address of the scheduler, once both workers have joined."""
    from distributed import Client

    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    info = tmp_path / "scheduler.json"
    started = [subprocess.Popen(
        [*dask, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(info)], start_new_session=True, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 30
        while not info.exists() or not info.read_text():
            assert time.monotonic() < deadline, "no scheduler"
            time.sleep(0.05)
        address = json.loads(info.read_text())["address"]
        started.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
             "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
            start_new_session=True, stderr=subprocess.DEVNULL))
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=30)
        yield address
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_scan_on_a_dask_scheduler_with_two_workers(tmp_path: Path, world: RunningWorld,
                                                   scheduler: str) -> None:
    assert scheduler.startswith("tcp://127.0.0.1:")
    done = scan(world, tmp_path / "out", "--cluster", scheduler)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["state"] == "complete" and sum(manifest["counts"].values()) == 400
    assert sorted(p.name for p in (tmp_path / "out" / "shards").iterdir()) == ["0-of-2",
                                                                              "1-of-2"]
    assert committed_domains(tmp_path / "out") == toplist_domains(world)
