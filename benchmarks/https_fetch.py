"""Policy fetches per second through the scanner's own fetch path (``PolicyFetcher.fetch``).

The child process of the HTTPS rows of ``make bench``: it fetches the policy of each listed host
with the scan's fetcher (``survey.probes.https``, a new TLS connection per fetch, the scan's
per-destination limit), trusting ``--ca-bundle`` and allowing loopback addresses as
``scan --allow-private`` does, and prints the timed pass's wall and CPU seconds. Usage:
``python -m benchmarks.https_fetch --hosts FILE --https-port P --ca-bundle PEM [--count N]``
where FILE has ``domain address`` lines.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from benchmarks.naive_scanner import cpu_seconds
from survey.probes.https import HttpsConfig, PolicyFetcher
from survey.probes.net import AddressGuard, DestinationLimiter

#: The scan's default per-destination connection cap (``ScanConfig.per_destination``; a test
#: keeps them equal: importing the scan here would add pyarrow to this process's RSS).
PER_DESTINATION = 4


async def fetch_policies(targets: Sequence[tuple[str, str]], port: int, ca_bundle: Path,
                         concurrency: int, per_destination: int, warm_up: bool
                         ) -> tuple[int, int, float, float]:
    """Fetch every target's policy; (fetches, ok, wall s, CPU s) of the timed pass.

    ``warm_up`` first fetches each distinct host once: the test internet makes a host's
    certificate on its first handshake, a cost that is the server's, not the client's.
    """
    config = HttpsConfig(port=port, ca_bundle=ca_bundle)
    fetcher = PolicyFetcher(config, guard=AddressGuard(allow_private=True),
                            destinations=DestinationLimiter(per_destination))
    ok = 0

    async def worker(receive: trio.MemoryReceiveChannel[tuple[str, str]]) -> None:
        nonlocal ok
        async with receive:
            async for domain, address in receive:
                result = await fetcher.fetch(domain, (address,))
                ok += result.body is not None and result.http_status == 200

    async def fetch_all(batch: Sequence[tuple[str, str]]) -> None:
        send, receive = trio.open_memory_channel[tuple[str, str]](concurrency)
        async with trio.open_nursery() as nursery:
            for _ in range(concurrency):
                nursery.start_soon(worker, receive.clone())
            receive.close()
            async with send:
                for target in batch:
                    await send.send(target)

    async with fetcher:
        if warm_up:
            await fetch_all(list(dict.fromkeys(targets)))
        ok = 0
        started, cpu = trio.current_time(), cpu_seconds()
        await fetch_all(targets)
        return len(targets), ok, trio.current_time() - started, cpu_seconds() - cpu


def targets_from(lines: Sequence[str], count: int, distinct: int) -> list[tuple[str, str]]:
    """``count`` (domain, address) targets cycling through the first ``distinct`` lines."""
    pool = [(d, a) for d, a in (line.split() for line in lines[:distinct] if line.strip())]
    return (pool * (count // max(len(pool), 1) + 1))[:count] if pool else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.https_fetch", description=__doc__)
    parser.add_argument("--hosts", type=Path, required=True, help="'domain address' lines")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--ca-bundle", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--per-destination", type=int, default=PER_DESTINATION)
    parser.add_argument("--distinct", type=int, default=200, help="hosts cycled through")
    parser.add_argument("--warm-up", action=argparse.BooleanOptionalAction, default=True)
    # the world's other scan options (--smtp-port, --allow-private, ...) are accepted, unused
    args, _ = parser.parse_known_args(argv)
    targets = targets_from(args.hosts.read_text().splitlines(), args.count, args.distinct)
    fetches, ok, wall, cpu = trio.run(fetch_policies, targets, args.https_port, args.ca_bundle,
                                      args.concurrency, args.per_destination, args.warm_up)
    print(f"{fetches} fetches ({ok} ok) in {wall:.3f} s, CPU {cpu:.3f} s: "
          f"{fetches / wall if wall else 0:,.0f} fetches/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
