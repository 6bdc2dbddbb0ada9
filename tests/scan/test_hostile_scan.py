"""A scan through 200 hostile hosts (survey.sim.hostile): each costs at most its deadline, the
scanner's memory stays flat, and every behaviour ends in its own error category in the rows.

The scan runs as a real subprocess (``python -m survey scan``); its peak RSS is the kernel's
``VmHWM`` of that process, sampled until it exits (the high-water mark never goes down).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from survey.sim.hostile import (
    EXPECTED_ERROR,
    HTTPS_BEHAVIOURS,
    SMTP_BEHAVIOURS,
    Hostile,
    HostilePlan,
    HostileWorld,
    behaviour_of,
    hostile_world,
    start_hostile_world,
)
from survey.sim.scenario import World
from tests.conftest import deadline_bound

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

PER_BEHAVIOUR = 20  # 200 hosts
TIMEOUT = 2.0  # --timeout: the HTTPS and the SMTP deadline each
CONCURRENCY = 50
SLACK = 12.0  # interpreter start, world warm-up, a loaded CI machine
RSS_LIMIT_MB = 300


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileWorld]:
    world, plan = hostile_world(PER_BEHAVIOUR)
    with start_hostile_world(world, tmp_path_factory.mktemp("hostile"), plan=plan) as running:
        yield running


@dataclass(frozen=True)
class Scan:
    returncode: int
    seconds: float
    max_rss_mb: float
    stderr: str
    rows: list[dict[str, Any]]
    stdout: str


def vm_hwm_kb(pid: int) -> int:
    """The process's peak RSS so far (``VmHWM``, reset by exec: unlike ``ru_maxrss``, it does
    not include the forking parent's memory); 0 once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def scan(world: HostileWorld, out: Path, *extra: str, allow_private: bool = True) -> Scan:
    """Run ``scan --smtp`` in a child process, sampling its peak RSS every 20 ms."""
    running = world.running
    options = [a for a in running.scan_args() if allow_private or a != "--allow-private"]
    err = out.parent / f"{out.name}.stderr"
    command = [sys.executable, "-m", "survey", "scan", str(running.toplist), "-o", str(out),
               *options, "--smtp", "--timeout", str(TIMEOUT), "--dns-timeout", "2",
               "--concurrency", str(CONCURRENCY), "--per-destination", str(CONCURRENCY),
               "--no-progress", *extra]
    started = time.monotonic()
    peak_kb = 0
    with err.open("wb") as stderr, (out.parent / f"{out.name}.stdout").open("wb") as output:
        proc = subprocess.Popen(command, stdout=output, stderr=stderr)
        while proc.poll() is None:
            peak_kb = max(peak_kb, vm_hwm_kb(proc.pid))
            time.sleep(0.02)
    seconds = time.monotonic() - started
    rows = pq.read_table(out / "parts").to_pylist() if (out / "parts").is_dir() else []
    stdout = out.parent / f"{out.name}.stdout"
    return Scan(proc.returncode, seconds, peak_kb / 1024, err.read_text(), rows,
                stdout.read_text())


def error_of(row: dict[str, Any], behaviour: Hostile) -> str | None:
    if behaviour in SMTP_BEHAVIOURS:
        assert len(row["smtp"]) == 1, row["domain"]
        error: str | None = row["smtp"][0]["error"]
        return error
    https_error: str | None = row["https_error"]
    return https_error


def test_200_hostile_hosts_cost_their_deadlines_flat_memory_and_their_categories(
        hostile: HostileWorld, tmp_path: Path) -> None:
    small = scan(hostile, tmp_path / "small", "--limit", "50")
    full = scan(hostile, tmp_path / "full")
    print(f"50 hosts: {small.seconds:.1f} s, {small.max_rss_mb:.0f} MB; "
          f"200 hosts: {full.seconds:.1f} s, {full.max_rss_mb:.0f} MB")
    for result, n in ((small, 50), (full, 10 * PER_BEHAVIOUR)):
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.rows) == n == len({r["domain"] for r in result.rows})
        # each domain: at most one HTTPS and one SMTP deadline, CONCURRENCY at a time
        assert result.seconds < deadline_bound(n * 2 * TIMEOUT / CONCURRENCY, startup=SLACK)
        assert 20 < result.max_rss_mb < RSS_LIMIT_MB  # sampled (a Python scanner is > 20 MB)
    # four times the hosts, not more memory: nothing hostile is kept beyond its probe
    assert full.max_rss_mb < small.max_rss_mb * 1.15 + 15
    wrong = []
    for row in full.rows:
        behaviour = behaviour_of(row["domain"])
        if error_of(row, behaviour) != EXPECTED_ERROR[behaviour]:
            wrong.append(f"{row['domain']}: {error_of(row, behaviour)} "
                         f"({row['https_error_detail'] or row['smtp']})")
    assert not wrong, "\n".join(wrong)
    connections = hostile.connections()
    assert all(connections[b] >= PER_BEHAVIOUR for b in Hostile), connections


def test_oversized_bodies_are_cut_at_the_cap_and_never_inflated(
        hostile: HostileWorld, tmp_path: Path) -> None:
    result = scan(hostile, tmp_path / "out", "--limit", "10")  # one domain of each behaviour
    assert result.returncode == 0, result.stderr
    rows = {behaviour_of(r["domain"]): r for r in result.rows}
    assert set(rows) == set(Hostile)
    for behaviour in (Hostile.ENDLESS_BODY, Hostile.HUGE_BODY, Hostile.GZIP_BOMB):
        row = rows[behaviour]
        assert row["https_status"] == 200 and row["policy_truncated"] is True, behaviour
        assert len(row["policy_text"]) == 64 * 1024, behaviour
        assert row["status"] == "invalid"
    # the bomb is stored as it came: gzip magic, still compressed
    assert rows[Hostile.GZIP_BOMB]["policy_text"].encode("latin-1")[:2] == b"\x1f\x8b"
    # a reset mid-body keeps what arrived before it, and says how it ended
    reset = rows[Hostile.RESET_MID_BODY]
    assert reset["https_error"] == "connection-closed"
    assert "reset" in reset["https_error_detail"].lower()
    for behaviour in HTTPS_BEHAVIOURS:
        assert rows[behaviour]["smtp"][0]["error"] is None  # the MX hosts were fine
    for behaviour in SMTP_BEHAVIOURS:
        assert rows[behaviour]["https_error"] is None and rows[behaviour]["status"] == "enforce"


# --- safety: what the scanner must never contact ----------------------------------------------

SAFETY = (Hostile.ENDLESS_BODY, Hostile.STARTTLS_REFUSED)


@pytest.fixture
def safety(tmp_path: Path) -> Iterator[HostileWorld]:
    """Four domains of each behaviour under hostile.test, two under optout.test."""
    world, plan = hostile_world(4, SAFETY, parents=("hostile.test",))
    extra, extra_plan = hostile_world(2, SAFETY, parents=("optout.test",))
    plan = HostilePlan(mx_overrides=plan.mx_overrides + extra_plan.mx_overrides)
    world = World(world.scenarios + extra.scenarios)
    with start_hostile_world(world, tmp_path / "world", plan=plan, behaviours=SAFETY) as running:
        yield running


def test_special_addresses_are_recorded_as_blocked_and_never_contacted(
        safety: HostileWorld, tmp_path: Path) -> None:
    """The test internet's DNS points every policy and MX host at 127.x (special-purpose):
    without --allow-private, the counting servers must see nothing at all."""
    result = scan(safety, tmp_path / "out", allow_private=False)
    assert result.returncode == 0, result.stderr
    assert len(result.rows) == 12
    for row in result.rows:
        assert row["https_error"] == "blocked", row["domain"]
        assert row["https_address"] is None
        assert [(s["error"], s["address"]) for s in row["smtp"]] == [("blocked", None)]
    assert safety.connections() == {b: 0 for b in SAFETY}
    session = json.loads((tmp_path / "out" / "manifest.json").read_text())["sessions"][-1]
    # at least the policy host and the MX host of every row; none excluded
    assert session["blocked_addresses"] >= 2 * len(result.rows)
    assert session["excluded_addresses"] == 0
    assert f"blocked IPs {session['blocked_addresses']:,}" in " ".join(result.stdout.split())


def test_exclusions_by_domain_suffix_and_ip_prefix_are_never_contacted_and_counted(
        safety: HostileWorld, tmp_path: Path) -> None:
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("# opt-outs\nendless-body-0.hostile.test\n*.optout.test\n"
                       "127.67.0.0/16  # every hostile MX host\n")
    result = scan(safety, tmp_path / "out", "--exclude", str(exclude))
    assert result.returncode == 0, result.stderr
    rows = {r["domain"]: r for r in result.rows}
    excluded = {"endless-body-0.hostile.test"} | {
        f"{b.value.replace('_', '-')}-{i}.optout.test" for b in SAFETY for i in range(2)}
    assert not excluded & set(rows) and len(rows) == 12 - len(excluded)
    assert "excluded          5" in result.stdout
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["toplist_stats"]["excluded"] == 5
    for domain, row in rows.items():
        if behaviour_of(domain) is Hostile.STARTTLS_REFUSED:
            assert [s["error"] for s in row["smtp"]] == ["excluded"], domain
        else:
            assert row["https_error"] is None and row["policy_truncated"], domain
    # the IP prefix held the SMTP host; the domain and suffix entries held one and two hosts
    assert safety.connections() == {Hostile.ENDLESS_BODY: 3, Hostile.STARTTLS_REFUSED: 0}
