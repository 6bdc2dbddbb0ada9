"""nginx serving an exported world gives the scanner the same rows as the test internet's own
HTTPS server: what lets the benchmark's scan rows fetch their policies from nginx (and the
``https`` row measure the scanner, not a Python server). nginx comes from Debian
(``make system-deps``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from benchmarks import nginx
from survey.dataset.sink import part_files
from survey.sim.ca import TestCA
from survey.sim.generator import generate_world
from survey.sim.world import RunningWorld, start_world

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow


def ensure_nginx() -> None:
    """nginx installed, with apt-get when missing and running as root (as CI is); Debian's own
    service is kept from starting (it would listen on port 80 of every address)."""
    try:
        nginx.nginx_binary()
        return
    except FileNotFoundError:
        pass
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "RUNLEVEL": "1"}
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=False, env=env,
                       capture_output=True, timeout=300)
    try:
        nginx.nginx_binary()
    except FileNotFoundError:
        pytest.fail("nginx is not installed and cannot be: run `make system-deps` as root")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    ensure_nginx()
    with start_world(generate_world(3000, seed=8), tmp_path_factory.mktemp("world")) as running:
        yield running


def scan(world: RunningWorld, out: Path, *extra: str) -> pl.DataFrame:
    done = subprocess.run(
        [sys.executable, "-m", "survey", "scan", str(world.toplist), "-o", str(out),
         *world.scan_args(), "--rate", "5000", "--no-progress", "--run-id", "nginxrun", *extra],
        capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    frame = pl.read_parquet([str(p) for p in part_files(out)])
    return frame.drop("scanned_at", "https_elapsed_ms", "smtp").sort("domain")


def test_a_scan_against_nginx_gives_the_rows_of_the_test_internet(
        tmp_path: Path, world: RunningWorld) -> None:
    site = nginx.export_site(world.world, tmp_path / "site", TestCA(world.ca_bundle.parent),
                             plan=world.plan)
    assert site.skipped == {} and len(site.hosts) > 30  # every host of a generated world
    with nginx.serve(site):
        against_nginx = scan(world, tmp_path / "nginx", "--https-port", str(site.port))
    against_sim = scan(world, tmp_path / "sim")
    assert against_nginx.height == 3000
    fetched = against_sim.filter(pl.col("https_attempted"))
    assert fetched.height >= len(site.hosts)  # and hosts the world refuses or lacks
    assert set(fetched["https_status"].drop_nulls().to_list()) >= {200, 404}
    assert fetched["https_error"].drop_nulls().len() > 0  # expired, wrong-name... hosts too
    # the only difference: nginx's certificates were issued by the same test CA seconds later
    expiry = "https_cert_not_after"
    drift = (against_nginx[expiry] - against_sim[expiry]).drop_nulls().dt.total_seconds()
    assert drift.len() >= len(site.hosts) and drift.abs().max() < 120  # type: ignore[operator]
    assert against_nginx.drop(expiry).equals(against_sim.drop(expiry))
