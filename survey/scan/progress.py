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

from survey.core.verdict import DISPLAY_ORDER

#: Statuses in the order tables list them (the verdict's vocabulary, best first).
STATUS_ORDER = DISPLAY_ORDER


def _ordered(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    known = [(s, counts.get(s, 0)) for s in STATUS_ORDER]
    return known + sorted((s, n) for s, n in counts.items() if s not in STATUS_ORDER)


def format_counts(counts: Mapping[str, int]) -> str:
    """``enforce=3 testing=1 ...`` (only non-zero statuses)."""
    return " ".join(f"{s}={n}" for s, n in _ordered(counts) if n)


class ResolverWindow:
    """The resolver's failure rates over the last minute, and per minute of the session.

    Why: through a real resolver the scan's limit may be the resolver (its outstanding-query
    limits, dead servers behind it): then attempts time out or come back SERVFAIL, and the
    progress line and the manifest must say so rather than only show a lower rate. Fed with
    running totals (queries sent, attempts timed out, SERVFAIL answers) at any moments.
    """

    def __init__(self, now: float, window: float = 60.0) -> None:
        self.window = window
        self._snapshots: collections.deque[tuple[float, int, int, int]] = collections.deque(
            [(now, 0, 0, 0)])
        self._minute_start = (now, 0, 0, 0)
        #: one entry per full minute (and the last part of one): queries, timeouts, servfails
        self.minutes: list[dict[str, int]] = []

    def add(self, now: float, queries: int, timeouts: int, servfails: int) -> None:
        snapshot = (now, queries, timeouts, servfails)
        self._snapshots.append(snapshot)
        while len(self._snapshots) > 2 and self._snapshots[1][0] <= now - self.window:
            self._snapshots.popleft()
        if now - self._minute_start[0] >= 60.0:
            self.minutes.append(self._delta(self._minute_start, snapshot))
            self._minute_start = snapshot

    @staticmethod
    def _delta(a: tuple[float, int, int, int], b: tuple[float, int, int, int]
               ) -> dict[str, int]:
        return {"queries": b[1] - a[1], "timeouts": b[2] - a[2], "servfails": b[3] - a[3]}

    def finish(self) -> list[dict[str, int]]:
        """The per-minute list, with the minute in progress (if it saw queries) appended."""
        last = self._delta(self._minute_start, self._snapshots[-1])
        return self.minutes + ([last] if last["queries"] else [])

    def rates(self) -> tuple[float, float] | None:
        """(timeout, SERVFAIL) shares of the queries of the last minute; None before any."""
        first, last = self._snapshots[0], self._snapshots[-1]
        queries = last[1] - first[1]
        if queries <= 0:
            return None
        return (last[2] - first[2]) / queries, (last[3] - first[3]) / queries

    def describe(self) -> str:
        """``dns last min: 2.1% timeouts, 0.0% SERVFAIL``; "" before any query."""
        rates = self.rates()
        if rates is None:
            return ""
        return f"dns last min: {rates[0]:.1%} timeouts, {rates[1]:.1%} SERVFAIL"


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
        #: set by the scan: the resolver's failure rates, shown at the end of each line
        self.resolver: ResolverWindow | None = None
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
                dns = self.resolver.describe() if self.resolver is not None else ""
                self._bar.set_postfix_str(format_counts(self.counts) + (f" | {dns}" if dns
                                                                        else ""), refresh=False)
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
        dns = self.resolver.describe() if self.resolver is not None else ""
        return (f"scanned {self.done:,}{of} domains, {rate:,.1f}/s, "
                f"elapsed {format_duration(elapsed)}{eta} {format_counts(self.counts)}"
                + (f" | {dns}" if dns else "")).rstrip()

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
