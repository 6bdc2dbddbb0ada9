"""Measuring one contender: a child process's wall and CPU time, peak RSS and descendants
(``os.wait4`` and ``/proc``), and the machine's load and the server's CPU around a row.

Each contender is a child process; its CPU time and peak RSS come from ``os.wait4`` on that
child (no ``/usr/bin/time`` needed), its wall time is the child's whole life (start-up included,
as a user sees it) unless the child reports its own scan time.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.procstat import descendants, machine_busy_seconds, stat_cpu_seconds, vm_hwm_kb

ROOT = Path(__file__).resolve().parent.parent


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
