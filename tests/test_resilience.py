"""The process survives its machine: SIGKILLs at random moments, a full disk, damaged parts.

Every scan here is the real CLI in a subprocess against the test internet on loopback; the
assertion is always the same: every domain exactly once, and rows equal to a clean run's
(run id, timestamps and elapsed times aside).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from survey.sim.generator import generate_world
from survey.sim.scenario import World
from survey.sim.world import RunningWorld, start_world
from survey.sink import QUARANTINE, completed_domains, part_files, read_manifest

DOMAINS = 20_000
FAST = ["--timeout", "2", "--dns-timeout", "0.5", "--retries", "1", "--no-progress",
        "--rate", "50000", "--concurrency", "500"]
VOLATILE = {"run_id", "scanned_at", "https_elapsed_ms"}


def scan_cmd(running: RunningWorld, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "survey", "scan", str(running.toplist), "-o", str(out),
            *running.scan_args(), *FAST, *extra]


def stable_rows(out: Path) -> dict[str, dict[str, Any]]:
    """Rows by domain without volatile columns; fails when a domain appears twice."""
    rows = pq.read_table(out / "parts").to_pylist()
    by_domain = {r["domain"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in rows}
    assert len(by_domain) == len(rows), "a domain appears twice"
    return by_domain


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[World, RunningWorld, dict[str, dict[str, Any]]]]:
    """A generated world and the rows of one clean, uninterrupted scan of it."""
    world = generate_world(DOMAINS, seed=9)
    directory = tmp_path_factory.mktemp("resilience")
    with start_world(world, directory) as running:
        clean = directory / "clean"
        subprocess.run(scan_cmd(running, clean), check=True, capture_output=True, timeout=120)
        yield world, running, stable_rows(clean)


def parts_count(out: Path) -> int:
    return len(list((out / "parts").glob("*.parquet"))) if (out / "parts").is_dir() else 0


def wait_for_parts(out: Path, proc: subprocess.Popen[bytes], count: int,
                   timeout: float = 60.0) -> None:
    """Until ``out`` holds ``count`` parts (observable progress, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while parts_count(out) < count and proc.poll() is None:
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.01)


def assert_equals_clean(world: World, out: Path, clean: dict[str, dict[str, Any]]) -> None:
    rows = stable_rows(out)
    assert sorted(rows) == sorted(s.domain for s in world.scenarios)
    different = [d for d, row in clean.items() if rows[d] != row]
    assert not different, f"{len(different)} rows differ, e.g. {different[:3]}"


def test_ten_sigkills_at_random_moments_then_resume_equals_a_clean_run(
        generated: tuple[World, RunningWorld, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    world, running, clean = generated
    out = tmp_path / "killed"
    rng = random.Random(20)
    kills = 0
    for _ in range(30):  # ten kills, whatever the machine's speed (bounded attempts)
        proc = subprocess.Popen(scan_cmd(running, out, "--part-rows", "250"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # a random moment: at start-up, during the resume's skip, or between two parts
        wait_for_parts(out, proc, parts_count(out) + rng.choice([0, 1, 2]))
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        if kills == 10:
            break
    assert kills == 10
    manifest = read_manifest(out)
    assert manifest is not None and manifest["state"] == "running"
    assert 0 < len(completed_domains(out)) < DOMAINS
    done = subprocess.run(scan_cmd(running, out), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    manifest = read_manifest(out)
    assert manifest is not None and manifest["state"] == "complete"
    # a kill before the manifest's first write leaves no session behind: at most one per start
    assert 2 <= len(manifest["sessions"]) <= kills + 1
    assert sum(manifest["counts"].values()) == DOMAINS
    assert_equals_clean(world, out, clean)


def test_corrupt_and_truncated_parts_are_quarantined_and_rescanned(
        generated: tuple[World, RunningWorld, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    world, running, clean = generated
    out = tmp_path / "out"
    first = subprocess.run(scan_cmd(running, out, "--part-rows", "2000"),
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    parts = part_files(out)
    assert len(parts) == DOMAINS // 2000
    truncated, corrupt = parts[1], parts[4]
    lost = set(pq.read_table(truncated, columns=["domain"]).column("domain").to_pylist()) | set(
        pq.read_table(corrupt, columns=["domain"]).column("domain").to_pylist())
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])  # a crash of an older, non-atomic writer
    damaged = bytearray(corrupt.read_bytes())
    damaged[len(damaged) // 2: len(damaged) // 2 + 64] = bytes(64)  # a bad sector: the footer survives
    corrupt.write_bytes(bytes(damaged))
    (out / "parts" / "part-999999-old.parquet.tmp").write_bytes(b"half")  # a stray tmp file
    # the same command again: the damaged parts' domains are scanned again, and only they
    again = subprocess.run(scan_cmd(running, out, "--part-rows", "2000"),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    quarantined = sorted(p.name for p in (out / QUARANTINE).iterdir())
    assert quarantined == sorted([truncated.name, corrupt.name])
    assert again.stderr.count("unreadable part moved to") == 2
    assert not list((out / "parts").glob("*.tmp"))
    assert len(lost) == 4000
    assert f"already done      {DOMAINS - len(lost):,}" in again.stdout
    assert f"scanned now       {len(lost):,}" in again.stdout
    assert_equals_clean(world, out, clean)


def _mount_tmpfs(directory: Path, size: str) -> None:
    directory.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                   check=True, capture_output=True)


def test_a_full_disk_stops_the_run_with_a_message_and_a_resumable_state(
        generated: tuple[World, RunningWorld, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    """Needs root for ``mount -t tmpfs`` (CI runs as root; see the report for other setups)."""
    world, running, clean = generated
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "2m")
    try:
        filler = disk / "filler"
        filler.write_bytes(bytes(2 * 1024 * 1024 - 300 * 1024))  # about 300 KiB left
        out = disk / "out"
        full = subprocess.run(scan_cmd(running, out, "--part-rows", "200"),
                              capture_output=True, text=True, timeout=120)
        assert full.returncode == 1
        assert "Traceback" not in full.stderr
        assert "No space left on device" in full.stderr
        assert "re-run the same command to resume" in full.stderr
        manifest = read_manifest(out)
        assert manifest is not None and manifest["state"] == "running"
        kept = completed_domains(out)
        assert 0 < len(kept) < DOMAINS
        rows_before = stable_rows(out)
        filler.unlink()  # space freed, and the disk grown: the same command, in place
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        resumed = subprocess.run(scan_cmd(running, out), capture_output=True, text=True,
                                 timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        assert f"already done      {len(kept):,}" in resumed.stdout
        after = stable_rows(out)
        assert all(after[d] == row for d, row in rows_before.items())  # kept, not redone
        assert_equals_clean(world, out, clean)
    finally:
        subprocess.run(["umount", str(disk)], check=False, capture_output=True)
