"""The process survives its machine: SIGKILLs at random moments, a full disk, damaged parts.

Every scan here is the real CLI in a subprocess against the test internet on loopback; the
assertion is always the same: every domain exactly once, and rows equal to a clean run's
(run id, timestamps and elapsed times aside).
"""

from __future__ import annotations

import contextlib
import random
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import trio

from survey.dataset.sink import QUARANTINE, completed_domains, part_files, read_manifest
from survey.sim.background import in_background
from survey.sim.generator import generate_world
from survey.sim.scenario import World
from survey.sim.world import RunningWorld, start_world
from tests.conftest import Spawn

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

DOMAINS = 20_000
#: Deadlines far above what a correct answer needs on a starved machine: every row is then the
#: same in every scan, and a difference is the resume's fault. The generated world has no
#: tarpit and no silent server, so long deadlines cost nothing. At 0.5 s, and again at 2 s
#: (load 10), a stall in the shared clean scan turned 2 and then 14 domains into error or
#: policy-timeout rows and failed every comparison with it.
FAST = ["--timeout", "10", "--dns-timeout", "5", "--retries", "1", "--no-progress",
        "--rate", "50000", "--concurrency", "500"]
VOLATILE = {"run_id", "scanned_at", "https_elapsed_ms"}
#: How long a scan of the 20,000 domains may run before it counts as hung: ~30 s on a quiet
#: 2-core machine, several times that on a loaded one (a guard, not a speed test).
HANG = 240


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
        subprocess.run(scan_cmd(running, clean), check=True, capture_output=True, timeout=HANG)
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
    first = {k: (clean[d][k], rows[d][k]) for d in different[:1] for k in clean[d]
             if k != "sender_outcomes" and clean[d][k] != rows[d][k]}
    assert not different, f"{len(different)} rows differ, e.g. {different[:3]}; " \
                          f"{different[:1]} (clean, this): {first}"


def test_ten_sigkills_at_random_moments_then_resume_equals_a_clean_run(
        generated: tuple[World, RunningWorld, dict[str, dict[str, Any]]], tmp_path: Path,
        spawn: Spawn) -> None:
    world, running, clean = generated
    out = tmp_path / "killed"
    rng = random.Random(20)
    kills = 0
    for _ in range(30):  # ten kills, whatever the machine's speed (bounded attempts)
        proc = spawn(scan_cmd(running, out, "--part-rows", "250"),
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
    done = subprocess.run(scan_cmd(running, out), capture_output=True, text=True, timeout=HANG)
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
                           capture_output=True, text=True, timeout=HANG)
    assert first.returncode == 0, first.stderr
    parts = part_files(out)
    assert len(parts) == DOMAINS // 2000
    truncated, corrupt = parts[1], parts[4]
    lost = set(pq.read_table(truncated, columns=["domain"]).column("domain").to_pylist()) | set(
        pq.read_table(corrupt, columns=["domain"]).column("domain").to_pylist())
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])  # a crash of an older, non-atomic writer
    damaged = bytearray(corrupt.read_bytes())
    middle = len(damaged) // 2
    damaged[middle: middle + 64] = bytes(64)  # a bad sector: the footer survives
    corrupt.write_bytes(bytes(damaged))
    (out / "parts" / "part-999999-old.parquet.tmp").write_bytes(b"half")  # a stray tmp file
    # the same command again: the damaged parts' domains are scanned again, and only they
    again = subprocess.run(scan_cmd(running, out, "--part-rows", "2000"),
                           capture_output=True, text=True, timeout=HANG)
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


@contextlib.contextmanager
def small_disk(directory: Path, size: str) -> Iterator[None]:
    """A tmpfs of ``size`` at ``directory`` for the block (unmounted after it, whatever
    happens); the test is skipped, saying why, where mounting is not allowed (it needs root
    with CAP_SYS_ADMIN: an unprivileged container has neither)."""
    directory.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                       check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {detail}; "
                    "the file-size-limit case tests the same failing writes")
    try:
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=False, capture_output=True)


def _file_size_limit(limit: int) -> Callable[[], None]:
    """For a child: writes past ``limit`` bytes fail with EFBIG (no signal), as on a full disk,
    without privileges."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("disk", ["tmpfs", "file-size-limit"])
def test_a_full_disk_stops_the_run_with_a_message_and_a_resumable_state(
        generated: tuple[World, RunningWorld, dict[str, dict[str, Any]]], tmp_path: Path,
        disk: str) -> None:
    """tmpfs: a 2 MB disk with 300 KiB left, some parts fit, then ENOSPC; then the space is
    freed and the disk grown and the same command resumes in place. file-size-limit: the same
    run under RLIMIT_FSIZE (16 KiB), where every part write fails with EFBIG."""
    world, running, clean = generated
    tmpfs = disk == "tmpfs"
    where = tmp_path / "disk"
    with small_disk(where, "2m") if tmpfs else contextlib.nullcontext():
        if tmpfs:
            (where / "filler").write_bytes(bytes(2 * 1024 * 1024 - 300 * 1024))
        else:
            where.mkdir()
        out = where / "out"
        full = subprocess.run(scan_cmd(running, out, "--part-rows", "200"),
                              capture_output=True, text=True, timeout=HANG,
                              preexec_fn=None if tmpfs else _file_size_limit(16 * 1024))
        assert full.returncode == 1
        assert "Traceback" not in full.stderr
        assert ("No space left on device" if tmpfs else "File too large") in full.stderr
        assert "re-run the same command to resume" in full.stderr
        manifest = read_manifest(out)
        assert manifest is not None and manifest["state"] == "running"
        kept = completed_domains(out)
        assert (0 < len(kept) < DOMAINS) if tmpfs else not kept
        assert not list((out / "parts").glob("*.tmp"))  # a failed write leaves no .tmp
        rows_before = stable_rows(out) if kept else {}
        if tmpfs:  # space freed, and the disk grown: the same command, in place
            (where / "filler").unlink()
            subprocess.run(["mount", "-o", "remount,size=64m", str(where)], check=True)
        resumed = subprocess.run(scan_cmd(running, out), capture_output=True, text=True,
                                 timeout=HANG)
        assert resumed.returncode == 0, resumed.stderr
        assert f"already done      {len(kept):,}" in resumed.stdout
        after = stable_rows(out)
        assert all(after[d] == row for d, row in rows_before.items())  # kept, not redone
        assert_equals_clean(world, out, clean)


# --- the resolver fails: an outage mid-run, then --retry-errors; SERVFAILs against --rate ------

class ResolverProxy:
    """A UDP DNS proxy on 127.0.0.1 in front of the test internet's server (in its own trio
    thread): it can go silent (``paused``), answer SERVFAIL to every other query
    (``servfail_half``), and logs each query's arrival time and name."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.paused = False
        self.servfail_half = False
        self.log: list[tuple[float, str]] = []
        self.dropped = 0
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._pending: dict[bytes, Any] = {}
        self._toggle = False

    @staticmethod
    def question(packet: bytes) -> tuple[bytes, str]:
        """The id + question section as a key, and the query name (lower case)."""
        end, labels = 12, []
        while end < len(packet) and packet[end]:
            labels.append(packet[end + 1: end + 1 + packet[end]].decode("latin-1"))
            end += 1 + packet[end]
        end += 5  # the root label, QTYPE, QCLASS
        return packet[:2] + packet[12:end].lower(), ".".join(labels).lower()

    @staticmethod
    def servfail(query: bytes) -> bytes:
        key_end = 12 + len(ResolverProxy.question(query)[0]) - 2
        flags = (int.from_bytes(query[2:4], "big") & 0x0100) | 0x8082  # QR, RD as asked, RA
        return query[:2] + flags.to_bytes(2, "big") + b"\x00\x01" + bytes(6) + query[12:key_end]

    async def serve(self, task_status: trio.TaskStatus[ResolverProxy] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        front = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        back = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        with front, back:
            await front.bind(("127.0.0.1", 0))
            await back.bind(("127.0.0.1", 0))
            self.address = front.getsockname()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._answers, front, back)
                task_status.started(self)
                while True:
                    packet, client = await front.recvfrom(4096)
                    if len(packet) < 17:
                        continue
                    key, name = self.question(packet)
                    self.log.append((time.monotonic(), name))
                    if self.paused:
                        self.dropped += 1
                        continue
                    self._toggle = not self._toggle
                    if self.servfail_half and self._toggle:
                        await front.sendto(self.servfail(packet), client)
                        continue
                    self._pending[key] = client
                    await back.sendto(packet, self.upstream)

    async def _answers(self, front: Any, back: Any) -> None:
        while True:
            packet, _ = await back.recvfrom(65535)
            client = self._pending.pop(self.question(packet)[0], None)
            if client is not None:
                await front.sendto(packet, client)


def resolver_proxy(upstream: tuple[str, int]) -> contextlib.AbstractContextManager[ResolverProxy]:
    return in_background(ResolverProxy(upstream).serve, name="resolver-proxy")


def base_domain(qname: str) -> str:
    for prefix in ("_mta-sts.", "_smtp._tls.", "mta-sts."):
        if qname.startswith(prefix):
            return qname[len(prefix):]
    return qname


OUTAGE = 3.0  # the 30 s, scaled to OUTAGE_DNS_TIMEOUT
#: Short enough that a query and its retry both fall into the outage and time out.
OUTAGE_DNS_TIMEOUT = "2"


def test_resolver_outage_ends_as_error_never_absent_and_retry_errors_replaces_the_rows(
        generated: tuple[World, RunningWorld, dict[str, dict[str, Any]]], tmp_path: Path,
        spawn: Spawn) -> None:
    world, running, clean = generated
    n = 4000
    out = tmp_path / "out"
    with resolver_proxy(running.resolver) as proxy:
        def command(*extra: str) -> list[str]:
            cmd = scan_cmd(running, out, "--limit", str(n), "--rate", "2000",
                           "--dns-timeout", OUTAGE_DNS_TIMEOUT, *extra)
            at = cmd.index("--resolver")
            cmd[at + 1] = f"{proxy.address[0]}:{proxy.address[1]}"
            return cmd

        proc = spawn(command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.monotonic() + 60
        while len(proxy.log) < n and proc.poll() is None:  # a quarter of the queries sent
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proxy.paused = True
        time.sleep(OUTAGE)
        proxy.paused = False
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert proxy.dropped > 0
        rows = stable_rows(out)
        assert len(rows) == n
        errors = {d for d, row in rows.items() if row["status"] == "error"}
        assert len(errors) > 50, len(errors)
        degraded = set()
        for domain, row in rows.items():
            if domain in errors:
                assert row["error_reason"] and "TIMEOUT" in row["error_reason"], row
            elif row != clean[domain]:
                # only MX or TLS-RPT lookups failed: not an error (docs/classification.md §1),
                # the same status, the checks needing them skipped
                degraded.add(domain)
                assert row["status"] == clean[domain]["status"], domain
                assert row["sts_dns_status"] == clean[domain]["sts_dns_status"], domain
                assert row["policy_host_dns_status"] == clean[domain]["policy_host_dns_status"]
                assert "TIMEOUT" in (row["mx_dns_status"], row["tlsrpt_dns_status"]), domain
        assert any(clean[d]["status"] == "absent" for d in errors)  # would have been absent
        before_retry = rows

        before = len(proxy.log)
        retry = subprocess.run(command("--retry-errors"), capture_output=True, text=True,
                               timeout=60)
        assert retry.returncode == 0, retry.stderr
        assert f"retrying {len(errors):,} domain(s)" in retry.stderr
        asked = {base_domain(name) for _, name in proxy.log[before:]}
    assert asked == errors  # exactly those rows were probed again
    rows = stable_rows(out)  # each domain once: the error rows are gone, replaced
    assert sorted(rows) == sorted(s.domain for s in world.scenarios[:n])
    assert all(rows[d] == clean[d] for d in errors)
    assert all(rows[d] == before_retry[d] for d in rows if d not in errors)
    assert all(rows[d] == clean[d] for d in rows if d not in degraded)
    manifest = read_manifest(out)
    assert manifest is not None and manifest["state"] == "complete"
    assert manifest["sessions"][-1]["retried_errors"] == len(errors)


def test_rate_holds_when_half_the_answers_are_servfail_and_retried(
        generated: tuple[World, RunningWorld, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    """Retries count against --rate: the queries arriving at the resolver, retries included,
    come at --rate (within 10 %) over the run, measured at the proxy itself."""
    _, running, _ = generated
    rate, domains = 500, 400
    with resolver_proxy(running.resolver) as proxy:
        proxy.servfail_half = True
        cmd = scan_cmd(running, tmp_path / "out", "--limit", str(domains), "--rate", str(rate),
                       "--retries", "3")
        at = cmd.index("--resolver")
        cmd[at + 1] = f"{proxy.address[0]}:{proxy.address[1]}"
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        times = [t for t, _ in proxy.log]
    assert result.returncode == 0, result.stderr
    assert len(times) > 4 * domains * 1.5  # SERVFAILs were retried
    # from past the start's burst (a tenth of a second's worth) to 80 %: the run's tail is a
    # few domains' last retries, waiting on answers rather than on the limiter
    first, last = rate // 10, int(len(times) * 0.8)
    measured = (last - first) / (times[last] - times[first])
    print(f"{len(times)} queries, {measured:.0f}/s for --rate {rate}")
    assert abs(measured - rate) <= 0.1 * rate, measured
