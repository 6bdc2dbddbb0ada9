"""Queries per second of the test internet's DNS server (``make bench``; not a timed test).

The server runs alone in a child process (one core); this process sends the four lookups of
each domain of a generated world over UDP with a window of outstanding queries, from pre-encoded
datagrams so that the client is not the bottleneck, and prints the rate of answered queries.
With ``--nsd`` the same world is exported as zone files (``survey.sim.zonefile``) and NSD
answers instead, for comparison. Usage:
``python -m benchmarks.sim_dns [--domains N] [--queries Q] [--window W] [--nsd]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import selectors
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import trio

from survey.sim.dns_server import AddressPlan, DnsServer, build_zone, name_wire
from survey.sim.generator import generate_world
from survey.sim.zonefile import export_world

ADDRESS = "127.53.0.9"


def _serve(domains: int, conn: multiprocessing.connection.Connection) -> None:
    server = DnsServer(build_zone(generate_world(domains, 1), AddressPlan()))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(server.serve, ADDRESS, 0)
            conn.send(port)
            await trio.to_thread.run_sync(conn.recv)  # any message: stop
            nursery.cancel_scope.cancel()

    trio.run(main)


def queries(domains: int) -> list[bytes]:
    out = []
    world = generate_world(domains, 1)
    for s in world.scenarios:
        for name, qtype in ((f"_mta-sts.{s.domain}", 16), (f"_smtp._tls.{s.domain}", 16),
                            (s.domain, 15), (f"mta-sts.{s.domain}", 1)):
            out.append(b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name_wire(name)
                       + struct.pack("!HH", qtype, 1))
    return out


def blast(port: int, wires: list[bytes], total: int, window: int) -> tuple[int, int, float]:
    """Send ``total`` queries keeping ``window`` outstanding: (answered, lost, seconds)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.connect((ADDRESS, port))
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sent = answered = lost = 0
    start = time.perf_counter()
    deadline = start + 60
    while answered + lost < total and time.perf_counter() < deadline:
        while sent < total and sent - answered - lost < window:
            wire = wires[sent % len(wires)]
            sock.send(struct.pack("!H", sent & 0xFFFF) + wire)
            sent += 1
        if not sel.select(timeout=0.5):
            lost += sent - answered - lost  # whatever is outstanding after 0.5 s is lost
            continue
        while True:
            try:
                sock.recv(4096)
            except BlockingIOError:
                break
            answered += 1
    return answered, lost, time.perf_counter() - start


def _measure(label: str, port: int, args: argparse.Namespace) -> None:
    wires = queries(args.domains)
    blast(port, wires, min(2000, args.queries), args.window)  # warm-up
    answered, lost, seconds = blast(port, wires, args.queries, args.window)
    print(f"{label}: {answered / seconds:,.0f} queries/s ({answered:,} answered, {lost:,} lost, "
          f"{args.domains:,}-domain world, window {args.window}; the first "
          f"{4 * args.domains:,} queries are distinct)")


def _with_python_server(args: argparse.Namespace, measure: Callable[[int], None]) -> None:
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(args.domains, child))
    proc.start()
    try:
        measure(parent.recv())
    finally:
        parent.send("stop")
        proc.join(10)


def _with_nsd(args: argparse.Namespace, measure: Callable[[int], None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((ADDRESS, 0))
            port = probe.getsockname()[1]
        config = export_world(generate_world(args.domains, 1), Path(tmp), address=ADDRESS,
                              port=port)
        proc = subprocess.Popen(["nsd", "-d", "-c", str(config)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0 + args.domains / 100_000)  # zone loading
            measure(port)
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--nsd", action="store_true", help="measure NSD on the exported world")
    args = parser.parse_args()
    if args.nsd:
        _with_nsd(args, lambda port: _measure("NSD (exported world)", port, args))
    else:
        _with_python_server(args, lambda port: _measure("sim DNS server", port, args))


if __name__ == "__main__":
    main()
