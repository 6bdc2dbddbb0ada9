"""OUT as an object-store URL: ``scan -o s3://bucket/run`` against a real S3 API (moto's server on
127.0.0.1, through s3fs, as a user's bucket would be reached), one process, ``--workers`` and
``--cluster``, interrupted and resumed; the commit protocol's races by hand."""

from __future__ import annotations

import io
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
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from survey.dataset.sink import PARTS, part_files
from survey.runs.shards import COMMITTED, SHARD_RECORD, shard_dir
from survey.runs.store import (
    RECORD,
    Store,
    finalize,
    is_store_url,
    push_shard,
    run_store_shard,
    shard_prefix,
    staging_dir,
    store_part_name,
)
from survey.sim.generator import generate_world
from survey.sim.world import RunningWorld, start_world
from tests.conftest import Spawn
from tests.runs.test_workers import toplist_domains

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

BUCKET = "survey-bucket"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")  # the dev extra installs it
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Store]:
    """A fresh bucket; the environment (inherited by the scan and its workers) points botocore
    at the local server, and the staging directories into this test's tmp_path."""
    for name, value in {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                        "XDG_CACHE_HOME": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(name, value)
    store = Store.open(f"s3://{BUCKET}/run")
    store.fs.invalidate_cache()
    if store.fs.exists(BUCKET):
        store.fs.rm(BUCKET, recursive=True)
    store.fs.mkdir(BUCKET)
    yield store
    store.fs.clear_instance_cache()  # no later test may reach this server through a cached one


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    with start_world(generate_world(300, seed=21), tmp_path_factory.mktemp("world")) as running:
        yield running


def scan(world: RunningWorld, out: str, *extra: str, run_id: str = "storerun"
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "survey", "scan", str(world.toplist), "-o", out,
         *world.scan_args(), "--rate", "4000", "--concurrency", "100", "--no-progress",
         "--run-id", run_id, *extra], capture_output=True, text=True, timeout=180)


def store_frame(store: Store) -> pl.DataFrame:
    """Every part under ``parts/`` on the store, read back over the S3 API."""
    table = pa.concat_tables(
        pq.read_table(io.BytesIO(store.fs.cat_file(store.path(f"{PARTS}/{name}"))))
        for name in store.names(PARTS))
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def comparable(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop("scanned_at", "https_elapsed_ms", "smtp").sort("domain")


def test_store_urls_are_told_from_paths() -> None:
    assert is_store_url("s3://bucket/run") and is_store_url("gs://b/r") and is_store_url("memory://x")
    assert not is_store_url("file:///tmp/run") and not is_store_url("run:2026")
    assert not is_store_url("/data/run")
    assert staging_dir("s3://b/r/", "abc") == staging_dir("s3://b/r", "abc")
    assert staging_dir("s3://b/r", "abc") != staging_dir("s3://b/r", "abd")
    assert store_part_name("part-000001-abcds0of2.parquet", "1f2e") == \
        "part-000001-abcds0of2a1f2e.parquet"


def test_one_process_workers_and_cluster_write_the_local_dataset_to_the_store(
        tmp_path: Path, world: RunningWorld, s3: Store) -> None:
    local = scan(world, str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    expected = comparable(pl.read_parquet([str(p) for p in part_files(tmp_path / "local")]))
    local_manifest = json.loads((tmp_path / "local" / "manifest.json").read_text())
    for name, extra in [("one", []), ("two", ["--workers", "2"]),
                        ("dask", ["--cluster", "local:2"])]:
        url = f"s3://{BUCKET}/{name}"
        done = scan(world, url, *extra)
        assert done.returncode == 0, (name, done.stderr)
        store = Store.open(url)
        manifest = store.manifest()
        assert manifest is not None and manifest["state"] == "complete", name
        assert manifest["counts"] == local_manifest["counts"], name
        assert manifest["toplist_stats"]["entries"] == 300
        frame = comparable(store_frame(store))
        assert frame["domain"].to_list() == toplist_domains(world), name
        assert frame.equals(expected), name
        count = store.planned_shards()
        assert count == (1 if name == "one" else 2)
        records = [store.record(i, count) for i in range(count)]
        listed = sorted(n for r in records if r is not None for n in r["parts"])
        assert listed == store.names(PARTS)  # every part belongs to one commit
        # the staging directory keeps no rows once they are on the store
        staging = staging_dir(url, "storerun")
        assert staging.is_dir() and not part_files(staging)


def test_an_interrupted_scan_to_the_store_resumes_exactly_once(
        tmp_path: Path, world: RunningWorld, s3: Store, spawn: Spawn) -> None:
    url = f"s3://{BUCKET}/resumed"
    argv = [sys.executable, "-m", "survey", "scan", str(world.toplist), "-o", url,
            *world.scan_args(), "--rate", "150", "--concurrency", "20", "--no-progress",
            "--part-rows", "20", "--workers", "2", "--run-id", "resumed"]
    process = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staging = staging_dir(url, "resumed")
    deadline = time.monotonic() + 60
    while len(list(staging.glob("shards/*/attempt-*/parts/*.parquet"))) < 2:
        # some rows in complete parts of the attempts before the interruption
        assert process.poll() is None and time.monotonic() < deadline, "no part written"
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err  # a graceful stop, told where to resume
    assert f"resume into {url}" in err
    first = Store.open(url).manifest()
    assert first is not None and first["state"] == "running"
    done = scan(world, url, "--workers", "2", run_id="resumed")
    assert done.returncode == 0, done.stderr
    store = Store.open(url)
    manifest = store.manifest()
    assert manifest is not None and manifest["state"] == "complete"
    assert len(manifest["sessions"]) == 2
    frame = store_frame(store)
    assert sorted(frame["domain"].to_list()) == toplist_domains(world)  # none twice, none lost
    assert sum(manifest["counts"].values()) == 300


def _commit_locally(staging: Path, index: int, count: int, attempt: str,
                    rows: list[dict[str, Any]]) -> None:
    """A shard committed in ``staging`` as ``survey.runs.shards`` leaves it (parts moved out)."""
    from survey.dataset.schema import rows_to_table
    from survey.dataset.sink import write_part

    (shard_dir(staging, index, count) / COMMITTED).mkdir(parents=True)
    (shard_dir(staging, index, count) / COMMITTED / SHARD_RECORD).write_text(json.dumps(
        {"index": index, "count": count, "rows": len(rows), "attempt": attempt,
         "counts": {"absent": len(rows)}}))
    (staging / PARTS).mkdir(parents=True, exist_ok=True)
    write_part(staging / PARTS / f"part-000001-runs{index}of{count}.parquet",
               rows_to_table(rows))


def test_two_attempts_of_a_shard_never_mix_and_strays_are_deleted(
        tmp_path: Path, s3: Store) -> None:
    from tests.dataset.test_sink import row as sample_row

    rows = [sample_row(f"d{i}.example") for i in range(5)]
    _commit_locally(tmp_path / "a", 0, 1, "attempt-aaaaaaaa11", rows)
    _commit_locally(tmp_path / "b", 0, 1, "attempt-bbbbbbbb22", rows)
    won = push_shard(s3, tmp_path / "a", 0, 1)
    assert won["parts"] == ["part-000001-runs0of1aaaaaaaaa.parquet"]
    # a second attempt that finished too (its worker was presumed dead) finds the record...
    assert push_shard(s3, tmp_path / "b", 0, 1) == won
    # ...and one that raced past that check loses the exclusive create and deletes its uploads
    s3.remove(f"{shard_prefix(0, 1)}/{RECORD}")
    _commit_locally(tmp_path / "c", 0, 1, "attempt-cccccccc33", rows)
    s3.write_json(f"{shard_prefix(0, 1)}/{RECORD}", won)
    lost = push_shard(s3, tmp_path / "c", 0, 1)
    assert lost == won
    assert s3.names(PARTS) == ["part-000001-runs0of1aaaaaaaaa.parquet"]
    # an upload a crash left without a record is deleted when the run is finalised
    s3.fs.pipe_file(s3.path(f"{PARTS}/part-000002-runs0of1addddddd.parquet"), b"partial")
    assert finalize(s3, 1) == {"absent": 5}
    assert s3.names(PARTS) == ["part-000001-runs0of1aaaaaaaaa.parquet"]
    assert finalize(s3, 2) is None  # shard 1 of 2 has no record: not complete


def test_push_refuses_a_local_commit_whose_parts_are_gone(tmp_path: Path, s3: Store) -> None:
    from tests.dataset.test_sink import row as sample_row

    _commit_locally(tmp_path / "a", 0, 1, "attempt-aaaaaaaa11", [sample_row("x.example")])
    for part in (tmp_path / "a" / PARTS).iterdir():
        part.unlink()
    with pytest.raises(OSError, match="parts are gone"):
        push_shard(s3, tmp_path / "a", 0, 1)
    assert s3.record(0, 1) is None


@pytest.mark.parametrize("extra", [["--retry-errors"], ["--shard", "0/2"]])
def test_store_out_refuses_what_it_cannot_do(world: RunningWorld, s3: Store,
                                             extra: list[str]) -> None:
    done = scan(world, f"s3://{BUCKET}/refused", *extra)
    assert done.returncode == 2
    assert ("object store" in done.stderr or "object-store" in done.stderr), done.stderr
    assert "Traceback" not in done.stderr


def test_an_in_process_store_is_refused() -> None:
    with pytest.raises(ValueError, match="memory:// lives in one process"):
        Store.open("memory://bucket/run")


def test_an_unknown_store_scheme_is_a_clear_usage_error(world: RunningWorld,
                                                        tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "survey", "scan", str(world.toplist), "-o", "nosuch://b/run",
         *world.scan_args(), "--no-progress"], capture_output=True, text=True, timeout=60,
        env=env)
    assert done.returncode == 2 and "nosuch://b/run" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_killed_worker_of_a_store_run_is_rerun_and_the_store_gets_each_domain_once(
        world: RunningWorld, s3: Store) -> None:
    from survey.runs.shards import plan_jobs
    from tests.runs.test_workers import config, run_killing_shard_0

    url = f"s3://{BUCKET}/killed"
    base = config(world, rate=1200.0)
    staging = staging_dir(url, base.context.run_id)  # where each task stages on this machine
    jobs = plan_jobs(str(world.toplist), staging, base, shards=2, parallel=2, part_rows=25,
                     progress_interval=0.1, store=url)
    results, pids, killed = run_killing_shard_0(jobs, staging, rows=60, task=run_store_shard)
    assert killed and pids[0] != killed[0]
    assert [r.state for r in results] == ["complete", "complete"]
    assert results[0].adopted >= 50  # same machine: the dead attempt's staged parts adopted
    store = Store.open(url)
    assert store.record(0, 2) is not None and store.record(1, 2) is not None
    assert finalize(store, 2) is not None
    assert sorted(store_frame(store)["domain"].to_list()) == toplist_domains(world)


def test_ctrl_c_in_the_cluster_client_stops_store_tasks_and_the_rerun_finishes(
        world: RunningWorld, s3: Store) -> None:
    from survey.dataset.sink import SHARDS
    from survey.runs.cluster import ClusterSpec, open_client, run_on_cluster
    from survey.runs.session import shard_task
    from survey.runs.shards import plan_jobs
    from survey.runs.store import STOP
    from survey.scan.progress import Progress
    from tests.runs.test_workers import config, ctrl_c_after

    url = f"s3://{BUCKET}/stopped"
    base = config(world, rate=150.0)  # ~8 s a shard: the tasks see STOP within 2 s
    staging = staging_dir(url, base.context.run_id)
    jobs = plan_jobs(str(world.toplist), staging, base, shards=2, parallel=2, part_rows=20,
                     progress_interval=0.1, store=url)
    press_ctrl_c, pressed = ctrl_c_after(staging, 40)
    store = Store.open(url)
    with open_client(ClusterSpec(local_workers=2)) as client:
        client.wait_for_workers(2, timeout=30)
        task, read = shard_task(staging, url)
        stopped = run_on_cluster(client, jobs, Progress(mode="off"), task=task, read=read,
                                 poll=0.1, on_poll=press_ctrl_c)
        assert pressed and store.exists(f"{SHARDS}/{STOP}")
        assert "interrupted" in {r.state for r in stopped}
        assert not list(staging.glob("shards/*/STOP-*"))  # each task's own stop file, removed
        finished = run_on_cluster(client, jobs, Progress(mode="off"), task=task, read=read)
    assert not store.exists(f"{SHARDS}/{STOP}")
    assert all(r.complete for r in finished)
    assert finalize(store, 2) is not None
    assert sorted(store_frame(store)["domain"].to_list()) == toplist_domains(world)


def test_the_client_polls_each_shard_at_most_every_interval_and_a_committed_one_once(
        s3: Store) -> None:
    from survey.runs.store import PROGRESS, StoreProgress

    now = [0.0]
    progress = StoreProgress(s3, interval=2.0, clock=lambda: now[0])
    s3.write_json(f"{shard_prefix(0, 1)}/{PROGRESS}", {"counts": {"absent": 3}})
    assert progress(0, 1) == {"absent": 3}
    s3.write_json(f"{shard_prefix(0, 1)}/{PROGRESS}", {"counts": {"absent": 7}})
    now[0] = 1.0
    assert progress(0, 1) == {"absent": 3}  # asked 1 s ago: not again
    now[0] = 2.5
    assert progress(0, 1) == {"absent": 7}
    s3.write_json(f"{shard_prefix(0, 1)}/{RECORD}", {"counts": {"absent": 9}, "parts": []})
    now[0] = 5.0
    assert progress(0, 1) == {"absent": 9}
    s3.remove(f"{shard_prefix(0, 1)}/{RECORD}")
    now[0] = 9.0
    assert progress(0, 1) == {"absent": 9}  # committed: final, never asked again


def test_resuming_with_other_options_names_the_store(world: RunningWorld, s3: Store) -> None:
    url = f"s3://{BUCKET}/options"
    assert scan(world, url, "--limit", "50").returncode == 0
    changed = scan(world, url, "--limit", "60")
    assert changed.returncode == 2
    assert f"{url} holds a run with other options (limit)" in changed.stderr, changed.stderr
