"""Hostile hosts for the test internet: servers that attack or stall the scanner, by behaviour.

The ordinary policy and MX hosts (``https_server``, ``smtp_server``) misbehave politely; these do
what a survey meets in the wild: TLS garbage, a stalled handshake, bodies that never end or are
10 MB long, endless headers, a gzip bomb, a reset mid-body, an endless SMTP banner, an MX that
never answers EHLO, STARTTLS refused. Each behaviour has one server on its own loopback address
(``address_of``), listening on the world's HTTPS or SMTP port, and counts the connections it
accepted, so a test can also prove that a host was *not* contacted. Scenarios point at them
through ``PolicyHost.address_override`` (HTTPS) and ``HostilePlan`` (MX hosts), so the existing
servers need no change. ``EXPECTED_ERROR`` is the row's error category each behaviour must yield.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import trio

from survey.sim.background import in_background
from survey.sim.ca import UNKNOWN_NAME, TestCA
from survey.sim.dns_server import AddressPlan
from survey.sim.generator import policy_body
from survey.sim.https_server import open_loopback_listeners
from survey.sim.scenario import CertKind, MxHost, PolicyHost, Scenario, World
from survey.sim.world import RunningWorld, start_world

#: How long a stalling server holds a connection: past any scanner deadline, yet bounded.
HOLD = 120.0
#: Largest request head read before answering (the scanner's is a few hundred bytes).
MAX_REQUEST = 16 * 1024
HUGE_BODY = 10 * 1024 * 1024
#: Inflated size of the gzip bomb: deflate's ~1000:1 puts about 256 KiB on the wire.
BOMB_INFLATED = 256 * 1024 * 1024
_CHUNK = b"x" * 16384
STS_ID = "hostile1"


class Hostile(StrEnum):
    # HTTPS policy hosts
    TLS_GARBAGE = "tls_garbage"  # non-TLS bytes right after accept
    HANDSHAKE_STALL = "handshake_stall"  # reads the ClientHello, never answers
    ENDLESS_BODY = "endless_body"  # 200, no length, a body that never ends
    HUGE_BODY = "huge_body"  # 200 with a 10 MB body
    HEADER_FLOOD = "header_flood"  # a status line, then headers forever
    GZIP_BOMB = "gzip_bomb"  # Content-Encoding: gzip, ~256 KiB on the wire, 256 MiB inflated
    RESET_MID_BODY = "reset_mid_body"  # part of the body, then a TCP RST (SO_LINGER 0)
    # SMTP MX hosts
    ENDLESS_BANNER = "endless_banner"  # "220-" continuation lines forever
    SILENT_EHLO = "silent_ehlo"  # a banner, then never a reply to EHLO
    STARTTLS_REFUSED = "starttls_refused"  # offers STARTTLS, answers it with 454

    @property
    def is_smtp(self) -> bool:
        return self in SMTP_BEHAVIOURS


SMTP_BEHAVIOURS = frozenset({Hostile.ENDLESS_BANNER, Hostile.SILENT_EHLO,
                             Hostile.STARTTLS_REFUSED})
HTTPS_BEHAVIOURS = tuple(b for b in Hostile if b not in SMTP_BEHAVIOURS)

#: behaviour -> the row's ``https_error`` (HTTPS behaviours) or ``smtp[0].error`` (SMTP ones).
#: Bodies past the cap are no transport error: they are cut, and ``policy_truncated`` is set.
EXPECTED_ERROR: dict[Hostile, str | None] = {
    Hostile.TLS_GARBAGE: "handshake-error",
    Hostile.HANDSHAKE_STALL: "io-timeout",
    Hostile.ENDLESS_BODY: None,
    Hostile.HUGE_BODY: None,
    Hostile.HEADER_FLOOD: "protocol-error",
    Hostile.GZIP_BOMB: None,
    Hostile.RESET_MID_BODY: "connection-closed",
    Hostile.ENDLESS_BANNER: "protocol-error",
    Hostile.SILENT_EHLO: "io-timeout",
    Hostile.STARTTLS_REFUSED: "starttls-not-supported",
}


def address_of(behaviour: Hostile) -> str:
    """The loopback address of ``behaviour``'s server (127.66.0.x HTTPS, 127.67.0.x SMTP)."""
    index = list(Hostile).index(behaviour) + 1
    return f"127.67.0.{index}" if behaviour.is_smtp else f"127.66.0.{index}"


@functools.cache
def gzip_bomb() -> bytes:
    """A gzip member inflating to ``BOMB_INFLATED`` zero bytes (made once, about 0.5 s)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(BOMB_INFLATED // len(block))]
    return b"".join(parts) + compressor.flush()


# --- the servers -------------------------------------------------------------------------------

@dataclass(slots=True)
class HostileServer:
    """One behaviour on (address, port); ``connections`` counts every accepted connection."""

    behaviour: Hostile
    address: str
    port: int
    ca: TestCA = field(repr=False)
    connections: int = 0
    _context: ssl.SSLContext | None = field(default=None, repr=False)

    def _tls_context(self) -> ssl.SSLContext:
        if self._context is None:
            context = self.ca.new_context(UNKNOWN_NAME, CertKind.VALID)

            def on_sni(ssl_object: ssl.SSLObject | ssl.SSLSocket, name: str | None,
                       _context: ssl.SSLContext) -> None:
                if name:  # a valid certificate for whatever name was asked
                    ssl_object.context = self.ca.server_context(name, CertKind.VALID)

            context.sni_callback = on_sni
            self._context = context
        return self._context

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        listeners = await open_loopback_listeners(self.address, self.port)
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            task_status.started()

    async def _handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        try:
            with trio.move_on_after(HOLD):
                await _HANDLERS[self.behaviour](self, stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the scanner hung up: what it should do with these hosts
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def _https(self, stream: trio.SocketStream) -> trio.SSLStream[trio.SocketStream]:
        """TLS handshake and the request head (read, not parsed: every request is answered)."""
        tls = trio.SSLStream(stream, self._tls_context(), server_side=True,
                             https_compatible=True)
        await tls.do_handshake()
        head = b""
        while b"\r\n\r\n" not in head and len(head) < MAX_REQUEST:
            data = await tls.receive_some(4096)
            if not data:
                raise trio.BrokenResourceError("client closed")
            head += data
        return tls


async def _tls_garbage(server: HostileServer, stream: trio.SocketStream) -> None:
    await stream.send_all(b"HTTP/1.0 400 not TLS at all\r\n\r\n" + bytes(range(256)) * 8)
    await trio.sleep(1.0)  # let the client read it before the close


async def _handshake_stall(server: HostileServer, stream: trio.SocketStream) -> None:
    await stream.receive_some(65536)  # the ClientHello
    await trio.sleep(HOLD)


async def _endless_body(server: HostileServer, stream: trio.SocketStream) -> None:
    tls = await server._https(stream)
    await tls.send_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
    while True:
        await tls.send_all(_CHUNK)


async def _huge_body(server: HostileServer, stream: trio.SocketStream) -> None:
    tls = await server._https(stream)
    await tls.send_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                       b"Content-Length: %d\r\nConnection: close\r\n\r\n" % HUGE_BODY)
    for _ in range(HUGE_BODY // len(_CHUNK)):
        await tls.send_all(_CHUNK)


async def _header_flood(server: HostileServer, stream: trio.SocketStream) -> None:
    tls = await server._https(stream)
    await tls.send_all(b"HTTP/1.1 200 OK\r\n")
    for n in range(10**9):  # 100 headers (20 KiB) a write: the flood, not the CPU, is the test
        await tls.send_all(b"".join(b"X-Flood-%d-%d: %s\r\n" % (n, i, b"a" * 200)
                                    for i in range(100)))


async def _gzip_bomb(server: HostileServer, stream: trio.SocketStream) -> None:
    tls = await server._https(stream)
    bomb = gzip_bomb()
    await tls.send_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
                       b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(bomb))
    await tls.send_all(bomb)


async def _reset_mid_body(server: HostileServer, stream: trio.SocketStream) -> None:
    tls = await server._https(stream)
    await tls.send_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                       b"Content-Length: 5000\r\nConnection: close\r\n\r\n" + b"version: STSv1\n")
    await trio.sleep(0.2)  # the head reaches the client before the reset
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()  # RST, not FIN


async def _endless_banner(server: HostileServer, stream: trio.SocketStream) -> None:
    while True:
        await stream.send_all(b"220-hostile.invalid welcome, this banner never ends\r\n" * 16)


async def _silent_ehlo(server: HostileServer, stream: trio.SocketStream) -> None:
    await stream.send_all(b"220 hostile.invalid ESMTP\r\n")
    await stream.receive_some(4096)  # EHLO
    await trio.sleep(HOLD)


async def _starttls_refused(server: HostileServer, stream: trio.SocketStream) -> None:
    await stream.send_all(b"220 hostile.invalid ESMTP\r\n")
    replies = [b"250-hostile.invalid\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
               b"454 4.7.0 TLS not available due to temporary reason\r\n"]
    buffer = b""
    while replies:
        data = await stream.receive_some(4096)
        if not data:
            return
        buffer += data
        while b"\n" in buffer and replies:
            _, _, buffer = buffer.partition(b"\n")
            await stream.send_all(replies.pop(0))
    data = await stream.receive_some(4096)  # QUIT, or the client hangs up
    if data:
        await stream.send_all(b"221 2.0.0 Bye\r\n")


_HANDLERS = {
    Hostile.TLS_GARBAGE: _tls_garbage,
    Hostile.HANDSHAKE_STALL: _handshake_stall,
    Hostile.ENDLESS_BODY: _endless_body,
    Hostile.HUGE_BODY: _huge_body,
    Hostile.HEADER_FLOOD: _header_flood,
    Hostile.GZIP_BOMB: _gzip_bomb,
    Hostile.RESET_MID_BODY: _reset_mid_body,
    Hostile.ENDLESS_BANNER: _endless_banner,
    Hostile.SILENT_EHLO: _silent_ehlo,
    Hostile.STARTTLS_REFUSED: _starttls_refused,
}


# --- scenarios and the world around them -------------------------------------------------------

@dataclass(frozen=True, slots=True)
class HostilePlan(AddressPlan):
    """The test internet's address plan, plus MX host names pinned to given addresses."""

    mx_overrides: tuple[tuple[str, str], ...] = ()

    def mx_address(self, host: MxHost) -> str:
        for name, address in self.mx_overrides:
            if name == host.name:
                return address
        return AddressPlan.mx_address(self, host)


def domain_of(behaviour: Hostile, i: int, parent: str = "hostile.test") -> str:
    return f"{behaviour.value.replace('_', '-')}-{i}.{parent}"


def behaviour_of(domain: str) -> Hostile:
    """Inverse of ``domain_of`` (the first label names the behaviour)."""
    return Hostile(domain.split(".", 1)[0].rsplit("-", 1)[0].replace("-", "_"))


def hostile_scenario(behaviour: Hostile, i: int, *, parent: str = "hostile.test",
                     target: str | None = None) -> Scenario:
    """A domain with a valid TXT record whose policy host (HTTPS behaviours) or only MX host
    (SMTP behaviours) is ``behaviour``'s server, or ``target`` when given."""
    d = domain_of(behaviour, i, parent)
    mx = (MxHost(f"mx.{d}"),)
    address = target or address_of(behaviour)
    host = PolicyHost(body=policy_body("enforce", (mx[0].name,)),
                      address_override=None if behaviour.is_smtp else address)
    return Scenario(domain=d, mx=mx, sts_txt=((f"v=STSv1; id={STS_ID}",),), policy_host=host,
                    name=f"hostile_{behaviour.value}")


def hostile_world(per_behaviour: int, behaviours: Iterable[Hostile] = tuple(Hostile), *,
                  parents: Iterable[str] = ("hostile.test",)) -> tuple[World, HostilePlan]:
    """``per_behaviour`` domains of each behaviour under each parent, interleaved, and the plan
    that routes their MX hosts."""
    chosen = list(behaviours)
    scenarios = [hostile_scenario(b, i, parent=p) for p in parents for i in range(per_behaviour)
                 for b in chosen]
    overrides = tuple((s.mx[0].name, address_of(behaviour_of(s.domain)))
                      for s in scenarios if behaviour_of(s.domain).is_smtp)
    return World(tuple(scenarios), extra={"generator": "survey.sim.hostile"}), \
        HostilePlan(mx_overrides=overrides)


@dataclass(slots=True)
class HostileWorld:
    """A running test internet plus one hostile server per behaviour."""

    running: RunningWorld
    servers: dict[Hostile, HostileServer]

    def connections(self) -> dict[Hostile, int]:
        return {b: s.connections for b, s in self.servers.items()}


async def serve_hostile(servers: Iterable[HostileServer], *,
                        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Run ``servers`` until cancelled."""
    async with trio.open_nursery() as nursery:
        for server in servers:
            await nursery.start(functools.partial(server.serve))
        task_status.started()


@contextlib.contextmanager
def start_hostile_world(world: World, directory: Path, *, plan: AddressPlan | None = None,
                        behaviours: Iterable[Hostile] = tuple(Hostile),
                        ) -> Iterator[HostileWorld]:
    """``start_world`` plus the hostile servers (in a second background trio loop)."""
    with start_world(world, directory, plan=plan) as running:
        ca = TestCA(directory / "ca")  # the world's CA, loaded from its directory
        servers = {b: HostileServer(b, address_of(b),
                                    running.smtp_port if b.is_smtp else running.https_port, ca)
                   for b in behaviours}
        with in_background(functools.partial(serve_hostile, servers.values()),
                           name="sim-hostile"):
            yield HostileWorld(running, servers)
