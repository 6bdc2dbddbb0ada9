"""Benchmark ``survey.probes.dns.DnsClient`` the same way as ``benchmarks/naive_scanner.py``.

Also writes a benchmark world for NSD: a toplist of ``N`` domains under ``bench.`` and one zone
where a share of them publish MTA-STS/TLS-RPT TXT records, MX and policy-host A records (the
rest answer NXDOMAIN/NODATA, as most of a real toplist does).

    python -m benchmarks.dns_client world /tmp/bench -n 100000 --listen 127.0.0.53@5353
    nsd -d -c /tmp/bench/nsd.conf &
    python -m benchmarks.naive_scanner /tmp/bench/toplist.csv --resolver 127.0.0.53:5353
    python -m benchmarks.dns_client run /tmp/bench/toplist.csv --resolver 127.0.0.53:5353

Measured on the 2-core dev machine (NSD 4.6.1, ``server-count: 1``, C=500, quiet machine):
naive 2,600-2,900 queries/s at 1.36-1.38 CPU s per 1,000 domains; DnsClient (4 sockets)
10,100-11,600 queries/s at 0.33-0.35 CPU s per 1,000 domains (about 4x less CPU per query).
``dnsperf`` against the same NSD: about 80,000 queries/s, so the client is the bottleneck.
The output line format is parsed by ``benchmarks/contenders.py``: keep it.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import trio

from benchmarks.naive_scanner import (
    Figures,
    arguments,
    parse_resolver,
    raise_fd_limit,
    read_toplist,
    run_bounded,
)
from survey.probes.dns import DnsClient, DnsConfig
from survey.scan.funnel import lookup_domain


async def client_scan(
    domains: list[str],
    resolver: tuple[str, int],
    concurrency: int,
    query_timeout: float,
    sockets: int,
) -> Figures:
    config = DnsConfig(resolvers=(resolver,), timeout=query_timeout, retries=0, sockets=sockets)
    answered = 0
    async with DnsClient(config) as client:

        async def per_domain(domain: str) -> None:
            nonlocal answered
            results = await lookup_domain(client, domain)
            answered += sum(1 for r in results if r.rcode >= 0)

        wall, cpu = await run_bounded(domains, concurrency, per_domain)
        return Figures(len(domains), client.queries_sent, answered, wall, cpu)


def write_world(out: Path, n: int, listen: str, seed: int = 1) -> None:
    """toplist.csv, bench.zone and nsd.conf under ``out`` (deterministic for a seed)."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "$ORIGIN bench.",
        "$TTL 3600",
        "@ IN SOA ns.bench. admin.bench. 1 3600 600 86400 300",
        "@ IN NS ns.bench.",
        "ns IN A 127.0.0.53",
    ]
    with (out / "toplist.csv").open("w") as toplist:
        for i in range(n):
            name = f"d{i}"
            toplist.write(f"{i + 1},{name}.bench\n")
            roll = rng.random()
            if roll < 0.3:
                continue  # NXDOMAIN for everything
            lines.append(f"{name} IN MX 10 mx{i % 97}.mail.bench.")
            if roll < 0.45:
                lines.append(f'_mta-sts.{name} IN TXT "v=STSv1; id={i}"')
                lines.append(f'_smtp._tls.{name} IN TXT "v=TLSRPTv1; rua=mailto:r@{name}.bench"')
                lines.append(f"mta-sts.{name} IN A 192.0.2.{i % 250 + 1}")
    (out / "bench.zone").write_text("\n".join(lines) + "\n")
    (out / "nsd.conf").write_text(
        "server:\n"
        f"  ip-address: {listen}\n"
        '  username: ""\n'
        f'  zonesdir: "{out}"\n'
        f'  pidfile: "{out}/nsd.pid"\n'
        f'  zonelistfile: "{out}/zone.list"\n'
        f'  xfrdfile: "{out}/xfrd.state"\n'
        '  database: ""\n'
        "  server-count: 1\n"
        "  verbosity: 0\n"
        "  rrl-ratelimit: 0\n"  # response rate limiting would answer TC to a benchmark
        "  rrl-whitelist-ratelimit: 0\n"
        "remote-control:\n"
        "  control-enable: no\n"
        "zone:\n"
        "  name: bench.\n"
        "  zonefile: bench.zone\n"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["world"]:
        parser = argparse.ArgumentParser(description="write a benchmark world for NSD")
        parser.add_argument("out", type=Path)
        parser.add_argument("-n", type=int, default=100_000)
        parser.add_argument("--listen", default="127.0.0.53@5353", help="NSD ip-address")
        world = parser.parse_args(argv[1:])
        write_world(world.out, world.n, world.listen)
        return 0
    if argv[:1] == ["run"]:
        argv = argv[1:]
    parser = arguments("benchmark DnsClient (shared sockets)")
    parser.add_argument("--sockets", type=int, default=4, help="UDP sockets per resolver")
    args = parser.parse_args(argv)
    raise_fd_limit()
    domains = list(read_toplist(args.toplist, args.limit))
    figures = trio.run(
        client_scan, domains, args.resolver, args.concurrency, args.timeout, args.sockets
    )
    print(figures.report(f"DnsClient (C={args.concurrency}, sockets={args.sockets})"))
    return 0


__all__ = ["client_scan", "parse_resolver", "write_world"]

if __name__ == "__main__":
    sys.exit(main())
