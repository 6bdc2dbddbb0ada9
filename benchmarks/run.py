"""``make bench``: the scanner against NSD on loopback, side by side with its ceiling and a
naive reference, in one run.

Why this shape: the issue's targets are ratios measured in the same run on the same machine
(scan vs. naive, scan vs. ``dnsperf``), so every contender runs here against one NSD serving one
synthetic world. Each contender is a child process; its CPU time and peak RSS come from
``os.wait4`` on that child (no ``/usr/bin/time`` needed), its wall time is the child's whole life
(start-up included, as a user sees it) unless the child reports its own scan time.

Rows: ``dnsperf`` (the ceiling), ``naive`` (``benchmarks.naive_scanner``), ``dnsclient``
(``benchmarks.dns_client``: the DNS fast path alone), ``scan`` (``mta-sts-survey scan``, one
process), ``scan-wN`` (``scan --workers N``; ``scan-xN``, N ``--shard`` processes at once, where
the command has no ``--workers``), ``https`` (policy fetches through the scanner's fetcher, a new
TLS connection per host, against nginx serving the world's policy hosts: ``benchmarks.nginx``)
and ``https-sim`` (the same against the test internet's own Python HTTPS server).

Every row also records its server's CPU seconds (NSD, nginx or the test internet's thread, from
``/proc``) and the cores client and server kept busy, so that a row limited by its server or by
a shared machine can be told from one limited by the client.

    BENCH_DOMAINS=20000 python -m benchmarks.run --out benchmarks/results
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import dnsdist, latency, nginx
from benchmarks.dns_server import answering
from benchmarks.naive_scanner import QUERIES
from benchmarks.procstat import (
    descendants,
    machine_busy_seconds,
    stat_cpu_seconds,
    thread_cpu_seconds,
    tree_cpu_seconds,
    vm_hwm_kb,
)
from survey.sim.ca import TestCA
from survey.sim.world import start_world

ROOT = Path(__file__).resolve().parent.parent
#: NSD listens here (a 127/8 address of its own, so that nothing else collides with it).
NSD_ADDRESS = "127.53.0.2"
#: The scan's politeness cap (``--rate``, default 1000 queries/s) would be the only thing
#: measured; the benchmark lifts it. Everything else stays at the command's defaults.
SCAN_RATE = "1000000"
#: what a ``scan --workers N`` worker's command line holds (survey/runs/workers.py starts
#: ``python -m survey.runs.workers <parent pid>``); NUL-separated as in ``/proc/<pid>/cmdline``
WORKER_ARGV = "\0-m\0survey.runs.workers\0"


@dataclass(frozen=True, slots=True)
class Usage:
    """What one child process cost: exit status, wall/CPU seconds, peak RSS, its output."""

    returncode: int
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    stdout: str
    stderr: str
    #: peak RSS of each descendant process (e.g. ``--workers`` children); CPU of reaped
    #: descendants is already in ``cpu_s`` (``wait4`` counts them)
    descendant_rss_mb: tuple[float, ...] = ()
    #: per descendant, in the same order: CPU seconds and seconds seen alive (``/proc``,
    #: sampled every 20 ms, so the last 20 ms of each may be missing)
    descendant_cpu_s: tuple[float, ...] = ()
    descendant_life_s: tuple[float, ...] = ()
    #: per descendant, in the same order: its command line as last seen (NUL-separated) and
    #: its parent's pid
    descendant_cmdline: tuple[str, ...] = ()
    descendant_ppid: tuple[int, ...] = ()


@dataclass(slots=True)
class Row:
    """One contender's figures; rates are per wall second, CPU per 1,000 domains."""

    label: str
    domains: int
    queries: int
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    processes: int = 1
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def domains_per_s(self) -> float:
        return self.domains / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def queries_per_s(self) -> float:
        return self.queries / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def queries_per_cpu_s(self) -> float:
        """Queries per CPU second: the rate on a dedicated core, robust to a busy machine."""
        return self.queries / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu_s / self.domains if self.domains else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(domains_per_s=round(self.domains_per_s, 1),
                   queries_per_s=round(self.queries_per_s, 1),
                   queries_per_cpu_s=round(self.queries_per_cpu_s, 1),
                   cpu_s_per_1000_domains=round(self.cpu_per_1000, 3))
        return out


@dataclass(slots=True)
class Child:
    """A started child process and the temporary files holding its output."""

    proc: subprocess.Popen[bytes]
    out: Any
    err: Any
    started: float
    peak_kb: int = 0  # highest VmHWM seen in /proc (the exec'd image only)
    #: highest VmHWM per descendant process (``scan --workers`` children), by pid
    descendant_kb: dict[int, int] = field(default_factory=dict)
    #: last CPU seconds seen and (first, last) time seen alive, per descendant
    descendant_cpu: dict[int, float] = field(default_factory=dict)
    descendant_seen: dict[int, tuple[float, float]] = field(default_factory=dict)
    #: last command line seen per descendant (a fork shows its parent's until it execs)
    descendant_cmdline: dict[int, str] = field(default_factory=dict)
    descendant_ppid: dict[int, int] = field(default_factory=dict)


def run_child(argv: Sequence[str], *, timeout: float | None = None) -> Usage:
    """Run ``argv`` to completion; CPU and peak RSS of that child alone via ``os.wait4``."""
    with spawn(argv) as child:
        return finish(child, timeout=timeout)


@contextlib.contextmanager
def spawn(argv: Sequence[str]) -> Iterator[Child]:
    """Start ``argv`` with output to temporary files (no pipe can fill up); kill on error."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, cwd=ROOT)
        child = Child(proc, out, err, time.perf_counter())
        try:
            yield child
        finally:
            if proc.returncode is None:
                proc.kill()
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(proc.pid, 0)
                proc.returncode = -9


def poll(child: Child) -> tuple[int, resource.struct_rusage] | None:
    """(wait status, rusage) if ``child`` has exited, else None after sampling its peak RSS.

    Why ``/proc`` and not ``ru_maxrss``: the latter counts the forked copy of this (large)
    parent before ``exec``, so every child would look as big as the benchmark driver.
    """
    child.peak_kb = max(child.peak_kb, vm_hwm_kb(child.proc.pid))
    now = time.perf_counter()
    for pid in descendants(child.proc.pid):
        child.descendant_kb[pid] = max(child.descendant_kb.get(pid, 0), vm_hwm_kb(pid))
        child.descendant_cpu[pid] = max(child.descendant_cpu.get(pid, 0.0),
                                        stat_cpu_seconds(f"/proc/{pid}/stat"))
        child.descendant_seen[pid] = (child.descendant_seen.get(pid, (now, now))[0], now)
        child.descendant_cmdline[pid] = cmdline(pid) or child.descendant_cmdline.get(pid, "")
        child.descendant_ppid[pid] = parent_pid(pid) or child.descendant_ppid.get(pid, 0)
    pid, status, rusage = os.wait4(child.proc.pid, os.WNOHANG)
    return (status, rusage) if pid else None


def cmdline(pid: int) -> str:
    """``/proc/<pid>/cmdline`` (arguments NUL-separated); "" once the process is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def parent_pid(pid: int) -> int:
    """The parent's pid from ``/proc/<pid>/stat``; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read()
    except OSError:
        return 0
    return int(text[text.rfind(b")") + 2:].split()[1])


def is_scan_worker(argv: str, ppid: int) -> bool:
    """A worker is ``python -m survey.runs.workers <its parent's pid>``: a fork of a worker (e.g. a
    helper before its exec) shows the same command line but has the worker as its parent."""
    head, found, tail = argv.partition(WORKER_ARGV)
    return bool(head and found) and tail.split("\0")[0] == str(ppid)


def finish(child: Child, *, timeout: float | None = None) -> Usage:
    """Wait for ``child`` (killing it after ``timeout`` s) and collect its ``Usage``."""
    deadline = None if timeout is None else child.started + timeout
    while (done := poll(child)) is None:
        if deadline is not None and time.perf_counter() > deadline:
            child.proc.kill()
        time.sleep(0.02)
    return collect(child, *done)


def collect(child: Child, status: int, rusage: resource.struct_rusage) -> Usage:
    wall = time.perf_counter() - child.started
    child.proc.returncode = os.waitstatus_to_exitcode(status)
    peak_kb = child.peak_kb or rusage.ru_maxrss
    return Usage(child.proc.returncode, wall, rusage.ru_utime + rusage.ru_stime,
                 peak_kb / 1024, _read(child.out), _read(child.err),
                 tuple(kb / 1024 for kb in child.descendant_kb.values()),
                 tuple(child.descendant_cpu.get(p, 0.0) for p in child.descendant_kb),
                 tuple(last - first for first, last in (child.descendant_seen[p]
                                                        for p in child.descendant_kb)),
                 tuple(child.descendant_cmdline.get(p, "") for p in child.descendant_kb),
                 tuple(child.descendant_ppid.get(p, 0) for p in child.descendant_kb))


def finish_all(children: Sequence[Child], *, timeout: float) -> list[Usage]:
    """``finish`` for processes running at once: each one's peak sampled until it exits."""
    usages: dict[int, Usage] = {}
    deadline = time.perf_counter() + timeout
    while len(usages) < len(children):
        for i, child in enumerate(children):
            if i not in usages and (done := poll(child)) is not None:
                usages[i] = collect(child, *done)
            elif i not in usages and time.perf_counter() > deadline:
                child.proc.kill()
        time.sleep(0.02)
    return [usages[i] for i in range(len(children))]


def _read(handle: Any) -> str:
    handle.seek(0)
    text: str = handle.read().decode(errors="replace")
    return text


# --- the world as NSD zones ------------------------------------------------------------------

def free_udp_tcp_port(address: str) -> int:
    """A port free for both UDP and TCP on ``address`` (NSD listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
                return port
    raise OSError(f"no free UDP+TCP port on {address}")


@contextlib.contextmanager
def nsd(conf: Path, address: str, port: int, probe_name: str,
        cpu: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run NSD in the foreground for the ``with`` block; yields once it answers.

    ``cpu``: pin NSD (its one server process and helpers) to that core with ``taskset``, so
    that where the DNS server runs is the same in every run; None leaves it to the scheduler.
    """
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    with answering([*pin, "nsd", "-d", "-c", str(conf)], address, port, probe_name, name="nsd",
                   wait_s=120, output=lambda p: p.stderr.read().decode() if p.stderr else "",
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        yield proc


# --- the contenders --------------------------------------------------------------------------

def write_queries(domains: Sequence[str], path: Path) -> int:
    """dnsperf's query file: the scanner's four questions per domain; returns the count."""
    with path.open("w") as out:
        for d in domains:
            for pattern, qtype in QUERIES:
                out.write(f"{pattern.format(d)} {qtype}\n")
    return len(domains) * len(QUERIES)


def dnsperf_row(query_file: Path, queries: int, address: str, port: int) -> Row:
    """``dnsperf`` through the query file once: the server's ceiling on this machine."""
    usage = run_child(["dnsperf", "-s", address, "-p", str(port), "-d", str(query_file),
                       "-n", "1", "-c", "8", "-q", "500", "-t", "2", "-e"], timeout=600)
    qps = re.search(r"Queries per second:\s+([\d.]+)", usage.stdout)
    elapsed = re.search(r"Run time \(s\):\s+([\d.]+)", usage.stdout)
    lost = re.search(r"Queries lost:\s+(\d+)", usage.stdout)
    if usage.returncode or not qps or not elapsed:
        return Row("dnsperf", queries // len(QUERIES), queries, usage.wall_s, usage.cpu_s,
                   usage.max_rss_mb, error=(usage.stderr or usage.stdout)[-500:])
    return Row("dnsperf", queries // len(QUERIES), queries, float(elapsed.group(1)),
               usage.cpu_s, usage.max_rss_mb,
               extra={"reported_qps": float(qps.group(1)),
                      "lost": int(lost.group(1)) if lost else None})


_REPORT = re.compile(r"(\d+) domains, (\d+) queries \((\d+) answered\) in ([\d.]+) s")


def reference_row(label: str, module: str, toplist: Path, resolver: str,
                  options: Sequence[str] = ()) -> Row:
    """``benchmarks.naive_scanner`` or ``benchmarks.dns_client``: their own timed loop."""
    usage = run_child([sys.executable, "-m", module, str(toplist), "--resolver", resolver,
                       *options], timeout=3600)
    found = _REPORT.search(usage.stdout)
    if usage.returncode or not found:
        return Row(label, 0, 0, usage.wall_s, usage.cpu_s, usage.max_rss_mb,
                   error=(usage.stderr or usage.stdout)[-500:])
    domains, queries, answered, wall = found.groups()
    return Row(label, int(domains), int(queries), float(wall), usage.cpu_s, usage.max_rss_mb,
               extra={"answered": int(answered), "process_wall_s": round(usage.wall_s, 2)})


def scan_argv(toplist: Path, out: Path, world_args: Sequence[str], resolver: str,
              shard: str | None = None, workers: int = 1, rate: str | None = None,
              extra: Sequence[str] = ()) -> list[str]:
    """The scan command line: defaults except where the benchmark must point or lift a cap
    (``rate``: another ``--rate`` than the lifted one, e.g. the default's)."""
    argv = [str(Path(sys.executable).with_name("mta-sts-survey")), "scan", str(toplist),
            "-o", str(out), *world_args, "--resolver", resolver, "--rate", rate or SCAN_RATE,
            "--no-progress", *extra]
    return argv + (["--shard", shard] if shard else []) + (
        ["--workers", str(workers)] if workers > 1 else [])


def scan_has_workers() -> bool:
    """Whether this tree's ``scan`` has ``--workers`` (else N ``--shard`` processes are run)."""
    found = subprocess.run([str(Path(sys.executable).with_name("mta-sts-survey")), "scan",
                            "--help"], capture_output=True, text=True, check=False)
    return "--workers" in found.stdout


def workers_row(label: str, toplist: Path, work: Path, world_args: Sequence[str],
                resolver: str, workers: int) -> Row:
    """One ``scan --workers N`` command: CPU of all its processes, the largest one's peak RSS."""
    out = work / label
    shutil.rmtree(out, ignore_errors=True)
    usage = run_child(scan_argv(toplist, out, world_args, resolver, workers=workers),
                      timeout=7200)
    # only the workers (``python -m survey.runs.workers``): a short-lived helper (a fork before its
    # exec shows the parent's RSS) is no worker
    is_worker = [is_scan_worker(argv, ppid) for argv, ppid in
                 zip(usage.descendant_cmdline, usage.descendant_ppid, strict=True)]
    per_process = [usage.max_rss_mb,
                   *(m for m, w in zip(usage.descendant_rss_mb, is_worker, strict=True) if w)]
    if usage.returncode:
        return Row(label, 0, 0, usage.wall_s, usage.cpu_s, max(per_process), workers,
                   error=(usage.stderr or usage.stdout)[-800:])
    scanned, queries = _manifest_queries(out)
    # each worker's CPU over its own life: a worker below 1 core waited (start-up, its shard's
    # tail, DNS retries) or was not given the CPU (see other_cores)
    workers_seen = [{"rss_mb": round(m, 1), "cpu_s": round(c, 2), "life_s": round(t, 2),
                     "cores": round(c / t, 2) if t else None}
                    for m, c, t, w in zip(usage.descendant_rss_mb, usage.descendant_cpu_s,
                                          usage.descendant_life_s, is_worker, strict=True) if w]
    return Row(label, scanned, queries, usage.wall_s, usage.cpu_s, max(per_process), workers,
               extra={"per_process_rss_mb": [round(m, 1) for m in per_process],
                      "worker_processes": workers_seen,
                      "coordinator_cpu_s": round(usage.cpu_s - sum(usage.descendant_cpu_s), 2)})


def _manifest_queries(out: Path) -> tuple[int, int]:
    """(domains scanned, queries sent) from a finished scan's manifest."""
    manifest = json.loads((out / "manifest.json").read_text())
    session = manifest["sessions"][-1]
    return int(session.get("scanned") or 0), int(session.get("queries_sent") or 0)


def scan_row(label: str, toplist: Path, work: Path, world_args: Sequence[str], resolver: str,
             processes: int, rate: str | None = None, extra: Sequence[str] = ()) -> Row:
    """``processes`` scan processes at once, each on shard i/N (one process: no shard)."""
    outs = [work / f"{label}-{i}" for i in range(processes)]
    for out in outs:
        shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(spawn(scan_argv(
            toplist, out, world_args, resolver,
            f"{i}/{processes}" if processes > 1 else None, rate=rate, extra=extra)))
            for i, out in enumerate(outs)]
        usages = finish_all(procs, timeout=7200)
    wall = time.perf_counter() - started
    cpu = sum(u.cpu_s for u in usages)
    rss = max(u.max_rss_mb for u in usages)
    failed = [u for u in usages if u.returncode]
    if failed:
        return Row(label, 0, 0, wall, cpu, rss, processes,
                   error=(failed[0].stderr or failed[0].stdout)[-800:])
    scanned, queries = map(sum, zip(*(_manifest_queries(o) for o in outs), strict=True))
    return Row(label, scanned, queries, wall, cpu, rss, processes,
               extra={"per_process_rss_mb": [round(u.max_rss_mb, 1) for u in usages]})


def https_row(label: str, hosts: Path, port: int, ca_bundle: Path, count: int, *,
              distinct: int, warm_up: bool) -> Row:
    """Policy fetches per second in one process (``benchmarks.https_fetch``), a new TLS
    connection per fetch; CPU per 1,000 fetches is the timed pass's own (the client's)."""
    usage = run_child([sys.executable, "-m", "benchmarks.https_fetch", "--hosts", str(hosts),
                       "--https-port", str(port), "--ca-bundle", str(ca_bundle),
                       "--count", str(count), "--distinct", str(distinct),
                       "--warm-up" if warm_up else "--no-warm-up"], timeout=1800)
    found = re.search(r"(\d+) fetches \((\d+) ok\) in ([\d.]+) s, CPU ([\d.]+) s",
                      usage.stdout)
    if usage.returncode or not found or found.group(2) == "0":
        return Row(label, 0, 0, usage.wall_s, usage.cpu_s, usage.max_rss_mb,
                   error=(usage.stderr or usage.stdout)[-800:] or "no policy fetched")
    fetches, ok, wall, cpu = found.groups()
    return Row(label, int(fetches), 0, float(wall), float(cpu), usage.max_rss_mb,
               extra={"ok": int(ok), "unit": "policy fetches (domains = fetches)",
                      "distinct_hosts": min(distinct, int(fetches)), "warm_up": warm_up,
                      "process_cpu_s": round(usage.cpu_s, 2),
                      "process_wall_s": round(usage.wall_s, 2)})


def profile_scan(toplist: Path, work: Path, world_args: Sequence[str], resolver: str,
                 top: int = 25) -> dict[str, Any]:
    """Sample one scan process with py-spy (raw stacks in ``work``) and summarise them."""
    out = work / "profile-scan"
    shutil.rmtree(out, ignore_errors=True)
    stacks = work / "profile.txt"
    spy = Path(sys.executable).with_name("py-spy")
    usage = run_child([str(spy), "record", "--format", "raw", "--rate", "100", "--nolineno",
                       "--nonblocking", "-o", str(stacks), "--",
                       *scan_argv(toplist, out, world_args, resolver)], timeout=7200)
    if usage.returncode or not stacks.exists():
        return {"error": (usage.stderr or usage.stdout)[-800:]}
    summary = summarise_stacks(stacks.read_text().splitlines(), top)
    summary["wall_s"] = round(usage.wall_s, 2)
    return summary


#: Where a sample's time goes, by the file of its innermost frame (first match wins).
CATEGORIES = (
    ("dnspython", ("dns/",)),
    ("dns probe (survey)", ("survey/probes/dns.py", "survey/probes/dnswire.py")),
    ("classify + rows", ("survey/core/", "survey/dataset/schema.py")),
    ("parquet sink", ("survey/dataset/sink.py", "pyarrow/")),
    ("https probe", ("survey/probes/https.py", "survey/probes/tls.py", "httpx/", "httpcore/",
                     "ssl.py", "h11/", "anyio/")),
    ("scan pool", ("survey/scan/", "survey/probes/net.py", "survey/toplist/")),
    ("trio scheduling + I/O", ("trio/", "outcome/", "sniffio/")),
)


def frame_file(frame: str) -> str:
    """``fn (path)`` -> path (py-spy's raw frame)."""
    return frame[frame.rfind("(") + 1:-1] if frame.endswith(")") else frame


def category(stack: Sequence[str]) -> str:
    """The first category matching the innermost frame that belongs to a known file."""
    for frame in reversed(stack):
        path = frame_file(frame)
        for name, markers in CATEGORIES:
            if any(m in path for m in markers):
                return name
    return "other"


def summarise_stacks(lines: Sequence[str], top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function, and shares per category.

    ``lines`` are py-spy raw (collapsed) stacks: ``outer;...;inner count``.
    """
    own: dict[str, int] = defaultdict(int)
    inclusive: dict[str, int] = defaultdict(int)
    categories: dict[str, int] = defaultdict(int)
    total = 0
    for line in lines:
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        stack = [f for f in stack_text.split(";") if f and not f.startswith("process ")
                 and not f.startswith("thread ")]
        if not stack:
            continue
        total += count
        own[stack[-1]] += count
        for frame in set(stack):
            inclusive[frame] += count
        categories[category(stack)] += count

    def shares(counts: dict[str, int], n: int) -> list[tuple[str, float]]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
        return [(name, round(100 * c / total, 1)) for name, c in ranked]

    return {"samples": total, "self_pct": shares(own, top),
            "inclusive_pct": shares(inclusive, top),
            "category_pct": shares(categories, len(categories))}


# --- table and JSON --------------------------------------------------------------------------

def ratios(rows: Sequence[Row]) -> dict[str, float | None]:
    """The issue's ratios: scan vs. naive and scan vs. dnsperf (queries/s), N-process scaling
    by wall clock and by queries per CPU second."""
    by = {r.label: r for r in rows if r.error is None}

    def ratio(a: str, b: str, n: int = 1, per_cpu: bool = False) -> float | None:
        if a not in by or b not in by:
            return None
        top, bottom = ((by[a].queries_per_cpu_s, by[b].queries_per_cpu_s) if per_cpu
                       else (by[a].queries_per_s, by[b].queries_per_s))
        return round(top / (n * bottom), 3) if bottom else None

    out = {"scan/naive": ratio("scan", "naive"), "scan/dnsperf": ratio("scan", "dnsperf"),
           "dnsclient/naive": ratio("dnsclient", "naive")}
    for r in by.values():
        if r.label.startswith(("scan-x", "scan-w")):
            out[f"{r.label}/(N*scan)"] = ratio(r.label, "scan", r.processes)
            out[f"{r.label}/scan per CPU s"] = ratio(r.label, "scan", per_cpu=True)
    return out


def scaling(rows: Sequence[Row], cores: int) -> dict[str, Any]:
    """What judging "all cores: >= 80 % of N x one process while the DNS server keeps up" needs.

    The efficiency by wall clock is the target's figure. The one by CPU says whether each
    process did as much per CPU second as the single one (then only the cores were missing),
    and the cores the scanner and the DNS server kept busy say whether the machine was full:
    with ``cores`` cores shared by N scanner processes, the server and other work (the cores
    the rest of the machine used meanwhile), N x is out of reach once they add up to ``cores``.
    """
    by = {r.label: r for r in rows if r.error is None}
    single = by.get("scan")
    multi = next((r for r in by.values() if r.label.startswith(("scan-x", "scan-w"))), None)
    if single is None or multi is None or not single.queries_per_s:
        return {}
    n = multi.processes

    def busy(r: Row) -> float:
        return round((r.cpu_s + float(r.extra.get("server_cpu_s", 0.0))) / r.wall_s, 2)

    return {
        "processes": n, "machine_cores": cores,
        "single_queries_per_s": round(single.queries_per_s),
        "all_queries_per_s": round(multi.queries_per_s),
        "per_process_queries_per_s": round(multi.queries_per_s / n),
        "efficiency": round(multi.queries_per_s / (n * single.queries_per_s), 3),
        "efficiency_per_cpu_s": round(multi.queries_per_cpu_s / single.queries_per_cpu_s, 3),
        "scanner_cores": {"single": single.extra.get("client_cores"),
                          "all": multi.extra.get("client_cores")},
        "dns_server_cores": {"single": single.extra.get("server_cores"),
                             "all": multi.extra.get("server_cores")},
        "cores_busy": {"single": busy(single), "all": busy(multi)},
        "other_work_cores": {"single": single.extra.get("other_cores"),
                             "all": multi.extra.get("other_cores")},
        "worker_processes": multi.extra.get("worker_processes"),
        "coordinator_cpu_s": multi.extra.get("coordinator_cpu_s"),
        "target_met": multi.queries_per_s >= 0.8 * n * single.queries_per_s,
    }


def median_rows(runs: Sequence[Row]) -> list[Row]:
    """One row per label, in first-run order: a repeated label's run of median wall time (the
    lower one of an even count), its runs' wall times and queries/s kept in ``extra``.

    Why: on 2 shared cores one scan row varies by +-5 % from run to run; a ratio of two single
    runs varies twice that, so the scaling figure compares medians of alternating runs.
    """
    by: dict[str, list[Row]] = {}
    for run in runs:
        by.setdefault(run.label, []).append(run)
    rows: list[Row] = []
    for group in by.values():
        ok = sorted((r for r in group if r.error is None), key=lambda r: r.wall_s)
        row = ok[(len(ok) - 1) // 2] if ok else group[0]
        if len(group) > 1:
            row.extra.update(runs=len(group),
                             runs_wall_s=[round(r.wall_s, 2) for r in group],
                             runs_queries_per_s=[round(r.queries_per_s) for r in group])
        rows.append(row)
    return rows


def paired_efficiency(runs: Sequence[Row]) -> dict[str, Any]:
    """All-cores / (N x one process) for each pair of runs made one after the other."""
    singles = [r for r in runs if r.label == "scan" and r.error is None]
    multis = [r for r in runs if r.label.startswith(("scan-x", "scan-w")) and r.error is None]
    pairs = [round(m.queries_per_s / (m.processes * s.queries_per_s), 3)
             for s, m in zip(singles, multis, strict=False) if s.queries_per_s]
    return {"efficiency_per_pair": pairs} if len(pairs) > 1 else {}


def table(rows: Sequence[Row], extra: dict[str, float | None]) -> str:
    head = (f"{'contender':<26}{'procs':>6}{'domains':>10}{'queries':>11}{'wall s':>9}"
            f"{'domains/s':>11}{'queries/s':>11}{'q/CPU s':>9}{'CPU s/1k':>10}{'RSS MB':>9}"
            f"{'srv CPU':>9}{'load':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"{r.label:<26}{r.processes:>6}  FAILED: "
                         f"{r.error.strip().splitlines()[-1][:70] if r.error.strip() else '?'}")
            continue
        lines.append(f"{r.label:<26}{r.processes:>6}{r.domains:>10,}{r.queries:>11,}"
                     f"{r.wall_s:>9.2f}{r.domains_per_s:>11,.0f}{r.queries_per_s:>11,.0f}"
                     f"{r.queries_per_cpu_s:>9,.0f}{r.cpu_per_1000:>10.3f}{r.max_rss_mb:>9.1f}"
                     f"{r.extra.get('server_cpu_s', 0):>9.2f}"
                     f"{r.extra.get('loadavg_1min_before', 0):>6.1f}")
    lines.append("")
    lines += [f"{k}: {'n/a' if v is None else f'{v:.2f}'}" for k, v in extra.items()]
    return "\n".join(lines)


def git_sha() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


def write_results(results: dict[str, Any], directory: Path) -> Path:
    """``<date>-<sha>[-<size>-<subset>].json`` in ``directory``; returns its path.

    Only a full run (every default contender, the default size) also becomes ``latest.json``,
    the figures the README quotes; partial and other-size runs keep their own names.
    """
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    full = set(CONTENDERS) <= set(results["contenders"]) and results["domains"] == 200_000
    name = f"{results['date']}-{results['git_sha']}"
    if not full:
        name += f"-{results['domains']}-{'+'.join(sorted(results['contenders']))}"
    path = directory / f"{name}.json"
    path.write_text(text)
    latest = directory / "latest.json"
    if full:
        latest.write_text(text)
    elif "latency" in results and latest.exists():
        # a latency-only run updates the latest figures' latency section (with its own command
        # and commit): the loopback rows stay those of the last full run
        figures = json.loads(latest.read_text())
        figures["latency"] = {
            **results["latency"], "date": results["date"], "git_sha": results["git_sha"],
            "domains": results["domains"], "command": latency_command(results),
            "rows": [r for r in results["rows"] if r["label"].startswith("path-")]}
        latest.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return path


def latency_command(results: dict[str, Any]) -> str:
    return (f"python -m benchmarks.run --domains {results['domains']} --only latency "
            f"--repeat {results.get('repeat', 1)}")


# --- the run ---------------------------------------------------------------------------------

CONTENDERS = ("dnsperf", "naive", "dnsclient", "scan", "scan-xN", "https", "latency")
#: The HTTPS rows' servers: nginx (row ``https``, the target's figure) and the test internet.
HTTPS_SERVERS = ("nginx", "sim")
#: Rows run ``--repeat`` times (alternately), each reporting its median run.
REPEATED = ("scan", "scan-xN")
#: Default of ``--repeat``: three runs of each, so that one slow run moves no figure.
REPEAT = 3
#: Not part of the default run (py-spy slows the scan a little): ``--only profile``.
EXTRAS = ("profile",)


def main(argv: list[str] | None = None) -> int:
    # SIGTERM unwinds like Ctrl-C, so that NSD, nginx and a running contender are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--domains", type=int,
                        default=int(os.environ.get("BENCH_DOMAINS", "200000")))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="scan processes for the all-cores row")
    parser.add_argument("--https-count", type=int, default=2000,
                        help="policy fetches per HTTPS row (each a distinct host while the "
                             "world has enough)")
    parser.add_argument("--https-servers", default=",".join(HTTPS_SERVERS),
                        help="HTTPS rows: nginx (row 'https'), sim (row 'https-sim')")
    parser.add_argument("--nsd-cpu", default=str((os.cpu_count() or 1) - 1),
                        help="core NSD is pinned to ('none': not pinned)")
    parser.add_argument("--repeat", type=int, default=REPEAT,
                        help="runs of the scan rows, alternating one process and all cores; "
                             "each row reports its median run")
    parser.add_argument("--only", default=",".join(CONTENDERS),
                        help=f"comma-separated subset of {','.join(CONTENDERS + EXTRAS)}")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mta-sts-bench"))
    parser.add_argument("--out", type=lambda t: Path(t) if t else None,
                        default=ROOT / "benchmarks" / "results",
                        help="results directory ('' to write nothing)")
    args = parser.parse_args(argv)
    results = bench(args.domains, args.seed, args.processes, args.https_count,
                    set(args.only.split(",")), args.work,
                    https_servers=tuple(args.https_servers.split(",")),
                    nsd_cpu=None if args.nsd_cpu == "none" else int(args.nsd_cpu),
                    repeat=max(1, args.repeat))
    print(table([Row(**{k: v for k, v in r.items() if k in Row.__dataclass_fields__})
                 for r in results["rows"]], results["ratios"]))
    if results.get("latency"):
        print("\n".join(f"{k}: {v}" for k, v in results["latency"].items()))
    if results.get("scaling"):
        print("\n".join(f"{k}: {v}" for k, v in results["scaling"].items()))
    if "profile" in results:
        print(json.dumps(results["profile"], indent=1))
    if args.out:
        print(f"\nwrote {write_results(results, args.out)}")
    return 0 if all(r["error"] is None for r in results["rows"]) else 1


def bench(domains: int, seed: int, processes: int, https_count: int, only: set[str],
          work: Path, *, server: str = "nsd", https_servers: Sequence[str] = HTTPS_SERVERS,
          nsd_cpu: int | None = None, repeat: int = 1) -> dict[str, Any]:
    """Build the world, serve it, run the chosen contenders; the JSON-ready results.

    ``server="world"`` answers DNS with the test internet's own (Python) server instead of NSD:
    the smoke test's way to drive every piece on a machine without NSD (figures then measure
    that server, not the scanner's ceiling). ``https_servers`` picks the HTTPS rows: ``nginx``
    (the row ``https``) and ``sim`` (``https-sim``, the test internet's Python server).
    """
    from survey.sim.dns_server import AddressPlan
    from survey.sim.generator import generate_world, write_toplist
    from survey.sim.zonefile import export_world

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    world = generate_world(domains, seed)
    plan = AddressPlan()
    toplist = work / "toplist.csv"
    write_toplist(world, toplist)
    nsd_port = free_udp_tcp_port(NSD_ADDRESS)
    conf = export_world(world, work / "nsd", address=NSD_ADDRESS, port=nsd_port, plan=plan) \
        if server == "nsd" else None
    names = [s.domain for s in world.scenarios]
    query_file = work / "queries.txt"
    queries = write_queries(names, query_file)
    hosts_file = work / "policy_hosts.txt"
    hosts_file.write_text("".join(f"{d} {a}\n" for d, a in nginx.servable_hosts(world, plan)))
    prepare_s = time.perf_counter() - t0
    with contextlib.ExitStack() as stack:
        dns_proc = stack.enter_context(nsd(conf, NSD_ADDRESS, nsd_port, names[0], nsd_cpu)) \
            if conf is not None else None
        internet = stack.enter_context(start_world(world, work / "internet", plan=plan,
                                                   dns=conf is None))
        sim_cpu = functools.partial(thread_cpu_seconds, internet.thread_id)
        if dns_proc is not None:
            address, port = NSD_ADDRESS, nsd_port
            dns_cpu: Callable[[], float] = functools.partial(tree_cpu_seconds, dns_proc.pid)
        else:
            (address, port), dns_cpu = internet.resolver, sim_cpu
        resolver = f"{address}:{port}"
        world_args = _world_args(internet.scan_args())
        site = None
        scanning = bool(only & {"scan", "scan-xN", "profile"})
        if "nginx" in https_servers and ("https" in only or scanning):
            site = nginx.export_site(world, work / "nginx", TestCA(internet.ca_bundle.parent),
                                     plan=plan)
        nginx_proc = stack.enter_context(nginx.serve(site)) if site is not None else None
        # the scan rows fetch policies from nginx when it mirrors every host: the test
        # internet's Python thread would otherwise take a third of a core from the scanners
        scan_https = "nginx" if site is not None and not site.skipped else "sim"
        if scan_https == "nginx" and site is not None:
            world_args = _with_option(world_args, "--https-port", str(site.port))
        fetch = functools.partial(https_row, hosts=hosts_file, ca_bundle=internet.ca_bundle,
                                  count=https_count, distinct=https_count)
        contenders: dict[str, list[tuple[Callable[[], Row], Callable[[], float]]]] = {
            "dnsperf": [(lambda: dnsperf_row(query_file, queries, address, port), dns_cpu)],
            "naive": [(lambda: reference_row("naive", "benchmarks.naive_scanner", toplist,
                                             resolver), dns_cpu)],
            "dnsclient": [(lambda: reference_row("dnsclient", "benchmarks.dns_client", toplist,
                                                 resolver), dns_cpu)],
            "scan": [(lambda: scan_row("scan", toplist, work, world_args, resolver, 1),
                      dns_cpu)],
            "scan-xN": [(lambda: workers_row(f"scan-w{processes}", toplist, work, world_args,
                                             resolver, processes) if scan_has_workers()
                         else scan_row(f"scan-x{processes}", toplist, work, world_args,
                                       resolver, processes), dns_cpu)],
            "https": [(lambda: fetch("https-sim", port=internet.https_port, warm_up=True),
                       sim_cpu)] if "sim" in https_servers else [],
        }
        if "latency" in only and dns_proc is not None and dnsdist.available():
            path_cpu = functools.partial(tree_cpu_seconds, dns_proc.pid)  # NSD; dnsdist below
            contenders["latency"] = [
                (m, path_cpu) for _, m in latency.measures(
                    functools.partial(scan_row, toplist=toplist, work=work,
                                      world_args=world_args, processes=1),
                    work, free_udp_tcp_port(dnsdist.DNSDIST_ADDRESS), (address, port),
                    names[0], domains)]
        if site is not None and nginx_proc is not None and "https" in only:
            contenders["https"].insert(0, (lambda: fetch("https", port=site.port,
                                                         warm_up=False),
                                           functools.partial(tree_cpu_seconds, nginx_proc.pid)))
        chosen = [(name, measure, server_cpu) for name, measures in contenders.items()
                  if name in only and not (name == "scan-xN" and processes < 2)
                  for measure, server_cpu in measures]
        runs: list[Row] = []
        repeated = [c for c in chosen if c[0] in REPEATED]
        for name, measure, server_cpu in chosen:
            if name not in REPEATED:
                runs.append(measured(measure, server_cpu))
            elif name == repeated[0][0]:  # one process and all cores, in turns
                for _ in range(repeat):
                    runs.extend(measured(m, c) for _, m, c in repeated)
        rows = median_rows(runs)
        profile = profile_scan(toplist, work, world_args, resolver) if "profile" in only \
            else None
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ"),
        "git_sha": git_sha(),
        "domains": domains, "seed": seed, "queries_per_domain": len(QUERIES),
        "policy_hosts": sum(s.policy_host is not None for s in world.scenarios),
        "prepare_s": round(prepare_s, 2),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "command": f"BENCH_DOMAINS={domains} make bench",
        "dns_server": server, "nsd_cpu": nsd_cpu if conf is not None else None,
        "scan_https_server": scan_https,
        "https_servers": list(https_servers),
        **({"nginx": {"hosts": len(site.hosts), "skipped": site.skipped,
                      "worker_processes": 1, "version": nginx.version()}}
           if site is not None else {}),
        "contenders": sorted(only),
        "scan_options": f"defaults except --rate {SCAN_RATE} (the politeness cap)",
        # the latency summary first: it adds each latency row's retries to its extra
        **({"latency": latency.annotate(rows)} if "latency" in only else {}),
        "rows": [r.as_dict() for r in rows],
        "ratios": ratios(rows),
        "scaling": {**scaling(rows, os.cpu_count() or 1), **paired_efficiency(runs)},
        "repeat": repeat,
        **({"profile": profile} if profile is not None else {}),
    }


def measured(measure: Callable[[], Row], server_cpu: Callable[[], float]) -> Row:
    """Run one row, keeping with it the machine's load and what its server and others burned.

    Why: on 2 shared cores a row's rate depends on who else ran; the server's CPU seconds
    (from ``/proc``), the cores the client, the server and other work kept busy over the row's
    life (the client's whole process, start-up included) say whether the client, the server or
    the machine was the limit.
    """
    load = round(os.getloadavg()[0], 2)
    server0, machine0, started = server_cpu(), machine_busy_seconds(), time.perf_counter()
    row = measure()
    window = time.perf_counter() - started
    server, machine = server_cpu() - server0, machine_busy_seconds() - machine0
    client = float(row.extra.get("process_cpu_s", row.cpu_s))
    row.extra.update(loadavg_1min_before=load, server_cpu_s=round(server, 2),
                     server_cores=round(server / window, 2),
                     client_cores=round(client / window, 2),
                     other_cores=round(max(0.0, machine - client - server) / window, 2))
    return row


def _world_args(args: list[str]) -> list[str]:
    """The world's scan options minus its own resolver (NSD serves DNS in the benchmark)."""
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--resolver":
            skip = True
            continue
        out.append(a)
    return out


def _with_option(args: list[str], option: str, value: str) -> list[str]:
    """``args`` with ``option``'s value replaced (appended when absent)."""
    if option not in args:
        return [*args, option, value]
    at = args.index(option)
    return [*args[:at + 1], value, *args[at + 2:]]


if __name__ == "__main__":
    sys.exit(main())
