"""Zone-file scale: CPU seconds and peak memory per million lines of the input side (reading,
de-duplication, sharding, resume) on synthetic names generated on the fly, never stored.

Each step runs in a process of its own (its peak RSS is its own; the interpreter and imports
are measured first and subtracted). The names are ``<rank>,<word><rank>.com`` with a word of
6-14 letters from a fixed pool (distinct names, as a zone's delegations once de-duplicated);
``gen`` costs the generation alone, to subtract from the others. docs/zone-scale.md has the
figures.

    python -m benchmarks.zone_scale --lines 20000000 --shards 8
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import string
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from survey.core.digests import NameSet
from survey.toplist.reader import read_toplist_stream

#: The steps, in the order run.
STEPS = ("gen", "read", "shard-all", "shard-own", "resume", "resume-shard")
_CHUNK = 10_000  # lines generated at a time


def _words(seed: int = 17) -> list[bytes]:
    rng = random.Random(seed)
    return [''.join(rng.choices(string.ascii_lowercase, k=rng.randint(6, 14))).encode()
            for _ in range(1024)]


def chunks(lines: int) -> Iterator[bytes]:
    """The list, ``_CHUNK`` lines at a time."""
    words = _words()
    for start in range(1, lines + 1, _CHUNK):
        yield b"".join(b"%d,%s%d.com\n" % (i, words[i & 1023], i)
                       for i in range(start, min(start + _CHUNK, lines + 1)))


class _Generated(io.RawIOBase):
    """The generated list as a readable binary stream (what ``read_toplist_stream`` takes)."""

    def __init__(self, lines: int) -> None:
        self._chunks = chunks(lines)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            self._rest = next(self._chunks, b"")
            if not self._rest:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


def stream(lines: int) -> io.BufferedReader:
    return io.BufferedReader(_Generated(lines), buffer_size=1 << 16)


def names(lines: int) -> Iterator[str]:
    words = [w.decode() for w in _words()]
    for i in range(1, lines + 1):
        yield f"{words[i & 1023]}{i}.com"


def run_step(step: str, lines: int, shards: int) -> int:
    """Run ``step``; the number of entries (or names held) it ended with."""
    if step == "gen":
        return sum(1 for _ in iter(stream(lines).readline, b""))
    if step == "read":
        return sum(1 for _ in read_toplist_stream(stream(lines)))
    if step in ("shard-all", "shard-own"):
        return sum(1 for _ in read_toplist_stream(stream(lines), shard=(0, shards),
                                                  own_shard_dedup=step == "shard-own"))
    if step in ("resume", "resume-shard"):
        # what a resumed scan holds: its finished names as digests (sink.completed_names)
        done = NameSet()
        keep = lines if step == "resume" else lines // shards
        for name in names(keep):
            done.add(name)
        return len(done)
    raise ValueError(f"unknown step {step!r}")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(step: str, lines: int, shards: int) -> dict[str, Any]:
    """One step in this process: CPU s, wall s, peak RSS above the interpreter's."""
    base = rss_mb()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    count = run_step(step, lines, shards)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"step": step, "lines": lines, "shards": shards, "count": count,
            "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "cpu_s_per_million": round(cpu / lines * 1e6, 3),
            "peak_rss_above_mb": round(rss_mb() - base, 1), "base_rss_mb": round(base, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=20_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--step", help=argparse.SUPPRESS)  # one step, in this process
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(measure(args.step, args.lines, args.shards)))
        return 0
    for step in args.steps.split(","):
        done = subprocess.run([sys.executable, "-m", "benchmarks.zone_scale", "--step", step,
                               "--lines", str(args.lines), "--shards", str(args.shards)],
                              capture_output=True, text=True, check=False)
        print(done.stdout.strip() or json.dumps({"step": step, "error": done.stderr[-400:]}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
