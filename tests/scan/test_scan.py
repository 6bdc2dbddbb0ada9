"""The scan's worker pool, in process, against a real DNS server on loopback.

The server answers NXDOMAIN to everything (so the funnel ends after DNS and no policy fetch is
due), or never answers names starting with ``slow``. End-to-end runs of every scenario of the
test internet are in tests/commands/test_cli_scan.py.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import dns.message
import dns.rcode
import pyarrow.parquet as pq
import pytest
import trio

from survey.core.observations import DnsResult, DnsStatus, HttpsFetch, SmtpProbe
from survey.dataset.schema import RunContext
from survey.dataset.sink import PartWriter, completed_domains, part_files
from survey.probes.dns import DnsClient, DnsConfig
from survey.probes.net import Exclusions
from survey.scan.pool import Probes, ScanConfig, mx_hosts, open_probes, run_scan, user_agent
from survey.scan.progress import Progress
from survey.toplist.reader import ToplistEntry
from tests.conftest import trio_test

#: Linux's SO_TIMESTAMP (asm-generic/socket.h; the socket module does not export it): the kernel
#: stamps each datagram when it arrives, so a server task the loop runs late still sees when a
#: query was sent, not when the loop got round to reading it.
SO_TIMESTAMP = 29


def arrival_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's receive time (SCM_TIMESTAMP: a struct timeval) of one datagram, in seconds."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP:
            seconds, microseconds = struct.unpack("qq", data[:16])
            return float(seconds + microseconds / 1e6)
    raise AssertionError("the kernel gave no receive time (SO_TIMESTAMP)")


class NxServer:
    """UDP DNS server on 127.0.0.1: NXDOMAIN for every name, silence for ``slow*`` names."""

    def __init__(self) -> None:
        self.queries: list[tuple[float, str]] = []
        self.address: tuple[str, int] = ("127.0.0.1", 0)

    async def serve(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        with sock:
            await sock.bind(("127.0.0.1", 0))
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
            self.address = sock.getsockname()
            task_status.started()
            while True:
                data, ancillary, _, peer = await sock.recvmsg(4096, socket.CMSG_SPACE(16))
                query = dns.message.from_wire(data)
                name = query.question[0].name.to_text()
                self.queries.append((arrival_time(ancillary), name))
                if any(label.startswith("slow") for label in name.split(".")):
                    continue
                response = dns.message.make_response(query)
                response.set_rcode(dns.rcode.NXDOMAIN)
                await sock.sendto(response.to_wire(), cast("tuple[str, int]", peer))


class NoFetch:
    """The funnel must not fetch a policy for a domain that publishes nothing."""

    async def fetch(self, domain: str, addresses: tuple[str, ...]) -> HttpsFetch:
        raise AssertionError(f"policy fetch for {domain}")

    async def probe(self, host: str, addresses: tuple[str, ...]) -> SmtpProbe:
        raise AssertionError(f"SMTP probe of {host}")


@asynccontextmanager
async def scanning(server: NxServer, config: ScanConfig) -> AsyncIterator[Probes]:
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        dns_config = DnsConfig(resolvers=(server.address,), timeout=config.dns.timeout,
                               retries=config.dns.retries, sockets=1)
        from survey.probes.net import RateLimiter

        async with DnsClient(dns_config, limiter=RateLimiter(config.dns.rate)) as client:
            yield Probes(client, NoFetch(), None)
        nursery.cancel_scope.cancel()


def config(**overrides: object) -> ScanConfig:
    """A scan of the test server; its DNS deadline is long enough that a loaded machine never
    turns an answer into a timeout (tests about timeouts pass their own)."""
    values: dict[str, object] = {
        "context": RunContext("testrun1", "test"), "resolvers": (("127.0.0.1", 53),),
        "concurrency": 20, "dns_timeout": 10.0, "retries": 0, "rate": 100_000.0,
        "handle_signals": False,
    }
    values.update(overrides)
    return ScanConfig(**values)  # type: ignore[arg-type]


def entries(names: list[str]) -> list[ToplistEntry]:
    return [ToplistEntry(rank, name) for rank, name in enumerate(names, 1)]


def off() -> Progress:
    return Progress(mode="off")


@pytest.mark.slow
@trio_test
async def test_every_domain_once_in_parts_and_funnel_stops_after_dns(tmp_path: Path) -> None:
    server = NxServer()
    names = [f"d{i}.example" for i in range(300)]
    cfg = config()
    sink = PartWriter(tmp_path, "testrun1", max_rows=64)
    async with scanning(server, cfg) as probes:
        summary = await run_scan(entries(names), cfg, sink, off(), probes=probes)
    assert summary.scanned == 300 and summary.counts == {"absent": 300}
    assert not summary.interrupted and summary.internal_errors == 0
    assert summary.queries_sent == 4 * 300 == len(server.queries)  # no AAAA without a TXT
    assert summary.parts_written == 5 == len(part_files(tmp_path))
    table = pq.read_table(tmp_path / "parts", columns=["domain", "rank", "status",
                                                        "sts_dns_status", "run_id"])
    assert sorted(table.column("domain").to_pylist()) == sorted(names)
    rows = {d: r for d, r in zip(table.column("domain").to_pylist(),
                                  table.column("rank").to_pylist(), strict=True)}
    assert rows["d0.example"] == 1 and rows["d299.example"] == 300
    assert set(table.column("sts_dns_status").to_pylist()) == {str(DnsStatus.NXDOMAIN)}
    assert set(table.column("run_id").to_pylist()) == {"testrun1"}


@trio_test
async def test_done_domains_are_skipped(tmp_path: Path) -> None:
    server = NxServer()
    names = [f"d{i}.example" for i in range(50)]
    cfg = config()
    async with scanning(server, cfg) as probes:
        summary = await run_scan(entries(names), cfg, PartWriter(tmp_path, "r"), off(),
                                 done=set(names[:30]), probes=probes)
    assert summary.skipped_done == 30 and summary.scanned == 20
    assert completed_domains(tmp_path) == set(names[30:])
    def queried(domain: str) -> bool:
        return any(q == f"{domain}." or q.endswith(f".{domain}.") for _, q in server.queries)

    assert not any(queried(n) for n in names[:30]) and all(queried(n) for n in names[30:])


@trio_test
async def test_sigint_stops_promptly_and_flushes_finished_rows(tmp_path: Path) -> None:
    server = NxServer()
    fast = [f"d{i}.example" for i in range(40)]
    slow = [f"slow{i}.example" for i in range(40)]
    cfg = config(concurrency=80, dns_timeout=30.0, handle_signals=True)
    fast_done = trio.Event()

    class Watching(Progress):
        def update(self, status: str) -> None:
            super().update(status)
            if self.done == len(fast):
                fast_done.set()

    progress = Watching(mode="off")
    ki_handler = signal.getsignal(signal.SIGINT)  # trio's own, until run_scan's receiver
    async with scanning(server, cfg) as probes:
        async def interrupt() -> None:
            await fast_done.wait()
            await trio.sleep(0.1)  # the slow lookups are now all waiting on the server
            # 40 rows took many trio batches: run_scan's receiver must be in place by now
            # (else SIGINT would hit trio's KeyboardInterrupt handler instead)
            assert signal.getsignal(signal.SIGINT) is not ki_handler
            os.kill(os.getpid(), signal.SIGINT)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(interrupt)
            started = trio.current_time()
            summary = await run_scan(entries(fast + slow), cfg, PartWriter(tmp_path, "r"),
                                     progress, probes=probes)
            elapsed = trio.current_time() - started
    assert summary.interrupted and summary.scanned == len(fast)
    assert elapsed < 30.0  # the slow lookups' DNS deadline: they were cancelled, not awaited
    assert completed_domains(tmp_path) == set(fast)


@pytest.mark.slow
@trio_test
async def test_rate_limit_holds_at_the_server(tmp_path: Path) -> None:
    server = NxServer()
    rate = 400.0
    # a long DNS deadline and retries: on a loaded machine an answer may come late, never be lost
    cfg = config(rate=rate, concurrency=200, dns_timeout=10.0, retries=2)
    names = [f"d{i}.example" for i in range(400)]  # 1,600 queries: about 4 s
    async with scanning(server, cfg) as probes:
        await run_scan(entries(names), cfg, PartWriter(tmp_path, "r"), off(), probes=probes)
    times = sorted(t for t, _ in server.queries)
    assert len(times) >= 1600  # a datagram lost on a loaded machine is retried, never skipped
    # Every 1 s window of the kernel's arrival times stays under the rate plus the bucket's burst
    # (a tenth of a second's worth): a stall of the loop may delay queries, but they never exceed
    # the allowance. (Times taken when the server task reads would let a stall of the server
    # bunch a backlog into one window: 548 in one second was seen under load.)
    burst = rate / 10
    start = times[0]
    windows = [sum(start + k <= t < start + k + 1 for t in times) for k in range(3)]
    for count in windows:
        assert count <= rate * 1.1 + burst, windows
    overall = (len(times) - burst) / (times[-1] - times[0])
    assert overall <= rate * 1.1  # a ceiling: a busy machine only goes slower


def test_config_checks_and_helpers() -> None:
    for bad in ({"rate": 0.0}, {"concurrency": 0}, {"per_destination": 0}, {"resolvers": ()},
                {"dns_sockets": 0}, {"dns_backoff": -0.1}, {"dns_backoff": float("nan")}):
        try:
            config(**bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")
    assert user_agent("https://example.org/scan") == (
        f"mta-sts-survey/{__import__('survey').__version__} (+https://example.org/scan)")
    from survey.core.observations import DnsResult, MxRecord

    mx = DnsResult("d.example", "MX", DnsStatus.NOERROR, 0, mx=(
        MxRecord(20, "b.d.example"), MxRecord(10, "a.d.example"), MxRecord(0, ""),
        MxRecord(30, "a.d.example"), *(MxRecord(40 + i, f"m{i}.d.example") for i in range(20))))
    hosts = mx_hosts(mx, 10)
    assert hosts[:3] == ["a.d.example", "b.d.example", "m0.d.example"] and len(hosts) == 10
    assert Exclusions.from_lines(["x.example"]).excludes_domain("a.x.example")


@trio_test
async def test_open_probes_builds_the_dns_client_from_the_scan_config() -> None:
    cfg = config(resolvers=(("127.6.53.9", 5353),), dns_timeout=0.7, retries=3,
                 dns_backoff=0.25, dns_sockets=3)
    async with open_probes(cfg) as probes:
        assert isinstance(probes.dns, DnsClient)
        assert probes.dns.config == DnsConfig(resolvers=(("127.6.53.9", 5353),), timeout=0.7,
                                              retries=3, backoff=0.25, sockets=3)
        assert probes.prober is None


@trio_test
async def test_an_unreadable_toplist_stops_feeding_but_keeps_finished_rows(tmp_path: Path) -> None:
    server = NxServer()

    def broken() -> Iterator[ToplistEntry]:
        yield from entries([f"d{i}.example" for i in range(5)])
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    cfg = config()
    async with scanning(server, cfg) as probes:
        summary = await run_scan(broken(), cfg, PartWriter(tmp_path, "r"), off(), probes=probes)
    assert summary.input_error is not None and summary.input_error.startswith("EOFError")
    assert summary.scanned == 5 and len(completed_domains(tmp_path)) == 5


@trio_test
async def test_a_bug_costs_one_domain_not_the_run(tmp_path: Path) -> None:
    server = NxServer()
    cfg = config()

    class Buggy:
        def __init__(self, inner: Probes) -> None:
            self.inner = inner.dns
            self.queries_sent = 0

        async def batch(self, asked: Sequence[tuple[str, str]], *,
                        wire: Sequence[bytes] | None = None) -> list[DnsResult]:
            if asked[-1][0] == "mta-sts.bug.example":
                raise RuntimeError("simulated bug")
            return await self.inner.batch(asked, wire=wire)

        async def resolve_addresses(self, host: str) -> DnsResult:
            return await self.inner.resolve_addresses(host)

        async def query(self, qname: str, qtype: str) -> DnsResult:
            return await self.inner.query(qname, qtype)

        async def addresses_and_tlsa(self, host: str, port: int = 25
                                     ) -> tuple[DnsResult, DnsResult]:
            return await self.inner.addresses_and_tlsa(host, port)

    names = ["a.example", "bug.example", "c.example"]
    async with scanning(server, cfg) as probes:
        buggy = Probes(Buggy(probes), probes.fetcher, None)
        summary = await run_scan(entries(names), cfg, PartWriter(tmp_path, "r"), off(),
                                 probes=buggy)
    assert summary.internal_errors == 1 and summary.scanned == 2
    assert completed_domains(tmp_path) == {"a.example", "c.example"}  # bug.example: next time
