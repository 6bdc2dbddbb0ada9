"""The MTA-STS policy fetch: one bounded GET of ``https://mta-sts.<d>/.well-known/mta-sts.txt``.

The scanner resolved ``mta-sts.<d>`` itself, so the request goes to an IP that the address guard
allowed, with SNI and the certificate check on the host name (httpcore's ``sni_hostname``).
Everything an MTA would refuse is recorded, not acted on: redirects are not followed, the body
is read raw (``Accept-Encoding: identity``; a gzip answer is kept compressed) and cut after the
cap plus one byte, and one ``trio.move_on_after`` bounds the whole fetch so that a drip-feeding
server costs at most ``timeout``. Each fetch opens a new TLS connection (``Connection: close``
and no keep-alive pool): a survey contacts each host once, and a connection set up for one
domain's name must never carry another domain's request.

A failed verification is classified from OpenSSL's verify code, and the certificate is then
read by a second handshake without verification under the same deadline.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import trio

from survey import __version__
from survey.core.observations import Certificate, FetchError, HttpsFetch
from survey.core.policy import POLICY_MAX_BYTES
from survey.probes import tls
from survey.probes.connect import Connector, NoAddress, choose_address, is_refused
from survey.probes.net import AddressGuard, DestinationLimiter

WELL_KNOWN = "/.well-known/mta-sts.txt"
#: Without a contact URL; scans pass ``mta-sts-survey/<version> (+<contact>)`` (scan.user_agent).
DEFAULT_USER_AGENT = f"mta-sts-survey/{__version__}"


@dataclass(frozen=True, slots=True)
class HttpsConfig:
    port: int = 443
    timeout: float = 10.0  # one overall deadline per fetch (connect + TLS + request + body)
    connect_timeout: float = 5.0
    max_body: int = POLICY_MAX_BYTES  # at most max_body + 1 bytes are read, then cut
    user_agent: str = DEFAULT_USER_AGENT
    ca_bundle: Path | None = None  # extra trust anchors


def policy_url(domain: str, port: int = 443) -> str:
    host = f"mta-sts.{domain}"
    return f"https://{host}{WELL_KNOWN}" if port == 443 else f"https://{host}:{port}{WELL_KNOWN}"


class _Phases:
    """httpcore trace hook: how far the connection got (decides CONNECTION_* vs IO_TIMEOUT)."""

    def __init__(self) -> None:
        self.connected = False
        self.ssl_object: ssl.SSLObject | None = None  # set once the handshake completed

    async def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self.connected = True
        elif event == "connection.start_tls.complete":
            stream = info.get("return_value")
            if stream is not None:
                self.ssl_object = stream.get_extra_info("ssl_object")


@dataclass(slots=True)
class _Outcome:
    """Mutable accumulator for one fetch (frozen into an ``HttpsFetch`` at the end)."""

    phases: _Phases = field(default_factory=_Phases)
    error: FetchError | None = None
    detail: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    location: str | None = None
    body: bytes | None = None
    body_truncated: bool = False
    tls_version: str | None = None
    certificate: Certificate | None = None
    verify_failed: bool = False

    @property
    def connected(self) -> bool:
        return self.phases.connected


def classify_exception(exc: BaseException, phases: _Phases) -> tuple[FetchError, str]:
    """An httpx/httpcore/ssl/OS failure as a zgrab2-like category plus bounded text."""
    verify = tls.find_verify_error(exc)
    if verify is not None:
        return tls.classify_verify_error(verify), tls.verify_detail(verify)
    text = tls.detail(exc)
    if is_refused(exc):
        return FetchError.CONNECTION_REFUSED, text
    if isinstance(exc, httpx.ConnectTimeout):
        return (FetchError.IO_TIMEOUT if phases.connected else FetchError.CONNECTION_TIMEOUT), text
    if isinstance(exc, httpx.TimeoutException):
        return FetchError.IO_TIMEOUT, text
    if isinstance(exc, httpx.ConnectError):
        if not phases.connected:  # unreachable network, no route, ...: not the server's doing
            return FetchError.UNKNOWN_ERROR, text
        return FetchError.HANDSHAKE_ERROR, text
    if isinstance(exc, httpx.RemoteProtocolError) and "without sending" in str(exc):
        return FetchError.CONNECTION_CLOSED, text
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.CloseError):
        return FetchError.CONNECTION_CLOSED, text
    if isinstance(exc, httpx.ProtocolError | httpx.DecodingError | httpx.InvalidURL):
        return FetchError.PROTOCOL_ERROR, text
    return FetchError.UNKNOWN_ERROR, text


class PolicyFetcher:
    """Fetches policies; an async context manager owning one httpx client and TLS contexts."""

    def __init__(self, config: HttpsConfig, *, guard: AddressGuard,
                 destinations: DestinationLimiter) -> None:
        self.config = config
        self.connector = Connector(guard, destinations, deadline=config.timeout,
                                   ca_bundle=config.ca_bundle)
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> PolicyFetcher:
        self._client = httpx.AsyncClient(
            verify=self.connector.verifying, follow_redirects=False, trust_env=False, http2=False,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
            timeout=httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout),
        )
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, domain: str, addresses: Sequence[str]) -> HttpsFetch:
        """Fetch the policy of ``domain`` from the first allowed address; never raises."""
        url = policy_url(domain, self.config.port)
        address = choose_address(self.connector.guard, addresses)
        if isinstance(address, NoAddress):
            return HttpsFetch(url=url, error=address.error, error_detail=address.detail)
        host = f"mta-sts.{domain}"
        outcome = _Outcome()

        async def session() -> None:
            await self._get(self._client, host, address, outcome)
            if outcome.verify_failed:
                outcome.certificate = await self._read_certificate(host, address)

        elapsed_ms = await self.connector.bounded(address, outcome, session)
        return HttpsFetch(
            url=url, address=address, error=outcome.error, error_detail=outcome.detail,
            http_status=outcome.http_status, content_type=outcome.content_type,
            location=outcome.location, body=outcome.body, body_truncated=outcome.body_truncated,
            tls_version=outcome.tls_version, certificate=outcome.certificate,
            elapsed_ms=elapsed_ms,
        )

    async def _get(self, client: httpx.AsyncClient | None, host: str, address: str,
                   outcome: _Outcome) -> None:
        """The request itself; fills ``outcome`` as far as it gets (a deadline may cut it)."""
        if client is None:
            raise RuntimeError("PolicyFetcher used outside 'async with'")
        config = self.config
        url = f"https://{tls.wrap_address(address)}:{config.port}{WELL_KNOWN}"
        headers = {
            "Host": host if config.port == 443 else f"{host}:{config.port}",
            "User-Agent": config.user_agent,
            "Accept-Encoding": "identity",
            "Accept": "*/*",
            "Connection": "close",
            "Cache-Control": "no-cache",
        }
        timeout = {"connect": config.connect_timeout, "read": config.timeout,
                   "write": config.timeout, "pool": config.timeout}
        try:
            async with client.stream(
                "GET", url, headers=headers,
                extensions={"sni_hostname": host, "timeout": timeout, "trace": outcome.phases},
            ) as response:
                outcome.http_status = response.status_code
                outcome.content_type = response.headers.get("content-type")
                if response.is_redirect or "location" in response.headers:
                    outcome.location = response.headers.get("location")
                outcome.body = b""
                await _read_body(response, config.max_body + 1, outcome)
        except (httpx.HTTPError, OSError) as exc:
            outcome.error, outcome.detail = classify_exception(exc, outcome.phases)
            outcome.verify_failed = outcome.error.is_certificate
        finally:  # also when the deadline cut the request: the handshake may have completed
            if outcome.phases.ssl_object is not None:
                outcome.tls_version = tls.tls_version(outcome.phases.ssl_object)
                outcome.certificate = tls.peer_certificate(outcome.phases.ssl_object)

    async def _read_certificate(self, host: str, address: str) -> Certificate | None:
        """Second handshake without verification, to record the certificate that failed."""
        try:
            stream = await trio.open_tcp_stream(address, self.config.port)
        except OSError:
            return None
        try:
            tls_stream = await tls.handshake(stream, self.connector.unverified, host)
        except (OSError, trio.BrokenResourceError):
            await stream.aclose()
            return None
        try:
            return tls.peer_certificate(tls.ssl_object_of(tls_stream))
        finally:
            with trio.move_on_after(1):
                await tls_stream.aclose()


async def _read_body(response: httpx.Response, limit: int, outcome: _Outcome) -> None:
    """Raw bytes up to ``limit`` (cap + 1); more than the cap marks the body truncated."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    finally:
        body = b"".join(chunks)
        outcome.body = body[:limit]
        outcome.body_truncated = len(body) >= limit
