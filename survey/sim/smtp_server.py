"""The test internet's MX hosts: just enough ESMTP for a STARTTLS probe (RFC 5321, RFC 3207).

A listener plays one ``SmtpBehaviour`` for every MX host routed to its address: STARTTLS hosts
offer STARTTLS and pick the certificate by SNI (the host's ``CertKind``; no SNI or an unknown name
gets the default certificate for ``unknown.invalid``; a host with DANE-TA or PKIX-TA TLSA
records presents its issuer after the leaf), NO_STARTTLS hosts never offer it and answer
``STARTTLS`` with 502, TARPIT accepts and stays silent. REFUSED needs no server: nothing listens.
No mail is ever accepted. Lines are bounded, each connection has a deadline, and whatever the
client sent in plaintext after ``STARTTLS`` is discarded (no command injection across the switch).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from functools import partial

import trio

from survey.sim.ca import UNKNOWN_NAME, TestCA
from survey.sim.https_server import CLIENT_ERRORS, hold, open_loopback_listeners
from survey.sim.scenario import CertKind, MxHost, SmtpBehaviour

log = logging.getLogger(__name__)

#: Longest command line including CRLF (RFC 5321 §4.5.3.1.4 says 512; be lenient).
MAX_LINE = 1000
#: Longest a session may live, whatever the client does.
CONNECTION_DEADLINE = 60.0
#: Commands per session before the server gives up on a client.
MAX_COMMANDS = 100
_READ_SIZE = 4096


class LineTooLong(Exception):
    """The client sent more than ``MAX_LINE`` bytes without a line break."""


class LineReader:
    """CRLF (or bare LF) terminated lines from a stream, never buffering more than needed."""

    def __init__(self, stream: trio.abc.ReceiveStream, limit: int = MAX_LINE) -> None:
        self._stream = stream
        self._limit = limit
        self._buffer = bytearray()

    async def line(self) -> bytes | None:
        """The next line without its terminator; None at EOF (a partial last line is dropped)."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[:end + 1]
                return line.removesuffix(b"\r")
            if len(self._buffer) >= self._limit:
                raise LineTooLong
            data = await self._stream.receive_some(min(_READ_SIZE, self._limit))
            if not data:
                return None
            self._buffer += data


def ehlo_reply(name: str, client: str, *, starttls: bool) -> bytes:
    """Multi-line 250 reply to EHLO; STARTTLS listed only when it may be used now."""
    lines = [f"{name} greets {client or 'client'}", "8BITMIME", "ENHANCEDSTATUSCODES"]
    if starttls:
        lines.append("STARTTLS")
    lines.append("HELP")
    return reply(250, *lines)


def reply(code: int, *lines: str) -> bytes:
    last = len(lines) - 1
    return b"".join(f"{code}{' ' if i == last else '-'}{text}\r\n".encode()
                    for i, text in enumerate(lines))


class SmtpServer:
    """Serves ``hosts`` (keyed by MX host name); each listener plays one behaviour."""

    def __init__(self, ca: TestCA, hosts: Mapping[str, MxHost], *,
                 name: str = "mx.sim.invalid") -> None:
        self._ca = ca
        self._hosts = hosts
        #: hosts whose chain must hold the trust anchor their TLSA records name (RFC 7671 §5.2.2)
        self._chained = frozenset(name for name, host in hosts.items()
                                  if any(t.usage in (0, 2) for t in host.tlsa))
        self.name = name  # the banner and EHLO name (one listener serves many MX names)
        self.deadline = CONNECTION_DEADLINE
        self.session_count = 0
        self.handshake_count = 0  # completed STARTTLS handshakes
        self._context = ca.new_context(UNKNOWN_NAME, CertKind.VALID)
        self._context.sni_callback = self._on_sni

    def _on_sni(self, ssl_object: ssl.SSLObject | ssl.SSLSocket, server_name: str | None,
                _context: ssl.SSLContext) -> None:
        if server_name is None:
            return
        name = server_name.lower().rstrip(".")
        host = self._hosts.get(name)
        if host is not None:
            ssl_object.context = self._ca.server_context(name, host.cert,
                                                         chain=name in self._chained)

    async def serve(self, address: str, port: int, behaviour: SmtpBehaviour, *,
                    task_status: trio.TaskStatus[list[trio.SocketListener]]
                    = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on (address, port) until cancelled; ``started`` reports the listeners."""
        if behaviour is SmtpBehaviour.REFUSED:
            raise ValueError("SmtpBehaviour.REFUSED means nothing listens: start no server")
        listeners = await open_loopback_listeners(address, port)
        if behaviour is SmtpBehaviour.TARPIT:
            await trio.serve_listeners(hold, listeners, task_status=task_status)
        handler = partial(self._handle, starttls=behaviour is SmtpBehaviour.STARTTLS)
        await trio.serve_listeners(handler, listeners, task_status=task_status)

    async def _handle(self, stream: trio.SocketStream, *, starttls: bool) -> None:
        self.session_count += 1
        try:
            with trio.move_on_after(self.deadline):
                await self._session(stream, starttls=starttls)
        except (*CLIENT_ERRORS, LineTooLong):
            pass
        except Exception:  # a bug here must not stop the listener for every other host
            log.exception("SMTP session failed")
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()  # idempotent after the TLS close on QUIT

    async def _session(self, stream: trio.SocketStream, *, starttls: bool) -> None:
        """Talk SMTP until QUIT, EOF or too many commands."""
        tls = trio.SSLStream(stream, self._context, server_side=True)
        current: trio.abc.Stream = stream
        reader = LineReader(current)
        upgraded = False
        await current.send_all(reply(220, f"{self.name} ESMTP test"))
        for _ in range(MAX_COMMANDS):
            try:
                line = await reader.line()
            except LineTooLong:
                await current.send_all(reply(500, "5.5.6 Line too long"))
                raise
            if line is None:
                return
            verb, _, argument = line.decode("latin-1").strip().partition(" ")
            match verb.upper():
                case "EHLO":
                    await current.send_all(ehlo_reply(self.name, argument.strip(),
                                                      starttls=starttls and not upgraded))
                case "HELO":
                    await current.send_all(reply(250, self.name))
                case "STARTTLS" if starttls and not upgraded:
                    await current.send_all(reply(220, "Ready to start TLS"))
                    upgraded = True
                    await tls.do_handshake()
                    self.handshake_count += 1
                    current, reader = tls, LineReader(tls)  # drop pipelined plaintext
                case "STARTTLS" if upgraded:
                    await current.send_all(reply(503, "5.5.1 TLS already active"))
                case "STARTTLS":
                    await current.send_all(reply(502, "5.5.1 STARTTLS not supported"))
                case "NOOP" | "RSET":
                    await current.send_all(reply(250, "2.0.0 OK"))
                case "QUIT":
                    await current.send_all(reply(221, "2.0.0 Bye"))
                    if upgraded:
                        await tls.aclose()  # close_notify, then the socket
                    return
                case "MAIL" | "RCPT" | "DATA" | "BDAT":
                    await current.send_all(reply(554, "5.7.1 This test host accepts no mail"))
                case _:
                    await current.send_all(reply(500, "5.5.2 Command not recognized"))
        await current.send_all(reply(421, "4.7.0 Too many commands"))
