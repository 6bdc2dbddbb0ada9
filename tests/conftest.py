"""Shared fixtures: the catalogue's test internet (one per session) and custom worlds."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import signal
import ssl
import subprocess
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio
from hypothesis import settings

from survey.sim.catalogue import catalogue
from survey.sim.scenario import World
from survey.sim.world import RunningWorld, start_world

WorldFactory = Callable[..., RunningWorld]
Spawn = Callable[..., "subprocess.Popen[Any]"]


def trio_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test under ``trio.run`` (no pytest-trio in the dev dependencies); the one
    copy every test module imports (``from tests.conftest import trio_test``)."""

    @functools.wraps(fn)
    def run(*args: object, **kwargs: object) -> None:
        trio.run(functools.partial(fn, *args, **kwargs))

    return run


def count_calls(monkeypatch: pytest.MonkeyPatch, calls: Counter[str], name: str,
                modules: Iterable[ModuleType]) -> None:
    """Replace ``name`` in each of ``modules`` by a wrapper that adds one to ``calls[name]`` and
    then runs the function it replaced: how the parse-once tests see a second parse."""
    for module in modules:
        original = getattr(module, name)

        def counted(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            calls[name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


def pem_sha256(pem: bytes) -> str:
    """A certificate's SHA-256 fingerprint from its PEM by a route of its own (the ssl module's
    PEM decoding, then hashlib): what the probes' ``sha256`` must equal."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))).hexdigest()


def deadline_bound(deadlines: float, startup: float = 0.0) -> float:
    """An upper bound on the wall-clock time of a correct program that may wait out
    ``deadlines`` seconds of its configured deadlines: twice that, plus 3 s, for what a busy
    2-core machine adds to scheduling, plus ``startup`` (a child interpreter's). Tests about
    *not* reaching a deadline configure a long one and compare with it instead; throughput
    belongs to the benchmarks."""
    return 2 * deadlines + 3.0 + startup

# Hypothesis: in CI (CI=true) the examples are derandomised, so a CI failure replays anywhere
# with the same code; locally they are random and failures are kept in .hypothesis/ (replayed
# first on the next run). HYPOTHESIS_PROFILE picks one by name (`make mutation` uses "ci").
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev"))


@pytest.fixture(scope="session")
def catalogue_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    """Every catalogue scenario served on loopback for the whole session (free ports)."""
    with start_world(World(catalogue()), tmp_path_factory.mktemp("catalogue")) as running:
        yield running


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[WorldFactory]:
    """``make_world(world, **start_world_options)`` starts a world, stopped after the test."""
    with contextlib.ExitStack() as stack:
        count = 0

        def make(world: World, **options: Any) -> RunningWorld:
            nonlocal count
            count += 1
            return stack.enter_context(start_world(world, tmp_path / f"world{count}", **options))

        yield make


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """``spawn(argv, **popen_options)`` starts a process in a session of its own; when the test
    ends, passed or failed, its whole process group (a scan's worker processes too) is killed
    and the process reaped, so a failed assert never leaves a scan running."""
    started: list[subprocess.Popen[Any]] = []

    def start(argv: list[str], **options: Any) -> subprocess.Popen[Any]:
        proc: subprocess.Popen[Any] = subprocess.Popen(argv, start_new_session=True, **options)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


async def bind_udp_tcp_pair(host: str, rcvbuf: int | None = None
                            ) -> tuple[trio.socket.SocketType, trio.socket.SocketType]:
    """A UDP and a TCP socket on the same free port (retrying when TCP finds the port taken),
    for the tests' in-process DNS servers."""
    for _ in range(20):
        udp = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        tcp = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
        if rcvbuf is not None:
            udp.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, rcvbuf)
        await udp.bind((host, 0))
        try:
            await tcp.bind((host, udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        return udp, tcp
    raise OSError("no free UDP+TCP port pair")
