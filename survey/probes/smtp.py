"""The SMTP STARTTLS probe: banner, EHLO, STARTTLS and a verified handshake to one MX host.

What an MTA-STS sender does before delivering (RFC 8461 §4.2), and no more: no MAIL FROM, and a
polite QUIT. Everything the server sends is bounded (``max_line`` bytes per line, ``max_lines``
per reply, one overall deadline), because a survey meets tarpits and endless banners. The
handshake uses SNI and checks the certificate against the MX host name, as MTA-STS requires;
when that check fails, the reason is classified and the certificate read by a second session
without verification, so that the row says what the server presented.

Plain trio sockets and ``trio.SSLStream``: smtplib is blocking and would need a thread per probe.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import trio

from survey.core.observations import Certificate, FetchError, SmtpProbe
from survey.probes import tls
from survey.probes.connect import Connector, NoAddress, choose_address, is_refused
from survey.probes.net import AddressGuard, DestinationLimiter

#: Longest banner text kept in a row.
MAX_BANNER = 1000


def _default_ehlo_name() -> str:
    """This host's name (no DNS lookup at import); scans should set ``--ehlo-name``."""
    return socket.gethostname() or "localhost"


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    port: int = 25
    timeout: float = 15.0  # one overall deadline per probe
    connect_timeout: float = 5.0
    ehlo_name: str = field(default_factory=_default_ehlo_name)
    ca_bundle: Path | None = None  # extra trust anchors
    max_line: int = 1000  # bytes per reply line, CRLF included (RFC 5321 says 512)
    max_lines: int = 100  # lines per reply


class SmtpFailure(Exception):
    """A probe outcome that ends the session (not a bug): carries the row's error."""

    def __init__(self, error: FetchError, detail: str) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail[: tls.MAX_DETAIL]


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    lines: tuple[str, ...]  # text after the code and separator, one per line

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def parse_reply_line(line: bytes) -> tuple[int, bool, str]:
    """``250-SIZE`` -> (250, more lines follow, "SIZE"); raises SmtpFailure if malformed."""
    text = line.decode("latin-1").rstrip("\r\n")
    code, sep, rest = text[:3], text[3:4], text[4:]
    if not (code.isascii() and code.isdigit() and code[0] in "2345") or sep not in ("-", " ", ""):
        raise SmtpFailure(FetchError.PROTOCOL_ERROR, f"malformed reply line: {text[:80]!r}")
    return int(code), sep == "-", rest


def capabilities(ehlo: Reply) -> frozenset[str]:
    """EHLO keywords (upper case), from the lines after the greeting line."""
    return frozenset(line.split()[0].upper() for line in ehlo.lines[1:] if line.split())


class ReplyReader:
    """Reads SMTP replies from a stream, never buffering more than one line's bound."""

    def __init__(self, stream: trio.abc.ReceiveStream, max_line: int, max_lines: int) -> None:
        self.stream = stream
        self.max_line = max_line
        self.max_lines = max_lines
        self._buffer = bytearray()

    async def line(self) -> bytes:
        while True:
            end = self._buffer.find(b"\n")
            if 0 <= end < self.max_line:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if end >= self.max_line or len(self._buffer) >= self.max_line:
                raise SmtpFailure(FetchError.PROTOCOL_ERROR,
                                  f"reply line longer than {self.max_line} bytes")
            chunk = await self.stream.receive_some(self.max_line)
            if not chunk:
                raise SmtpFailure(FetchError.CONNECTION_CLOSED, "connection closed by server")
            self._buffer += chunk

    async def reply(self) -> Reply:
        lines: list[str] = []
        first: int | None = None
        while len(lines) < self.max_lines:
            code, more, text = parse_reply_line(await self.line())
            if first is not None and code != first:
                raise SmtpFailure(FetchError.PROTOCOL_ERROR,
                                  f"reply code changed from {first} to {code} mid-reply")
            first = code
            lines.append(text)
            if not more:
                return Reply(code, tuple(lines))
        raise SmtpFailure(FetchError.PROTOCOL_ERROR, f"reply longer than {self.max_lines} lines")


@dataclass(slots=True)
class _Record:
    """What one session saw so far (a deadline may cut it anywhere)."""

    connected: bool = False
    banner: str | None = None
    starttls_offered: bool | None = None
    tls_version: str | None = None
    certificate: Certificate | None = None
    error: FetchError | None = None
    detail: str | None = None
    chain: tuple[bytes, ...] = ()  # as presented, for DANE (issue 16)


class SmtpProber:
    """STARTTLS probes sharing one guard, one destination limiter and the TLS contexts."""

    def __init__(self, config: SmtpConfig, *, guard: AddressGuard,
                 destinations: DestinationLimiter) -> None:
        self.config = config
        self.connector = Connector(guard, destinations, deadline=config.timeout,
                                   ca_bundle=config.ca_bundle)

    async def __aenter__(self) -> SmtpProber:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        return None

    async def probe(self, host: str, addresses: Sequence[str]) -> SmtpProbe:
        """Probe ``host`` at its first allowed address; never raises."""
        address = choose_address(self.connector.guard, addresses)
        if isinstance(address, NoAddress):
            return SmtpProbe(host=host, error=address.error, error_detail=address.detail)
        record = _Record()

        async def session() -> None:
            await self._session(host, address, record)

        elapsed_ms = await self.connector.bounded(address, record, session)
        return SmtpProbe(
            host=host, address=address, error=record.error, error_detail=record.detail,
            banner=record.banner, starttls_offered=record.starttls_offered,
            tls_version=record.tls_version, certificate=record.certificate,
            elapsed_ms=elapsed_ms, chain=record.chain,
        )

    async def _session(self, host: str, address: str, record: _Record) -> None:
        try:
            stream = await self._starttls(host, address, record, self.connector.verifying)
        except SmtpFailure as failure:
            record.error, record.detail = failure.error, failure.detail
            return
        except ssl.SSLCertVerificationError as exc:
            record.error, record.detail = tls.classify_verify_error(exc), tls.verify_detail(exc)
            record.certificate, record.chain = await self._read_certificate(host, address)
            return
        except ssl.SSLError as exc:
            record.error, record.detail = FetchError.HANDSHAKE_ERROR, tls.detail(exc)
            return
        except trio.BrokenResourceError as exc:
            record.error, record.detail = FetchError.CONNECTION_CLOSED, tls.detail(exc)
            return
        ssl_object = tls.ssl_object_of(stream)
        record.tls_version = tls.tls_version(ssl_object)
        record.certificate = tls.peer_certificate(ssl_object)
        record.chain = tls.presented_chain(ssl_object)
        await _quit(stream, ReplyReader(stream, self.config.max_line, self.config.max_lines))

    async def _connect(self, address: str, record: _Record) -> trio.SocketStream:
        with trio.move_on_after(self.config.connect_timeout):
            try:
                stream = await trio.open_tcp_stream(address, self.config.port)
            except OSError as exc:
                refused = is_refused(exc)
                error = FetchError.CONNECTION_REFUSED if refused else FetchError.UNKNOWN_ERROR
                raise SmtpFailure(error, tls.detail(exc)) from exc
            record.connected = True
            return stream
        raise SmtpFailure(FetchError.CONNECTION_TIMEOUT,
                          f"no connection within {self.config.connect_timeout:g} s")

    async def _starttls(self, host: str, address: str, record: _Record,
                        context: ssl.SSLContext) -> trio.SSLStream[trio.SocketStream]:
        """Connect, banner, EHLO, STARTTLS, handshake; the TLS stream or an exception."""
        config = self.config
        stream = await self._connect(address, record)
        reader = ReplyReader(stream, config.max_line, config.max_lines)
        try:
            banner = await reader.reply()
            record.banner = banner.text[:MAX_BANNER]
            if banner.code != 220:
                raise SmtpFailure(FetchError.PROTOCOL_ERROR,
                                  f"banner {banner.code}: {banner.text}")
            await stream.send_all(f"EHLO {config.ehlo_name}\r\n".encode("ascii", "replace"))
            ehlo = await reader.reply()
            if ehlo.code != 250:
                await _quit(stream, reader)
                raise SmtpFailure(FetchError.STARTTLS_NOT_SUPPORTED,
                                  f"EHLO refused {ehlo.code}: {ehlo.text}")
            record.starttls_offered = "STARTTLS" in capabilities(ehlo)
            if not record.starttls_offered:
                await _quit(stream, reader)
                raise SmtpFailure(FetchError.STARTTLS_NOT_SUPPORTED,
                                  "STARTTLS not in the EHLO capabilities")
            await stream.send_all(b"STARTTLS\r\n")
            answer = await reader.reply()
            if answer.code != 220:
                await _quit(stream, reader)
                raise SmtpFailure(FetchError.STARTTLS_NOT_SUPPORTED,
                                  f"STARTTLS refused {answer.code}: {answer.text}")
            # Plaintext sent after the 220 is dropped with the reader: an on-path attacker
            # could have injected it (STARTTLS response injection); only the handshake follows.
            return await tls.handshake(stream, context, host, https=False)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise

    async def _read_certificate(self, host: str, address: str
                                ) -> tuple[Certificate | None, tuple[bytes, ...]]:
        """A second session without verification, to record the certificate that failed (and
        the chain: DANE authenticates it without the PKIX checks that failed)."""
        try:
            stream = await self._starttls(host, address, _Record(), self.connector.unverified)
        except (SmtpFailure, ssl.SSLError, trio.BrokenResourceError, OSError):
            return None, ()
        ssl_object = tls.ssl_object_of(stream)
        certificate = tls.peer_certificate(ssl_object)
        chain = tls.presented_chain(ssl_object)
        await _quit(stream, ReplyReader(stream, self.config.max_line, self.config.max_lines))
        return certificate, chain


async def _quit(stream: trio.abc.Stream, reader: ReplyReader) -> None:
    """Best-effort QUIT (a second at most); never changes the outcome."""
    with trio.move_on_after(1.0):
        try:
            await stream.send_all(b"QUIT\r\n")
            await reader.reply()
        except (SmtpFailure, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
    await trio.aclose_forcefully(stream)
