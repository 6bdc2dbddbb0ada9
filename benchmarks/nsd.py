"""NSD on loopback serving the benchmark's world (its zones written by
``survey.sim.zonefile.export_world``), on a port free for both UDP and TCP."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from benchmarks.dns_server import answering

#: NSD listens here (a 127/8 address of its own, so that nothing else collides with it).
NSD_ADDRESS = "127.53.0.2"


def free_udp_tcp_port(address: str) -> int:
    """A port free for both UDP and TCP on ``address`` (NSD listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
                return port
    raise OSError(f"no free UDP+TCP port on {address}")


@contextlib.contextmanager
def nsd(conf: Path, address: str, port: int, probe_name: str,
        cpu: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run NSD in the foreground for the ``with`` block; yields once it answers.

    ``cpu``: pin NSD (its one server process and helpers) to that core with ``taskset``, so
    that where the DNS server runs is the same in every run; None leaves it to the scheduler.
    """
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    with answering([*pin, "nsd", "-d", "-c", str(conf)], address, port, probe_name, name="nsd",
                   wait_s=120, output=lambda p: p.stderr.read().decode() if p.stderr else "",
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        yield proc
