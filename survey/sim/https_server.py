"""The test internet's policy web hosts: ``https://mta-sts.<domain>/.well-known/mta-sts.txt``.

One listener serves every policy host on its address, as a hosting provider does: the TLS
ClientHello's SNI picks the host, whose ``CertKind`` picks the certificate (``sni_callback``
swaps in the per-name context); an unknown or missing SNI gets a valid certificate for
``unknown.invalid``. HTTP/1.1 is parsed by ``h11``, one request per connection
(``Connection: close``), so a response never waits on a client's keep-alive.

Each connection runs under its own deadline and every client error ends only that connection:
a scanner under test may hang up mid-handshake, send garbage or never read, and the next
connection must still be served.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import ssl
from collections.abc import Mapping
from http import HTTPStatus

import h11
import trio

from survey.sim.ca import UNKNOWN_NAME, TestCA
from survey.sim.scenario import CertKind, HttpsFault, PolicyHost

log = logging.getLogger(__name__)

POLICY_PATH = b"/.well-known/mta-sts.txt"
#: Longest a connection may live (handshake, request, response), whatever the client does.
CONNECTION_DEADLINE = 60.0
#: Largest request head accepted (h11 buffers at most this much of an incomplete event).
MAX_REQUEST_HEAD = 16 * 1024
#: How long a tarpit holds a silent connection: past any scanner's deadline, yet bounded so that
#: clients that hang up do not pile up open sockets for the life of the world.
TARPIT_HOLD = 300.0
_READ_SIZE = 4096
_NO_BODY = frozenset({204, 304})  # statuses that never carry a body (RFC 9110)
_DRIP_INTERVAL = 1.0
_ENDLESS_CHUNK = b"x" * 16384
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
#: Errors a misbehaving or vanishing client causes; they end its connection only.
CLIENT_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError, OSError)


def response_bytes(host: PolicyHost | None, target: bytes) -> tuple[int, bytes]:
    """Status and wire bytes of the whole response to ``GET target`` (not for ENDLESS_BODY)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.next_event()
    status, headers, body = _response_parts(host, target)
    data = conn.send(h11.Response(status_code=status, headers=headers,
                                  reason=_reason(status))) or b""
    if body and status not in _NO_BODY:
        data += conn.send(h11.Data(data=body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    return status, data


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _response_parts(host: PolicyHost | None,
                    target: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    if host is None or target.split(b"?", 1)[0] != POLICY_PATH:
        body = b"not found\n"
        return 404, _framing(404, len(body), "text/plain"), body
    headers = _framing(host.status, len(host.body), host.content_type)
    headers += list(host.headers)
    if host.location is not None:
        headers.append(("Location", host.location))
    return host.status, headers, host.body


def _framing(status: int, length: int, content_type: str | None) -> list[tuple[str, str]]:
    headers = [("Connection", "close")]
    if status not in _NO_BODY:
        headers.append(("Content-Length", str(length)))
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    return headers


async def open_loopback_listeners(address: str, port: int) -> list[trio.SocketListener]:
    """Listeners on exactly ``address``: the test internet never listens beyond 127.0.0.0/8."""
    try:
        loopback = ipaddress.IPv4Address(address) in LOOPBACK
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the test internet listens on 127.0.0.0/8 only, not {address!r}")
    return await trio.open_tcp_listeners(port, host=address)


class PolicyHttpsServer:
    """Serves ``hosts`` (keyed by ``mta-sts.<domain>``) on any number of listeners."""

    def __init__(self, ca: TestCA, hosts: Mapping[str, PolicyHost]) -> None:
        self._ca = ca
        self._hosts = hosts
        self.request_count = 0
        #: every request's User-Agent header ("" when absent), in arrival order
        self.user_agents: list[str] = []
        self.deadline = CONNECTION_DEADLINE
        self._sni: dict[int, str] = {}  # id(SSLObject) -> SNI, during a handshake
        self._context = ca.new_context(UNKNOWN_NAME, CertKind.VALID)
        self._context.sni_callback = self._on_sni

    def _on_sni(self, ssl_object: ssl.SSLObject | ssl.SSLSocket, server_name: str | None,
                _context: ssl.SSLContext) -> None:
        """Pick the host's certificate; unknown names keep the default one."""
        if server_name is None:
            return
        name = server_name.lower().rstrip(".")
        self._sni[id(ssl_object)] = name
        host = self._hosts.get(name)
        if host is not None:
            ssl_object.context = self._ca.server_context(name, host.cert)

    async def serve(self, address: str, port: int, *,
                    task_status: trio.TaskStatus[list[trio.SocketListener]]
                    = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on (address, port) until cancelled; ``started`` reports the listeners."""
        listeners = await open_loopback_listeners(address, port)
        await trio.serve_listeners(self._handle, listeners, task_status=task_status)

    async def serve_tarpit(self, address: str, port: int, *,
                           task_status: trio.TaskStatus[list[trio.SocketListener]]
                           = trio.TASK_STATUS_IGNORED) -> None:
        """Accept TCP and never read or write (HttpsFault.TARPIT), until cancelled."""
        listeners = await open_loopback_listeners(address, port)
        await trio.serve_listeners(hold, listeners, task_status=task_status)

    async def _handle(self, stream: trio.SocketStream) -> None:
        tls = trio.SSLStream(stream, self._context, server_side=True, https_compatible=True)
        try:
            with trio.move_on_after(self.deadline):
                await self._exchange(tls)
        except CLIENT_ERRORS:
            pass
        except Exception:  # a bug here must not stop the listener for every other host
            log.exception("policy host connection failed")
        finally:
            with trio.move_on_after(1) as scope:
                scope.shield = True
                await _close_quietly(tls)

    async def _exchange(self, tls: trio.SSLStream[trio.SocketStream]) -> None:
        ssl_id = id(tls._ssl_object)
        try:
            await tls.do_handshake()
        finally:
            sni = self._sni.pop(ssl_id, None)
        request = await _read_request(tls)
        if request is None:
            return
        self.request_count += 1
        self.user_agents.append(next((v.decode("latin-1") for k, v in request.headers
                                      if k == b"user-agent"), ""))
        name = sni or _host_header(request)
        host = self._hosts.get(name) if name else None
        fault = host.fault if host is not None else None
        if fault is HttpsFault.ENDLESS_BODY:
            await _send_endless(tls)
            return
        _status, data = response_bytes(host, request.target)
        if fault is HttpsFault.SLOW_DRIP:
            for i in range(len(data)):
                await tls.send_all(data[i:i + 1])
                await trio.sleep(_DRIP_INTERVAL)
        else:
            await tls.send_all(data)


async def hold(stream: trio.SocketStream) -> None:
    """Tarpit handler: keep the connection open and silent (``TARPIT_HOLD``, or until cancelled)."""
    async with stream:
        await trio.sleep(TARPIT_HOLD)


async def _read_request(tls: trio.SSLStream[trio.SocketStream]) -> h11.Request | None:
    """The request head, or None when the client closed first."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await tls.receive_some(_READ_SIZE)))
        elif isinstance(event, h11.Request):
            return event
        else:  # ConnectionClosed (or PAUSED, which cannot precede a request)
            return None


def _host_header(request: h11.Request) -> str | None:
    for name, value in request.headers:
        if name == b"host":
            return value.decode("ascii", "replace").rsplit(":", 1)[0].lower().rstrip(".")
    return None


async def _send_endless(tls: trio.SSLStream[trio.SocketStream]) -> None:
    """200 with a chunked body that goes on until the client hangs up (or the deadline)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.next_event()
    head = conn.send(h11.Response(status_code=200, headers=[
        ("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked"),
        ("Connection", "close")])) or b""
    await tls.send_all(head)
    chunk = conn.send(h11.Data(data=_ENDLESS_CHUNK)) or b""
    while True:
        await tls.send_all(chunk)


async def _close_quietly(tls: trio.SSLStream[trio.SocketStream]) -> None:
    with contextlib.suppress(*CLIENT_ERRORS):
        await tls.aclose()
