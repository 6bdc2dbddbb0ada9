"""dnsdist in front of a DNS server on loopback: a fixed delay on every UDP answer and a share
of queries dropped, so that a benchmark meets the internet's latency and loss.

Why dnsdist (Debian's ``dnsdist``, installed by ``make bench`` through ``.ci/apt-install``): it
delays and drops per query by rule (``DelayAction``, ``ProbaRule`` + ``DropAction``) at more
than ten thousand queries/s on this machine, where a Python proxy would be the bottleneck it
measures. No packet cache, so every query reaches the server behind it; it listens on a 127.x
address only, and its console is off.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.dns_server import answering

#: dnsdist listens here (an address of its own beside NSD's 127.53.0.2).
DNSDIST_ADDRESS = "127.53.0.3"


@dataclass(frozen=True, slots=True)
class Impairment:
    """What the path adds: a fixed delay (ms) on every UDP answer and a drop probability."""

    delay_ms: int = 0
    loss: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.delay_ms}ms-{self.loss * 100:g}pct"


def config(listen: tuple[str, int], backend: tuple[str, int], impairment: Impairment) -> str:
    """The Lua configuration: one backend, the drop rule first (a dropped query is not
    delayed), then the delay rule; health checks rare (NSD refuses their root query)."""
    rules = []
    if impairment.loss > 0:
        rules.append(f"addAction(ProbaRule({impairment.loss}), DropAction())")
    if impairment.delay_ms > 0:
        rules.append(f"addAction(AllRule(), DelayAction({impairment.delay_ms}))")
    return "\n".join([
        f'setLocal("{listen[0]}:{listen[1]}")',
        "setMaxUDPOutstanding(65535)",
        f'newServer({{address="{backend[0]}:{backend[1]}", name="backend", '
        'checkInterval=3600, sockets=4})',
        "setServerPolicy(firstAvailable)",
        *rules,
        "",
    ])


def available() -> bool:
    return shutil.which("dnsdist") is not None or Path("/usr/bin/dnsdist").exists()


@contextlib.contextmanager
def serve(work: Path, listen: tuple[str, int], backend: tuple[str, int],
          impairment: Impairment, probe_name: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run dnsdist in the foreground for the ``with`` block; yields once it answers
    (``probe_name`` asked until an answer passes the drop rule)."""
    work.mkdir(parents=True, exist_ok=True)
    conf = work / f"dnsdist-{impairment.label}.conf"
    conf.write_text(config(listen, backend, impairment))
    log = work / f"dnsdist-{impairment.label}.log"  # its messages go to stdout
    with log.open("wb") as out, answering(
            ["dnsdist", "--supervised", "--disable-syslog", "-C", str(conf)], listen[0],
            listen[1], probe_name, name="dnsdist", wait_s=60,
            output=lambda _: log.read_text(errors="replace"), stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT) as proc:
        yield proc
