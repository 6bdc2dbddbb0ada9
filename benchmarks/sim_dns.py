"""Queries per second of the test internet's DNS server (``make bench``; not a timed test).

The server runs alone in a child process (one core); this process sends the four lookups of
each domain of a generated world over UDP with a window of outstanding queries, from pre-encoded
datagrams so that the client is not the bottleneck, and prints the rate of answered queries.
Usage: ``python -m benchmarks.sim_dns [--domains N] [--queries Q] [--window W]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import selectors
import socket
import struct
import time

import trio

from survey.sim.dns_server import AddressPlan, DnsServer, build_zone, name_wire
from survey.sim.generator import generate_world

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=64)
    args = parser.parse_args()
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(args.domains, child))
    proc.start()
    try:
        port = parent.recv()
        wires = queries(args.domains)
        blast(port, wires, min(2000, args.queries), args.window)  # warm-up
        answered, lost, seconds = blast(port, wires, args.queries, args.window)
        print(f"sim DNS server: {answered / seconds:,.0f} queries/s ({answered:,} answered, "
              f"{lost:,} lost, {args.domains:,}-domain world, window {args.window}; the first "
              f"{4 * args.domains:,} queries are distinct, later ones hit the answer cache)")
    finally:
        parent.send("stop")
        proc.join(10)


if __name__ == "__main__":
    main()
