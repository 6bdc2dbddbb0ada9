"""The contenders: ``dnsperf`` (the ceiling), the naive and DNS-client references, the scan
command (one process, ``--workers N`` or N ``--shard`` processes) and the policy fetcher; each
runs as a child process and gives one ``Row``."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.measurement import Row, finish_all, run_child, spawn
from benchmarks.naive_scanner import QUERIES

#: The rows of a default run, in order (``--only`` picks among them).
CONTENDERS = ("dnsperf", "naive", "dnsclient", "scan", "scan-xN", "https", "latency")
#: The scan's politeness cap (``--rate``, default 1000 queries/s) would be the only thing
#: measured; the benchmark lifts it. Everything else stays at the command's defaults.
SCAN_RATE = "1000000"
#: what a ``scan --workers N`` worker's command line holds (survey/runs/workers.py starts
#: ``python -m survey.runs.workers <parent pid>``); NUL-separated as in ``/proc/<pid>/cmdline``
WORKER_ARGV = "\0-m\0survey.runs.workers\0"


def is_scan_worker(argv: str, ppid: int) -> bool:
    """A worker is ``python -m survey.runs.workers <its parent's pid>``: a fork of a worker (e.g. a
    helper before its exec) shows the same command line but has the worker as its parent."""
    head, found, tail = argv.partition(WORKER_ARGV)
    return bool(head and found) and tail.split("\0")[0] == str(ppid)


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


def without_resolver(args: list[str]) -> list[str]:
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


def with_option(args: list[str], option: str, value: str) -> list[str]:
    """``args`` with ``option``'s value replaced (appended when absent)."""
    if option not in args:
        return [*args, option, value]
    at = args.index(option)
    return [*args[:at + 1], value, *args[at + 2:]]
