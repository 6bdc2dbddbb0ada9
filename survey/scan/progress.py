"""Progress of a scan: a tqdm bar on a terminal, plain periodic lines in logs, the final table.

A scan of millions of domains runs for hours, often under nohup or a batch system where a bar's
carriage returns make an unreadable log: so the bar is used only when the stream is a TTY, and
otherwise one line every ``interval`` seconds says how far the scan is and how fast it goes.
"""

from __future__ import annotations

import collections
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Never, TextIO

from tqdm import tqdm

#: Statuses in the order tables list them (the verdict's vocabulary, best first).
STATUS_ORDER = ("enforce", "testing", "none", "invalid", "absent", "error")


def _ordered(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    known = [(s, counts.get(s, 0)) for s in STATUS_ORDER]
    return known + sorted((s, n) for s, n in counts.items() if s not in STATUS_ORDER)


def format_counts(counts: Mapping[str, int]) -> str:
    """``enforce=3 testing=1 ...`` (only non-zero statuses)."""
    return " ".join(f"{s}={n}" for s, n in _ordered(counts) if n)


class Progress:
    """Counts finished domains and shows them: a bar, periodic log lines, or nothing."""

    def __init__(
        self,
        *,
        total: int | None = None,
        mode: str = "auto",
        stream: TextIO | None = None,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in ("auto", "bar", "log", "off"):
            raise ValueError(f"unknown progress mode {mode!r}")
        self.stream = stream if stream is not None else sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "log"
        self.mode = mode
        self.total = total
        self.interval = interval
        self._clock = clock
        self.counts: collections.Counter[str] = collections.Counter()
        self.done = 0
        self.started = clock()
        self._last_line = self.started
        self._bar: tqdm[Never] | None = None
        if mode == "bar":
            self._bar = tqdm(total=total, file=self.stream, unit="dom", dynamic_ncols=True,
                             smoothing=0.05, mininterval=0.5)

    def update(self, status: str) -> None:
        """One domain finished with ``status``."""
        self.done += 1
        self.counts[status] += 1
        if self._bar is not None:
            self._bar.update(1)
            if self.done % 50 == 1:
                self._bar.set_postfix_str(format_counts(self.counts), refresh=False)
        elif self.mode == "log":
            now = self._clock()
            if now - self._last_line >= self.interval:
                self._last_line = now
                print(self.line(now), file=self.stream, flush=True)

    def line(self, now: float | None = None) -> str:
        """One log line: done (of total), rate, ETA when the total is known, counts."""
        elapsed = max((self._clock() if now is None else now) - self.started, 1e-9)
        rate = self.done / elapsed
        of = f"/{self.total:,}" if self.total is not None else ""
        eta = ""
        if self.total is not None and rate > 0:
            eta = f" eta {format_duration(max(self.total - self.done, 0) / rate)}"
        return (f"scanned {self.done:,}{of} domains, {rate:,.1f}/s, "
                f"elapsed {format_duration(elapsed)}{eta} {format_counts(self.counts)}").rstrip()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(format_counts(self.counts), refresh=True)
            self._bar.close()
            self._bar = None


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def summary_table(
    counts: Mapping[str, int],
    *,
    facts: Iterable[tuple[str, str]] = (),
    toplist_lines: Iterable[str] = (),
) -> str:
    """The end-of-run table: counts and shares by status, then free facts, then the list's."""
    total = sum(counts.values())
    lines = [f"{'status':<10}{'domains':>12}{'share':>9}"]
    for status, count in _ordered(counts):
        share = f"{count / total:.1%}" if total else "-"
        lines.append(f"{status:<10}{count:>12,}{share:>9}")
    lines.append(f"{'total':<10}{total:>12,}")
    lines.extend(f"{key:<18}{value}" for key, value in facts)
    toplist = list(toplist_lines)
    if toplist:
        lines.append("toplist:")
        lines.extend(f"  {line}" for line in toplist)
    return "\n".join(lines)
