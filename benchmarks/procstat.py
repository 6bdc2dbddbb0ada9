"""CPU seconds and peak RSS of other processes and threads, read from ``/proc`` (Linux).

Why: on a 2-core machine the scanner shares the CPU with its servers (NSD, nginx, the test
internet's thread), so a row is judged by what each of them burned during it, not by wall time
alone. ``os.wait4`` gives a child's CPU only once it exits; servers live across rows, so their
CPU is sampled before and after each row from ``/proc/<pid>/stat`` instead.
"""

from __future__ import annotations

import os

#: Clock ticks per second of the ``utime``/``stime`` fields of ``/proc/<pid>/stat``.
TICKS = os.sysconf("SC_CLK_TCK")


def stat_cpu_seconds(path: str) -> float:
    """``utime + stime`` of one ``/proc/.../stat`` file, in seconds; 0 once it is gone."""
    try:
        with open(path, "rb") as fh:
            text = fh.read()
    except OSError:
        return 0.0
    # the command name (field 2) may hold spaces and parentheses: count from its last ')'
    fields = text[text.rfind(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def descendants(pid: int) -> list[int]:
    """Live descendants of ``pid`` (from ``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants (a server's master and workers)."""
    return sum(stat_cpu_seconds(f"/proc/{p}/stat") for p in (pid, *descendants(pid)))


def thread_cpu_seconds(native_id: int) -> float:
    """CPU seconds of one thread of this process (``threading.get_native_id()``)."""
    return stat_cpu_seconds(f"/proc/self/task/{native_id}/stat")


def vm_hwm_kb(pid: int) -> int:
    """Peak RSS (``VmHWM``) of a live process's current image; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine spent busy since boot (``/proc/stat``: every
    state but idle and iowait); the difference over a row, less the row's own client and
    server, is what other work on a shared machine took."""
    with open("/proc/stat", "rb") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user/nice)
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS
