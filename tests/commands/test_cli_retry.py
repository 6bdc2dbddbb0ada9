"""`scan --retry-errors OUTDIR` against the test internet: OUTDIR alone is enough (toplist and
options from its manifest, options given again override), the old `TOPLIST -o OUTDIR
--retry-errors` form still works, and exactly the rows with status error are probed again."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from survey.dataset.sink import read_manifest, write_manifest
from survey.sim.catalogue import EXCLUDED_PREFIX, catalogue
from survey.sim.scenario import World
from survey.sim.world import RunningWorld, start_world
from tests.commands.test_cli_scan import FAST, _expect, check_expectations, rows_by_domain

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, RunningWorld, Path]]:
    directory = tmp_path_factory.mktemp("retry")
    exclude = directory / "exclude.txt"
    exclude.write_text(f"{EXCLUDED_PREFIX}\n")
    with start_world(World(catalogue()), directory) as running:
        yield World(catalogue()), running, exclude


@pytest.fixture
def silent_resolver() -> Iterator[str]:
    """A UDP port on loopback that receives queries and never answers (a resolver outage)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def survey(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "survey", "scan", *argv], capture_output=True,
                          text=True, timeout=120)


def world_args(running: RunningWorld, resolver: str) -> list[str]:
    args = running.scan_args()
    args[args.index("--resolver") + 1] = resolver
    return args


def test_retry_errors_outdir_alone(world: tuple[World, RunningWorld, Path], tmp_path: Path,
                                   silent_resolver: str) -> None:
    scenarios, running, exclude = world
    out = tmp_path / "out"
    first = survey(str(running.toplist), "-o", str(out), *world_args(running, silent_resolver),
                   *FAST, "--exclude", str(exclude), "--run-date", "2026-11-01",
                   "--toplist-name", "catalogue", "--no-progress")
    assert first.returncode == 0, first.stderr
    errors = {d for d, r in rows_by_domain(out).items() if r["status"] == "error"}
    assert len(errors) >= len(scenarios.scenarios) - 2  # the outage: (nearly) every row
    before = read_manifest(out)
    assert before is not None and before["run_date"] == "2026-11-01"

    live = f"{running.resolver[0]}:{running.resolver[1]}"
    retry = survey("--retry-errors", str(out), "--resolver", live)  # only what changed
    assert retry.returncode == 0, retry.stderr
    assert f"retrying {len(errors):,} domain(s) with status error" in retry.stderr
    rows = rows_by_domain(out)
    assert len(rows) == len(scenarios.scenarios)
    check_expectations(scenarios, rows, _expect)  # ports, CA, --allow-private, --exclude kept
    assert {r["toplist"] for r in rows.values()} == {"catalogue"}
    after = read_manifest(out)
    assert after is not None and after["state"] == "complete"
    assert (after["run_id"], after["run_date"]) == (before["run_id"], "2026-11-01")
    changed = {k for k in after["options"] if after["options"][k] != before["options"][k]}
    assert changed == {"resolvers"} and after["options"]["resolvers"] == [live]
    assert after["sessions"][-1]["retried_errors"] == len(errors)


def test_retry_errors_of_a_sharded_run(world: tuple[World, RunningWorld, Path], tmp_path: Path,
                                       silent_resolver: str) -> None:
    """A complete --workers run is retried in one process (its rows are all in parts/ by
    then); while that retry is unfinished, a sharded resume would wrongly call it complete."""
    scenarios, running, exclude = world
    out = tmp_path / "out"
    command = [str(running.toplist), "-o", str(out), *world_args(running, silent_resolver),
               *FAST, "--exclude", str(exclude), "--no-progress", "--workers", "2"]
    first = survey(*command)
    assert first.returncode == 0, first.stderr
    assert (out / "shards").is_dir()
    errors = {d for d, r in rows_by_domain(out).items() if r["status"] == "error"}
    refused = survey("--retry-errors", str(out), "--workers", "2")
    assert refused.returncode == 2 and "runs in one process" in refused.stderr

    manifest = read_manifest(out)
    assert manifest is not None
    write_manifest(out, {**manifest, "state": "running", "retrying": True})  # as if killed
    refused = survey(*command)
    assert refused.returncode == 2
    assert f"a --retry-errors was interrupted; finish it with scan --retry-errors {out}" in \
        refused.stderr

    live = f"{running.resolver[0]}:{running.resolver[1]}"
    retry = survey("--retry-errors", str(out), "--resolver", live)
    assert retry.returncode == 0, retry.stderr
    assert f"retrying {len(errors):,} domain(s)" in retry.stderr
    check_expectations(scenarios, rows_by_domain(out), _expect)
    manifest = read_manifest(out)
    assert manifest is not None and manifest["state"] == "complete"
    assert "retrying" not in manifest
    resumed = survey(*command)  # the sharded command again: nothing left to do
    assert resumed.returncode == 0, resumed.stderr
    assert "scanned now       0" in resumed.stdout
    check_expectations(scenarios, rows_by_domain(out), _expect)


def scanned_at(out: Path) -> dict[str, Any]:
    return {d: r["scanned_at"] for d, r in rows_by_domain(out).items()}


def test_old_form_retries_exactly_the_error_rows(world: tuple[World, RunningWorld, Path],
                                                 tmp_path: Path) -> None:
    scenarios, running, exclude = world
    out = tmp_path / "out"
    command = [str(running.toplist), "-o", str(out), *running.scan_args(), *FAST,
               "--exclude", str(exclude), "--no-progress"]
    assert survey(*command).returncode == 0
    rows = rows_by_domain(out)
    errors = {d for d, r in rows.items() if r["status"] == "error"}
    expected = {s.domain for s in scenarios.scenarios if _expect(s).status == "error"}
    assert errors == expected and errors  # the catalogue's own measurement errors
    times = scanned_at(out)
    retry = survey(*command, "--retry-errors")
    assert retry.returncode == 0, retry.stderr
    assert f"retrying {len(errors):,} domain(s)" in retry.stderr
    again = rows_by_domain(out)
    check_expectations(scenarios, again, _expect)
    redone = {d for d, r in again.items() if r["scanned_at"] != times[d]}
    assert redone == errors  # probed again and replaced: exactly those rows


def test_retry_errors_refusals(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    result = survey("--retry-errors", str(empty))
    assert result.returncode == 2
    assert result.stderr.strip() == f"scan: --retry-errors: {empty} holds no run to retry"
    assert not empty.exists()
    result = survey("--retry-errors", str(tmp_path / "a"), "-o", str(tmp_path / "b"), "x.csv")
    assert result.returncode == 2 and "two output directories" in result.stderr
    result = survey("-o", str(tmp_path / "b"))
    assert result.returncode == 2 and "give a TOPLIST" in result.stderr
