"""Policy fetch against real TLS servers on 127.0.0.1 (a throwaway CA made with cryptography).

The CA and server helpers here are also used by tests/probes/test_probe_smtp.py.
"""

from __future__ import annotations

import datetime as dt
import gzip
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from survey.core.observations import FetchError, HttpsFetch
from survey.probes import tls
from survey.probes.connect import NoAddress, choose_address
from survey.probes.https import HttpsConfig, PolicyFetcher
from survey.probes.net import AddressGuard, DestinationLimiter, Exclusions
from tests.conftest import deadline_bound, pem_sha256

DOMAIN = "example.test"
HOST = f"mta-sts.{DOMAIN}"
POLICY = b"version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 86400\n"


# --- a throwaway PKI ---------------------------------------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class Issued:
    cert_pem: bytes
    key_pem: bytes
    der: bytes

    def server_context(self, tmp: Path) -> ssl.SSLContext:
        path = tmp / f"leaf-{hash(self.der) & 0xFFFFFFFF:x}.pem"
        path.write_bytes(self.cert_pem + self.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(path))
        return context


class TestAuthority:
    """A CA that issues leaf certificates (valid, expired, for another name, self-signed)."""

    __test__ = False

    def __init__(self, name: str = "Survey Test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def write_bundle(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(self, *names: str, expired: bool = False, self_signed: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        start, end = ((now - dt.timedelta(days=60), now - dt.timedelta(days=30)) if expired
                      else (now - dt.timedelta(hours=1), now + dt.timedelta(days=10)))
        issuer_name, signer = (_name(names[0]), key) if self_signed \
            else (self.cert.subject, self.key)
        builder = (
            x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(issuer_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False)
        cert = builder.sign(signer, hashes.SHA256())
        return Issued(
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
            cert.public_bytes(serialization.Encoding.DER),
        )


@pytest.fixture(scope="module")
def authority() -> TestAuthority:
    return TestAuthority()


@pytest.fixture(scope="module")
def pki(authority: TestAuthority, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("pki")
    stranger = TestAuthority("Unknown Test CA")
    return {
        "dir": tmp,
        "bundle": authority.write_bundle(tmp / "ca.pem"),
        "valid": authority.issue(HOST),
        "expired": authority.issue(HOST, expired=True),
        "wrong": authority.issue("mta-sts.other.test"),
        "self": authority.issue(HOST, self_signed=True),
        "stranger": stranger.issue(HOST),
        "wildcard": authority.issue(f"*.{DOMAIN}"),
    }


# --- a loopback TCP/TLS server -----------------------------------------------------------------

Handler = Callable[[trio.abc.Stream], Awaitable[None]]


@dataclass
class Server:
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


async def start_server(nursery: trio.Nursery, handler: Handler,
                       context: ssl.SSLContext | None, host: str = "127.0.0.1") -> Server:
    """Serve ``handler`` (behind TLS when ``context``) on ``host``, an ephemeral port."""
    server = Server()

    async def serve(stream: trio.SocketStream) -> None:
        server.connections += 1
        wrapped: trio.abc.Stream = stream
        try:
            if context is not None:
                tls_stream = trio.SSLStream(stream, context, server_side=True)
                await tls_stream.do_handshake()
                wrapped = tls_stream
            await handler(wrapped)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            with trio.move_on_after(0.5):
                await wrapped.aclose()

    listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host=host))
    server.port = listeners[0].socket.getsockname()[1]
    return server


async def read_request(stream: trio.abc.Stream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some(4096)
        if not chunk:
            break
        data += chunk
    return data


def respond(status: str, headers: dict[str, str], body: bytes,
            seen: list[bytes] | None = None) -> Handler:
    async def handler(stream: trio.abc.Stream) -> None:
        request = await read_request(stream)
        if seen is not None:
            seen.append(request)
        head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        await stream.send_all(head.encode() + b"\r\n" + body)
    return handler


def ok(body: bytes = POLICY, content_type: str = "text/plain",
       seen: list[bytes] | None = None) -> Handler:
    return respond("200 OK", {"Content-Type": content_type, "Content-Length": str(len(body))},
                   body, seen)


def fetch_with(pki: dict[str, object], cert: str | None, handler: Handler, *,
               timeout: float = 5.0, guard: AddressGuard | None = None,
               addresses: tuple[str, ...] | None = None) -> tuple[HttpsFetch, Server, float]:
    """Start a server with ``cert`` (None: plain TCP) and fetch from it once."""
    result: list[tuple[HttpsFetch, Server, float]] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            context = None
            if cert is not None:
                issued = pki[cert]
                assert isinstance(issued, Issued)
                context = issued.server_context(pki["dir"])  # type: ignore[arg-type]
            server = await start_server(nursery, handler, context)
            config = HttpsConfig(port=server.port, timeout=timeout, connect_timeout=1.0,
                                 ca_bundle=pki["bundle"])  # type: ignore[arg-type]
            fetcher_guard = guard or AddressGuard(allow_private=True)
            async with PolicyFetcher(config, guard=fetcher_guard,
                                     destinations=DestinationLimiter(2)) as fetcher:
                started = time.monotonic()
                fetch = await fetcher.fetch(DOMAIN, addresses or ("127.0.0.1",))
                result.append((fetch, server, time.monotonic() - started))
            nursery.cancel_scope.cancel()

    trio.run(main)
    return result[0]


@contextmanager
def unanswered_port() -> Iterator[int]:
    """A loopback port whose accept queue is full: further SYNs are dropped (a black hole)."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        filler.connect(("127.0.0.1", port))  # takes the only place in the queue
        yield port


# --- tests -------------------------------------------------------------------------------------

def test_valid_fetch_records_everything(pki) -> None:
    seen: list[bytes] = []
    fetch, server, _ = fetch_with(pki, "valid", ok(seen=seen))
    assert fetch.error is None, fetch.error_detail
    assert fetch.http_status == 200 and fetch.body == POLICY and not fetch.body_truncated
    assert fetch.content_type == "text/plain" and fetch.location is None
    assert fetch.address == "127.0.0.1" and fetch.url == f"https://{HOST}:{server.port}" \
        "/.well-known/mta-sts.txt"
    assert fetch.tls_version in ("TLSv1.2", "TLSv1.3")
    cert = fetch.certificate
    assert cert is not None and cert.names == (HOST,) and cert.subject == f"CN={HOST}"
    assert cert.issuer == "CN=Survey Test CA"
    assert cert.not_after is not None and cert.not_after.tzinfo is not None
    assert cert.sha256 == pem_sha256(pki["valid"].cert_pem)
    request = seen[0].lower()
    assert request.startswith(b"get /.well-known/mta-sts.txt http/1.1\r\n")
    assert f"host: {HOST}:{server.port}".encode() in request
    assert b"accept-encoding: identity" in request and b"user-agent: mta-sts-survey/" in request
    assert fetch.elapsed_ms > 0


def test_wildcard_certificate_accepted(pki) -> None:
    fetch, _, _ = fetch_with(pki, "wildcard", ok())
    assert fetch.error is None and fetch.certificate is not None
    assert fetch.certificate.names == (f"*.{DOMAIN}",)


def test_not_found(pki) -> None:
    fetch, _, _ = fetch_with(pki, "valid", respond("404 Not Found", {"Content-Length": "3"},
                                                   b"no\n"))
    assert fetch.error is None and fetch.http_status == 404 and fetch.body == b"no\n"


def test_redirect_not_followed(pki) -> None:
    seen: list[bytes] = []
    target = "https://elsewhere.test/.well-known/mta-sts.txt"
    fetch, server, _ = fetch_with(pki, "valid", respond(
        "301 Moved Permanently", {"Location": target, "Content-Length": "0"}, b"", seen))
    assert fetch.http_status == 301 and fetch.location == target and fetch.error is None
    assert server.connections == 1 and len(seen) == 1


def test_wrong_content_type_recorded(pki) -> None:
    fetch, _, _ = fetch_with(pki, "valid", ok(content_type="text/html; charset=utf-8"))
    assert fetch.error is None and fetch.content_type == "text/html; charset=utf-8"


def test_body_over_cap_cut_at_cap_plus_one(pki) -> None:
    body = b"x" * (200 * 1024)
    fetch, _, _ = fetch_with(pki, "valid", ok(body))
    assert fetch.error is None and fetch.body_truncated
    assert fetch.body == b"x" * (64 * 1024 + 1)


def test_body_exactly_at_cap_not_truncated(pki) -> None:
    body = b"y" * (64 * 1024)
    fetch, _, _ = fetch_with(pki, "valid", ok(body))
    assert fetch.body == body and not fetch.body_truncated


async def _endless(stream: trio.abc.Stream) -> None:
    await read_request(stream)
    await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    while True:
        await stream.send_all(b"z" * 16384)


def test_endless_body_bounded_by_cap(pki) -> None:
    fetch, _, elapsed = fetch_with(pki, "valid", _endless, timeout=30.0)
    assert fetch.body_truncated and fetch.body is not None and len(fetch.body) == 64 * 1024 + 1
    assert fetch.error is None and elapsed < 30.0  # stopped by the cap, before the deadline


async def _drip(stream: trio.abc.Stream) -> None:
    await read_request(stream)
    await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    while True:
        await stream.send_all(b"v")
        await trio.sleep(0.2)


def test_drip_bounded_by_deadline(pki) -> None:
    fetch, _, elapsed = fetch_with(pki, "valid", _drip, timeout=1.5)
    assert fetch.error is FetchError.IO_TIMEOUT and fetch.http_status == 200
    assert 1.4 < elapsed < deadline_bound(1.5)
    assert fetch.certificate is not None  # what was seen before the deadline is kept


async def _tarpit(stream: trio.abc.Stream) -> None:
    await trio.sleep_forever()


def test_tls_tarpit_bounded(pki) -> None:
    # Accepts TCP, never says a word: the TLS handshake hangs until the overall deadline.
    fetch, server, elapsed = fetch_with(pki, None, _tarpit, timeout=1.0)
    assert fetch.error is FetchError.IO_TIMEOUT and server.connections == 1
    assert 0.9 < elapsed < deadline_bound(1.0) and fetch.http_status is None


def test_http_tarpit_bounded(pki) -> None:
    fetch, _, elapsed = fetch_with(pki, "valid", _tarpit, timeout=1.0)
    assert fetch.error is FetchError.IO_TIMEOUT and fetch.tls_version is not None
    assert 0.9 < elapsed < deadline_bound(1.0)


def test_connection_refused() -> None:
    async def main() -> HttpsFetch:
        sock = trio.socket.socket()
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()  # bound then closed: nothing listens there
        async with PolicyFetcher(HttpsConfig(port=port, timeout=2.0),
                                 guard=AddressGuard(allow_private=True),
                                 destinations=DestinationLimiter(1)) as fetcher:
            return await fetcher.fetch(DOMAIN, ["127.0.0.1"])

    fetch = trio.run(main)
    assert fetch.error is FetchError.CONNECTION_REFUSED, fetch.error_detail
    assert fetch.error_detail and len(fetch.error_detail) <= tls.MAX_DETAIL


def test_connection_timeout() -> None:
    async def main(port: int) -> HttpsFetch:
        config = HttpsConfig(port=port, timeout=3.0, connect_timeout=0.5)
        async with PolicyFetcher(config, guard=AddressGuard(allow_private=True),
                                 destinations=DestinationLimiter(1)) as fetcher:
            return await fetcher.fetch(DOMAIN, ["127.0.0.1"])

    with unanswered_port() as port:
        started = time.monotonic()
        fetch = trio.run(main, port)
        elapsed = time.monotonic() - started
    assert fetch.error is FetchError.CONNECTION_TIMEOUT, fetch.error_detail
    assert 0.4 < elapsed < deadline_bound(0.5)  # the connect deadline, not the 3 s one


def test_server_closes_without_answer(pki) -> None:
    async def hang_up(stream: trio.abc.Stream) -> None:
        await read_request(stream)

    fetch, _, _ = fetch_with(pki, "valid", hang_up)
    assert fetch.error is FetchError.CONNECTION_CLOSED, fetch.error_detail


def test_garbage_answer_is_protocol_error(pki) -> None:
    async def garbage(stream: trio.abc.Stream) -> None:
        await read_request(stream)
        await stream.send_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    fetch, _, _ = fetch_with(pki, "valid", garbage)
    assert fetch.error is FetchError.PROTOCOL_ERROR, fetch.error_detail


def test_plain_http_server_is_handshake_error(pki) -> None:
    async def plain(stream: trio.abc.Stream) -> None:
        await stream.send_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    fetch, _, _ = fetch_with(pki, None, plain)
    assert fetch.error is FetchError.HANDSHAKE_ERROR, fetch.error_detail


@pytest.mark.slow
@pytest.mark.parametrize(("cert", "error", "issuer"), [
    ("expired", FetchError.CERT_EXPIRED, "CN=Survey Test CA"),
    ("self", FetchError.CERT_UNTRUSTED, f"CN={HOST}"),
    ("stranger", FetchError.CERT_UNTRUSTED, "CN=Unknown Test CA"),
    ("wrong", FetchError.CERT_NAME_MISMATCH, "CN=Survey Test CA"),
])
def test_certificate_failures_classified_with_details(pki, cert, error, issuer) -> None:
    fetch, server, _ = fetch_with(pki, cert, ok())
    assert fetch.error is error, fetch.error_detail
    assert fetch.error_detail and "verify error" in fetch.error_detail
    assert fetch.http_status is None and fetch.body is None
    assert fetch.certificate is not None and fetch.certificate.issuer == issuer
    assert fetch.certificate.sha256 == pem_sha256(pki[cert].cert_pem)
    assert server.connections == 2  # the verified attempt, then the certificate read


def test_gzip_body_kept_raw(pki) -> None:
    compressed = gzip.compress(POLICY)
    fetch, _, _ = fetch_with(pki, "valid", respond(
        "200 OK", {"Content-Type": "text/plain", "Content-Encoding": "gzip",
                   "Content-Length": str(len(compressed))}, compressed))
    assert fetch.error is None and fetch.body == compressed


def test_guard_blocks_loopback_without_connecting(pki) -> None:
    fetch, server, _ = fetch_with(pki, "valid", ok(), guard=AddressGuard(allow_private=False),
                                  addresses=("127.0.0.1", "127.0.0.2"))
    assert fetch.error is FetchError.BLOCKED and fetch.address is None
    assert fetch.error_detail and server.connections == 0


def test_first_allowed_address_used(pki) -> None:
    from survey.probes.net import Exclusions
    guard = AddressGuard(allow_private=True, exclusions=Exclusions.from_lines(["127.0.0.9/32"]))
    fetch, server, _ = fetch_with(pki, "valid", ok(), guard=guard,
                                  addresses=("127.0.0.9", "127.0.0.1"))
    assert fetch.error is None and fetch.address == "127.0.0.1" and server.connections == 1


def test_excluded_only() -> None:
    from survey.probes.net import Exclusions

    async def main() -> HttpsFetch:
        guard = AddressGuard(allow_private=True, exclusions=Exclusions.from_lines(["127.0.0.0/8"]))
        async with PolicyFetcher(HttpsConfig(), guard=guard,
                                 destinations=DestinationLimiter(1)) as fetcher:
            return await fetcher.fetch(DOMAIN, ["127.0.0.5"])

    assert trio.run(main).error is FetchError.EXCLUDED


def test_no_address() -> None:
    async def main() -> HttpsFetch:
        async with PolicyFetcher(HttpsConfig(), guard=AddressGuard(),
                                 destinations=DestinationLimiter(1)) as fetcher:
            return await fetcher.fetch(DOMAIN, [])

    fetch = trio.run(main)
    assert fetch.error is FetchError.NO_ADDRESS and fetch.address is None
    assert fetch.url == f"https://{HOST}/.well-known/mta-sts.txt"


def test_each_fetch_opens_a_new_connection(pki) -> None:
    """Two domains on one IP: two TLS connections, each with its own SNI/name check."""
    results: list[HttpsFetch] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, ok(), pki["valid"].server_context(pki["dir"]))
            config = HttpsConfig(port=server.port, timeout=3.0, ca_bundle=pki["bundle"])
            async with PolicyFetcher(config, guard=AddressGuard(allow_private=True),
                                     destinations=DestinationLimiter(1)) as fetcher:
                results.append(await fetcher.fetch(DOMAIN, ["127.0.0.1"]))
                results.append(await fetcher.fetch("other.test", ["127.0.0.1"]))
                results.append(await fetcher.fetch(DOMAIN, ["127.0.0.1"]))
            assert server.connections == 4  # 3 fetches + the certificate read of the mismatch
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert results[0].error is None and results[2].error is None
    assert results[1].error is FetchError.CERT_NAME_MISMATCH


def test_ipv6_literal_bracketed_in_url() -> None:
    # Only 127/8 may be used in tests, so the IPv6 path is checked on the URL it builds.
    assert tls.wrap_address("2001:db8::1") == "[2001:db8::1]"
    assert tls.wrap_address("[2001:db8::1]") == "[2001:db8::1]"
    assert tls.wrap_address("192.0.2.1") == "192.0.2.1"


# --- interop with the test internet's policy host (SNI picks the certificate) ------------------

def test_against_sim_policy_server(tmp_path: Path) -> None:
    """The fetcher against survey.sim's SNI-switching server: each host judged by its own name."""
    from survey.sim.ca import TestCA
    from survey.sim.https_server import PolicyHttpsServer
    from tests.sim.test_sim_https import HOSTS
    from tests.sim.test_sim_https import POLICY as SIM_POLICY

    ca = TestCA(tmp_path / "ca")
    expected = {
        "ok.test": (None, 200), "expired.test": (FetchError.CERT_EXPIRED, None),
        "self.test": (FetchError.CERT_UNTRUSTED, None),
        "wrong.test": (FetchError.CERT_NAME_MISMATCH, None),
        "untrusted.test": (FetchError.CERT_UNTRUSTED, None), "moved.test": (None, 301),
    }
    hosts = {f"mta-sts.{domain}": HOSTS[f"mta-sts.{domain}"] for domain in expected}
    got: dict[str, HttpsFetch] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = PolicyHttpsServer(ca, hosts)
            listeners = await nursery.start(server.serve, "127.77.0.2", 0)
            port = listeners[0].socket.getsockname()[1]
            config = HttpsConfig(port=port, timeout=5.0, ca_bundle=ca.bundle_path)
            async with (PolicyFetcher(config, guard=AddressGuard(allow_private=True),
                                      destinations=DestinationLimiter(8)) as fetcher,
                        trio.open_nursery() as fetches):
                for domain in expected:
                    async def one(domain: str = domain) -> None:
                        got[domain] = await fetcher.fetch(domain, ["127.77.0.2"])
                    fetches.start_soon(one)
            nursery.cancel_scope.cancel()

    trio.run(main)
    for domain, (error, status) in expected.items():
        fetch = got[domain]
        assert (fetch.error, fetch.http_status) == (error, status), (domain, fetch.error_detail)
        assert fetch.certificate is not None, domain
    assert got["ok.test"].body == SIM_POLICY
    assert got["moved.test"].location == "https://elsewhere.test/x"
    assert got["ok.test"].certificate.names == ("mta-sts.ok.test",)  # type: ignore[union-attr]


@pytest.mark.parametrize(("code", "message", "error"), [
    (10, "certificate has expired", FetchError.CERT_EXPIRED),
    (9, "certificate is not yet valid", FetchError.CERT_EXPIRED),
    (18, "self-signed certificate", FetchError.CERT_UNTRUSTED),
    (19, "self-signed certificate in certificate chain", FetchError.CERT_UNTRUSTED),
    (20, "unable to get local issuer certificate", FetchError.CERT_UNTRUSTED),
    (62, "Hostname mismatch, certificate is not valid for 'x'.", FetchError.CERT_NAME_MISMATCH),
    (7, "certificate signature failure", FetchError.CERT_INVALID),
    (26, "unsuitable certificate purpose", FetchError.CERT_INVALID),
])
def test_verify_codes_classified(code: int, message: str, error: FetchError) -> None:
    exc = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    exc.verify_code, exc.verify_message = code, message
    assert tls.classify_verify_error(exc) is error
    assert tls.verify_detail(exc) == f"verify error {code}: {message}"


def test_choose_address_is_the_first_allowed_or_says_why_none() -> None:
    """The choice both connecting probes make (survey.probes.connect); addresses only compared."""
    guard = AddressGuard(exclusions=Exclusions.from_lines(["8.8.4.4"]))
    assert choose_address(guard, ["10.0.0.1", "8.8.8.8", "1.1.1.1"]) == "8.8.8.8"
    assert choose_address(guard, ["10.0.0.1", "127.0.0.1"]) == \
        NoAddress(FetchError.BLOCKED, "2 address(es), none allowed")
    assert choose_address(guard, ["8.8.4.4", "10.0.0.1"]) == \
        NoAddress(FetchError.EXCLUDED, "2 address(es), none allowed")
    assert choose_address(guard, []) == NoAddress(FetchError.NO_ADDRESS, None)
