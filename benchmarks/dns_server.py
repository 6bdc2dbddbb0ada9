"""A DNS server process (NSD, dnsdist, Unbound) for the ``with`` block: started, asked until it
answers, terminated (killed after 10 s) on the way out, whatever happened in between."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence


@contextlib.contextmanager
def answering(argv: Sequence[str], address: str, port: int, probe_name: str, *, name: str,
              wait_s: float, output: Callable[[subprocess.Popen[bytes]], str],
              **popen: object) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv``; yield once ``probe_name`` MX gets an answer from ``address:port``.

    ``output`` says what the process wrote (for the error when it exits before answering);
    ``popen`` goes to ``subprocess.Popen`` (where its output goes).
    """
    import dns.message
    import dns.query

    proc = subprocess.Popen(list(argv), **popen)  # type: ignore[call-overload]
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {output(proc)[-2000:]}")
            with contextlib.suppress(Exception):
                dns.query.udp(dns.message.make_query(probe_name, "MX"), address, timeout=0.5,
                              port=port)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer within {wait_s:g} s")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
