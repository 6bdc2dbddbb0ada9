"""The pool: a fixed (or latency-driven) number of workers runs the funnel; one task writes rows.

Shape (all trio)::

    producer --(bounded channel)--> N workers --(bounded channel)--> writer -> PartWriter

The producer reads the toplist lazily and skips domains already done, so memory follows the
work in flight, not the list; both channels are bounded, so a slow disk or slow probes push
back on the reader. What each worker does per domain is the funnel's (``survey.scan.funnel``);
the options are ``survey.scan.config``'s. The names those two modules had here (``ScanConfig``,
``observe``, ``open_probes``, ...) are still importable from this module.

Stopping: SIGINT/SIGTERM cancel the workers (a second signal cancels the writer too); the
writer flushes every finished row in a complete part and the caller leaves the manifest
``running``, so the same command resumes. No probe is mocked here: tests run this against the
test internet on loopback.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from collections.abc import Container, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import trio

from survey.dataset.sink import PartWriter
from survey.probes.base import Fetcher as Fetcher
from survey.probes.base import Prober as Prober
from survey.probes.base import Resolver as Resolver
from survey.scan.config import MAX_MX_PROBED as MAX_MX_PROBED
from survey.scan.config import ScanConfig as ScanConfig
from survey.scan.config import user_agent as user_agent
from survey.scan.funnel import Probes as Probes
from survey.scan.funnel import mx_hosts as mx_hosts
from survey.scan.funnel import observe as observe
from survey.scan.funnel import open_probes as open_probes
from survey.scan.funnel import row_for as row_for
from survey.scan.funnel import wants_tlsa as wants_tlsa
from survey.scan.inflight import COOLDOWN, PERIOD, Sample, decide
from survey.scan.progress import Progress, ResolverWindow
from survey.toplist.reader import ToplistEntry

log = logging.getLogger(__name__)

#: The producer hands over this many domains per wake-up (without a checkpoint each): the pool
#: then starts them together, so their queries leave in one burst and their answers are drained
#: in few receiver wake-ups. -18 % CPU per domain against one domain per wake-up; larger bursts
#: (128 and more: 512 queries back to back) got more answers later than the DNS timeout from
#: NSD (retries; no kernel receive-buffer drops were counted), 16 about 0.02 % of queries.
PRODUCER_BURST = 16
@dataclass
class ScanSummary:
    """What one session of a scan did (a resumed run has one summary per session)."""

    counts: Counter[str] = field(default_factory=Counter)
    scanned: int = 0  # domains written this session
    skipped_done: int = 0  # domains already in complete parts
    internal_errors: int = 0  # domains dropped by a bug (logged; scanned again on resume)
    interrupted: bool = False
    input_error: str | None = None  # the toplist could not be read to its end
    duration: float = 0.0
    queries_sent: int = 0
    parts_written: int = 0
    blocked_addresses: int = 0  # special-purpose or unparseable addresses not contacted
    excluded_addresses: int = 0  # addresses in an --exclude IP prefix, not contacted
    #: DNS attempts that got no answer in time, and answers that were SERVFAIL (the resolver
    #: as the limit: ``resolver_figures``)
    dns_timeouts: int = 0
    dns_servfails: int = 0
    #: the number in flight: start, highest, last, and the periods by what limited the scan
    in_flight: dict[str, Any] = field(default_factory=dict)
    #: per minute of the session: queries, attempts timed out, SERVFAIL answers
    resolver_minutes: list[dict[str, int]] = field(default_factory=list)


# --- the pool ----------------------------------------------------------------------------------

Row = tuple[dict[str, Any], str]


async def _produce(entries: Iterable[ToplistEntry], done: Container[str],
                   send: trio.MemorySendChannel[ToplistEntry], summary: ScanSummary) -> None:
    async with send:
        iterator = iter(entries)
        burst = 0
        while True:
            try:
                entry = next(iterator)
            except StopIteration:
                return
            except Exception as exc:  # unreadable input: stop feeding, keep what is finished
                log.error("reading the toplist failed: %s", exc)
                summary.input_error = f"{type(exc).__name__}: {exc}"
                return
            if entry.domain in done:
                summary.skipped_done += 1
                if summary.skipped_done % 1024 == 0:
                    await trio.lowlevel.checkpoint()  # a long resume skip must stay cancellable
                continue
            burst += 1
            if burst < PRODUCER_BURST:
                try:
                    send.send_nowait(entry)
                    continue
                except trio.WouldBlock:
                    pass
            burst = 0
            await send.send(entry)


@dataclass(slots=True)
class _Pool:
    """The workers' shared counts: how many there should be, are, are busy, and what the busy
    ones cost (what ``survey.scan.inflight`` decides from)."""

    limit: int
    workers: int = 0
    busy: int = 0
    finished: int = 0
    busy_seconds: float = 0.0


async def _work(probes: Probes, config: ScanConfig, receive: trio.MemoryReceiveChannel[
        ToplistEntry], send: trio.MemorySendChannel[Row], summary: ScanSummary,
        pool: _Pool | None = None) -> None:
    """One worker of the pool. Channel hops take the ``_nowait`` path when they can: every
    domain parks at least once in its DNS lookups (a schedule and cancellation point), so the
    extra checkpoint per ``send``/``receive`` would only cost two task switches per domain.
    A worker leaves when the pool has more workers than its limit (the limit went down)."""
    async with receive, send:
        while True:
            if pool is not None and pool.workers > pool.limit:
                pool.workers -= 1
                return
            try:
                entry = receive.receive_nowait()
            except trio.WouldBlock:
                try:
                    entry = await receive.receive()
                except trio.EndOfChannel:
                    return
            except trio.EndOfChannel:
                return
            started = trio.current_time()
            if pool is not None:
                pool.busy += 1
            try:
                obs = await observe(entry.domain, probes, max_mx=config.max_mx,
                                    tlsa=config.tlsa.mode)
                row = row_for(entry, obs, config.context)
            except Exception:  # a bug must cost one domain (scanned again on resume), not the run
                log.exception("internal error while scanning %s", entry.domain)
                summary.internal_errors += 1
                continue
            finally:
                if pool is not None:
                    pool.busy -= 1
                    pool.finished += 1
                    pool.busy_seconds += trio.current_time() - started
            try:
                send.send_nowait(row)
            except trio.WouldBlock:
                await send.send(row)


def _take(row: Row, sink: PartWriter, progress: Progress, summary: ScanSummary) -> None:
    sink.add(row[0])
    summary.scanned += 1
    summary.counts[row[1]] += 1
    progress.update(row[1])


async def _write(receive: trio.MemoryReceiveChannel[Row], sink: PartWriter,
                 progress: Progress, summary: ScanSummary) -> None:
    """The only task touching the sink; flushes on size, on time when idle, and at the end.

    Each wake-up drains every queued row (no cancel scope, no checkpoint per row); only an
    empty channel costs a wait, bounded by the sink's next time-based flush.
    """
    try:
        async with receive:
            while True:
                try:
                    _take(receive.receive_nowait(), sink, progress, summary)
                    continue
                except trio.WouldBlock:
                    pass
                except trio.EndOfChannel:
                    break
                sink.flush_if_due()
                with trio.move_on_after(min(sink.seconds_until_due(), 3600.0)):
                    try:
                        row = await receive.receive()
                    except trio.EndOfChannel:
                        break
                    _take(row, sink, progress, summary)
    finally:
        sink.close()  # synchronous: runs to the end even when the task is cancelled


async def _monitor(pool: _Pool, probes: Probes, config: ScanConfig,
                   entries: trio.MemoryReceiveChannel[ToplistEntry],
                   rows: trio.MemorySendChannel[Row], nursery: trio.Nursery,
                   summary: ScanSummary, resolver: ResolverWindow, input_done: trio.Event
                   ) -> None:
    """Every ``PERIOD`` s until the input is done: the resolver's failure counts into
    ``resolver`` (the progress line, the manifest) and, when the number in flight may grow
    (``max_concurrency`` above ``concurrency``), ``decide`` it and start workers to reach it
    (extra ones leave by themselves). Owns the channel clones new workers are made from."""
    cap = config.pool.max_concurrency or 0
    adaptive = cap > config.pool.concurrency
    record = summary.in_flight
    record.update(start=pool.limit, highest=pool.limit, last=pool.limit, adaptive=adaptive,
                  limited_by={})
    async with entries, rows:
        cpu, finished, busy, queries = time.process_time(), 0, 0.0, probes.dns.queries_sent
        timeouts = _dns_counts(probes)[0]
        before: Sample | None = None  # the last period (judges a raise made after it)
        raised_from: int | None = None
        cooldown = 0
        while not input_done.is_set():
            slept_at = trio.current_time()
            with trio.move_on_after(PERIOD):
                await input_done.wait()
            if input_done.is_set():
                return
            lag = max(0.0, trio.current_time() - slept_at - PERIOD)
            now_cpu, now_queries = time.process_time(), probes.dns.queries_sent
            now_timeouts, now_servfails = _dns_counts(probes)
            sample = Sample(seconds=PERIOD + lag, finished=pool.finished - finished,
                            busy_seconds=pool.busy_seconds - busy, cpu_seconds=now_cpu - cpu,
                            queries=now_queries - queries, lag=lag, in_flight=pool.busy,
                            timeouts=now_timeouts - timeouts)
            cpu, finished, busy, queries = now_cpu, pool.finished, pool.busy_seconds, now_queries
            timeouts = now_timeouts
            resolver.add(trio.current_time(), now_queries, now_timeouts, now_servfails)
            if not adaptive:
                continue
            decision = decide(pool.limit, sample, rate=config.dns.rate,
                              floor=config.pool.concurrency,
                              cap=pool.limit if cooldown else cap, raised_from=raised_from,
                              before=before)
            cooldown = COOLDOWN if decision.limited_by == "server" else max(0, cooldown - 1)
            raised_from = pool.limit if decision.limit > pool.limit else None
            before = sample
            record["limited_by"][decision.limited_by] = record["limited_by"].get(
                decision.limited_by, 0) + 1
            pool.limit = decision.limit
            record["highest"] = max(record["highest"], pool.limit)
            record["last"] = pool.limit
            while pool.workers < pool.limit:
                pool.workers += 1
                nursery.start_soon(_work, probes, config, entries.clone(), rows.clone(),
                                   summary, pool)


async def _produce_then_signal(entries: Iterable[ToplistEntry], done: Container[str],
                               send: trio.MemorySendChannel[ToplistEntry],
                               summary: ScanSummary, finished: trio.Event) -> None:
    try:
        await _produce(entries, done, send, summary)
    finally:
        finished.set()


def _dns_counts(probes: Probes) -> tuple[int, int]:
    """(attempts timed out, SERVFAIL answers) so far, for a resolver that counts them."""
    return (int(getattr(probes.dns, "timeouts", 0)), int(getattr(probes.dns, "servfails", 0)))


async def _watch_signals(stop_workers: trio.CancelScope, stop_all: trio.CancelScope,
                         summary: ScanSummary) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if not summary.interrupted:
                log.warning("%s: stopping; finished domains are being written",
                            signal.Signals(signum).name)
                summary.interrupted = True
                stop_workers.cancel()
            else:
                stop_all.cancel()


def resolver_figures(summary: ScanSummary) -> dict[str, Any]:
    """What the manifest says of the resolver: attempts timed out and SERVFAIL answers, in all
    and per minute (a resolver at its limit shows there before the rate drops)."""
    queries = summary.queries_sent
    return {"queries": queries, "timeouts": summary.dns_timeouts,
            "servfails": summary.dns_servfails,
            "timeout_share": round(summary.dns_timeouts / queries, 5) if queries else None,
            "servfail_share": round(summary.dns_servfails / queries, 5) if queries else None,
            "per_minute": summary.resolver_minutes}


async def run_scan(
    entries: Iterable[ToplistEntry],
    config: ScanConfig,
    sink: PartWriter,
    progress: Progress,
    *,
    done: Container[str] = frozenset(),
    probes: Probes | None = None,
) -> ScanSummary:
    """Scan ``entries`` (minus ``done``) into ``sink``; returns when finished or stopped.

    ``probes`` defaults to the real clients built from ``config`` (``open_probes``). A stop by
    signal returns normally with ``interrupted`` set; every row handed to the writer is in a
    complete part when this returns.
    """
    summary = ScanSummary()
    started = time.monotonic()
    resolver = ResolverWindow(trio.current_time())
    progress.resolver = resolver
    async with AsyncExitStack() as stack:
        if probes is None:
            probes = await stack.enter_async_context(open_probes(config))
        entry_send, entry_receive = trio.open_memory_channel[ToplistEntry](config.pool.concurrency)
        row_send, row_receive = trio.open_memory_channel[Row](config.pool.concurrency)
        with trio.CancelScope() as stop_all:
            async with trio.open_nursery() as outer:
                watcher = trio.CancelScope()
                workers_scope = trio.CancelScope()
                if config.pool.handle_signals:
                    async def watch() -> None:
                        with watcher:
                            await _watch_signals(workers_scope, stop_all, summary)
                    outer.start_soon(watch)
                outer.start_soon(_write, row_receive, sink, progress, summary)
                with workers_scope:
                    async with trio.open_nursery() as nursery, row_send, entry_receive:
                        input_done = trio.Event()
                        nursery.start_soon(_produce_then_signal, entries, done, entry_send,
                                           summary, input_done)
                        pool = _Pool(config.pool.concurrency, workers=config.pool.concurrency)
                        for _ in range(config.pool.concurrency):
                            nursery.start_soon(_work, probes, config, entry_receive.clone(),
                                               row_send.clone(), summary, pool)
                        nursery.start_soon(_monitor, pool, probes, config,
                                           entry_receive.clone(), row_send.clone(), nursery,
                                           summary, resolver, input_done)
                watcher.cancel()
        summary.queries_sent = probes.dns.queries_sent
        summary.dns_timeouts, summary.dns_servfails = _dns_counts(probes)
        resolver.add(trio.current_time(), summary.queries_sent, *_dns_counts(probes))
        summary.resolver_minutes = resolver.finish()
        if probes.guard is not None:
            summary.blocked_addresses = probes.guard.blocked
            summary.excluded_addresses = probes.guard.excluded
    progress.close()
    summary.parts_written = len(sink.parts_written)
    summary.duration = time.monotonic() - started
    return summary
