"""The naive reference scanner: one trio task per domain, one socket per query.

Each domain gets the survey's four lookups (``_mta-sts`` TXT, ``_smtp._tls`` TXT, MX,
``mta-sts`` A) through ``dns.asyncquery.udp``, which builds a full ``dns.message``, opens a
fresh socket, and parses the whole answer for every query. It is the yardstick the shared-socket
``survey.probes.dns.DnsClient`` is measured against (``benchmarks/dns_client.py``).

    python -m benchmarks.naive_scanner toplist.csv --resolver 127.0.0.53:5353 -c 500
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.message
import trio

QUERIES = (("_mta-sts.{}", "TXT"), ("_smtp._tls.{}", "TXT"), ("{}", "MX"), ("mta-sts.{}", "A"))


def read_toplist(path: Path, limit: int | None = None) -> Iterator[str]:
    """Domains of a ``rank,domain`` CSV (no header), in order, at most ``limit``."""
    with path.open(newline="") as fh:
        for i, row in enumerate(csv.reader(fh)):
            if limit is not None and i >= limit:
                return
            if len(row) >= 2 and row[1]:
                yield row[1].strip().lower()


def parse_resolver(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class Figures:
    domains: int
    queries: int
    answered: int
    wall_s: float
    cpu_s: float

    def report(self, label: str) -> str:
        return (
            f"{label}: {self.domains} domains, {self.queries} queries "
            f"({self.answered} answered) in {self.wall_s:.2f} s: "
            f"{self.domains / self.wall_s:,.0f} domains/s, {self.queries / self.wall_s:,.0f} "
            f"queries/s, {1000 * self.cpu_s / max(self.domains, 1):.2f} CPU s per 1,000 domains"
        )


def raise_fd_limit() -> None:
    """One socket per query needs thousands of descriptors at high concurrency."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_bounded(
    domains: list[str], concurrency: int, per_domain: Callable[[str], Awaitable[None]]
) -> tuple[float, float]:
    """Run ``per_domain`` for every domain, at most ``concurrency`` at once; (wall, CPU) s."""
    limit = trio.Semaphore(concurrency)

    async def one(domain: str) -> None:
        try:
            await per_domain(domain)
        finally:
            limit.release()

    wall, cpu = time.perf_counter(), cpu_seconds()
    async with trio.open_nursery() as nursery:
        for domain in domains:
            await limit.acquire()
            nursery.start_soon(one, domain)
    return time.perf_counter() - wall, cpu_seconds() - cpu


async def naive_scan(
    domains: list[str], resolver: tuple[str, int], concurrency: int, query_timeout: float
) -> Figures:
    backend = dns.asyncbackend.get_backend("trio")
    counts = {"queries": 0, "answered": 0}

    async def lookup(qname: str, qtype: str) -> None:
        counts["queries"] += 1
        query = dns.message.make_query(qname, qtype, use_edns=0, payload=1232)
        try:
            await dns.asyncquery.udp(
                query, resolver[0], timeout=query_timeout, port=resolver[1], backend=backend
            )
            counts["answered"] += 1
        except (dns.exception.DNSException, OSError):
            pass

    async def per_domain(domain: str) -> None:
        async with trio.open_nursery() as nursery:
            for pattern, qtype in QUERIES:
                nursery.start_soon(lookup, pattern.format(domain), qtype)

    wall, cpu = await run_bounded(domains, concurrency, per_domain)
    return Figures(len(domains), counts["queries"], counts["answered"], wall, cpu)


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("toplist", type=Path, help="rank,domain CSV without header")
    parser.add_argument("--resolver", type=parse_resolver, required=True, help="HOST:PORT")
    parser.add_argument("-c", "--concurrency", type=int, default=500, help="domains in flight")
    parser.add_argument("-n", "--limit", type=int, default=None, help="first N domains only")
    parser.add_argument("--timeout", type=float, default=2.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0] if __doc__ else "").parse_args(argv)
    raise_fd_limit()
    domains = list(read_toplist(args.toplist, args.limit))
    figures = trio.run(naive_scan, domains, args.resolver, args.concurrency, args.timeout)
    print(figures.report(f"naive dns.asyncquery.udp (C={args.concurrency})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
