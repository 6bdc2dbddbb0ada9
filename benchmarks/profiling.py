"""``--only profile``: one scan sampled with py-spy, its time summarised per function and per
part of the scanner (``CATEGORIES``). Named ``profiling``, not ``profile``: the standard library
has a ``profile`` module."""

from __future__ import annotations

import shutil
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.contenders import scan_argv
from benchmarks.measurement import run_child


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
