"""The test internet's policy hosts, fetched with httpx over real TLS on loopback."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import trio

from survey.sim.ca import UNKNOWN_NAME, WRONG_NAME, TestCA
from survey.sim.https_server import PolicyHttpsServer, response_bytes
from survey.sim.scenario import CertKind, HttpsFault, PolicyHost

ADDRESS = "127.77.0.1"
POLICY = b"version: STSv1\nmode: enforce\nmx: mx1.ok.test\nmax_age: 86400\n"
HOSTS = {
    "mta-sts.ok.test": PolicyHost(body=POLICY, headers=(("X-Extra", "yes"),)),
    "mta-sts.expired.test": PolicyHost(body=POLICY, cert=CertKind.EXPIRED),
    "mta-sts.self.test": PolicyHost(body=POLICY, cert=CertKind.SELF_SIGNED),
    "mta-sts.wrong.test": PolicyHost(body=POLICY, cert=CertKind.WRONG_NAME),
    "mta-sts.untrusted.test": PolicyHost(body=POLICY, cert=CertKind.UNTRUSTED_CA),
    "mta-sts.moved.test": PolicyHost(status=301, location="https://elsewhere.test/x",
                                     content_type=None),
    "mta-sts.html.test": PolicyHost(status=500, body=b"<h1>oops</h1>",
                                    content_type="text/html; charset=utf-8"),
    "mta-sts.drip.test": PolicyHost(body=POLICY, fault=HttpsFault.SLOW_DRIP),
    "mta-sts.endless.test": PolicyHost(fault=HttpsFault.ENDLESS_BODY),
}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


def client_context(ca: TestCA) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca.bundle_path))


Body = Callable[[PolicyHttpsServer, int], Awaitable[None]]


def with_server(ca: TestCA, body: Body, *, tarpit: bool = False, timeout: float = 15) -> None:
    """Run ``body(server, port)`` against a fresh server on ADDRESS, then cancel the server."""
    server = PolicyHttpsServer(ca, HOSTS)

    async def main() -> None:
        with trio.fail_after(timeout):
            async with trio.open_nursery() as nursery:
                serve = server.serve_tarpit if tarpit else server.serve
                listeners = await nursery.start(serve, ADDRESS, 0)
                port = listeners[0].socket.getsockname()[1]
                await body(server, port)
                nursery.cancel_scope.cancel()

    trio.run(main)


async def fetch(ca: TestCA, port: int, host: str, path: str = "/.well-known/mta-sts.txt",
                ) -> httpx.Response:
    async with httpx.AsyncClient(verify=client_context(ca)) as client:
        return await client.get(f"https://{ADDRESS}:{port}{path}",
                                extensions={"sni_hostname": host})


def verify_error(exc: BaseException) -> ssl.SSLCertVerificationError:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        current = current.__cause__ or current.__context__
    raise AssertionError(f"no certificate verification error in {exc!r}")


def test_valid_policy_host_serves_declared_response(ca: TestCA) -> None:
    async def body(server: PolicyHttpsServer, port: int) -> None:
        response = await fetch(ca, port, "mta-sts.ok.test")
        assert response.status_code == 200
        assert response.content == POLICY
        assert response.headers["content-type"] == "text/plain"
        assert response.headers["x-extra"] == "yes"
        assert response.headers["connection"] == "close"
        assert response.extensions["http_version"] == b"HTTP/1.1"
        assert server.request_count == 1

    with_server(ca, body)


def test_status_location_and_content_type_as_declared(ca: TestCA) -> None:
    async def body(server: PolicyHttpsServer, port: int) -> None:
        moved = await fetch(ca, port, "mta-sts.moved.test")
        assert moved.status_code == 301
        assert moved.headers["location"] == "https://elsewhere.test/x"
        assert "content-type" not in moved.headers
        html = await fetch(ca, port, "mta-sts.html.test")
        assert (html.status_code, html.content) == (500, b"<h1>oops</h1>")
        assert html.headers["content-type"] == "text/html; charset=utf-8"
        other = await fetch(ca, port, "mta-sts.ok.test", "/index.html")
        assert other.status_code == 404
        assert server.request_count == 3

    with_server(ca, body)


@pytest.mark.parametrize(("host", "codes", "words"), [
    ("mta-sts.expired.test", {10}, "expired"),
    ("mta-sts.self.test", {18}, "self-signed"),
    ("mta-sts.untrusted.test", {20, 21}, "issuer"),
    ("mta-sts.wrong.test", {62}, "mismatch"),
    ("mta-sts.unknown.test", {62}, "mismatch"),  # unknown SNI: valid cert for unknown.invalid
])
def test_bad_certificates_fail_verification(ca: TestCA, host: str, codes: set[int],
                                            words: str) -> None:
    async def body(server: PolicyHttpsServer, port: int) -> None:
        with pytest.raises(httpx.ConnectError) as info:
            await fetch(ca, port, host)
        error = verify_error(info.value)
        assert error.verify_code in codes, error.verify_message
        assert words in error.verify_message.lower()
        assert server.request_count == 0

    with_server(ca, body)


async def presented_names(port: int, sni: str | None) -> list[str]:
    """DNS names of the certificate the server presents for ``sni`` (no verification)."""
    from cryptography import x509

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    stream = await trio.open_tcp_stream(ADDRESS, port)
    tls = trio.SSLStream(stream, context, server_hostname=sni)
    await tls.do_handshake()
    der = tls.getpeercert(binary_form=True)
    await tls.aclose()
    cert = x509.load_der_x509_certificate(der)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName)


@pytest.mark.slow
def test_certificate_is_chosen_by_sni(ca: TestCA) -> None:
    async def body(server: PolicyHttpsServer, port: int) -> None:
        assert await presented_names(port, "mta-sts.ok.test") == ["mta-sts.ok.test"]
        assert await presented_names(port, "MTA-STS.untrusted.test") == [
            "mta-sts.untrusted.test"]
        assert await presented_names(port, "mta-sts.wrong.test") == [WRONG_NAME]
        assert await presented_names(port, "mta-sts.nowhere.test") == [UNKNOWN_NAME]
        assert await presented_names(port, None) == [UNKNOWN_NAME]

    with_server(ca, body)


async def raw_get(port: int, ca: TestCA, host: str) -> trio.SSLStream[trio.SocketStream]:
    stream = await trio.open_tcp_stream(ADDRESS, port)
    tls = trio.SSLStream(stream, client_context(ca), server_hostname=host,
                         https_compatible=True)
    await tls.send_all(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: " + host.encode()
                       + b"\r\n\r\n")
    return tls


def test_slow_drip_sends_about_one_byte_per_second(ca: TestCA) -> None:
    async def body(server: PolicyHttpsServer, port: int) -> None:
        tls = await raw_get(port, ca, "mta-sts.drip.test")
        received = b""
        with trio.move_on_after(2.5):
            while True:
                received += await tls.receive_some(65536)
        assert b"HTTP/1.1 200".startswith(received)
        assert 1 <= len(received) <= 4
        await tls.aclose()

    with_server(ca, body)


def test_endless_body_keeps_coming_past_64_kib(ca: TestCA) -> None:
    async def body(server: PolicyHttpsServer, port: int) -> None:
        async with httpx.AsyncClient(verify=client_context(ca)) as client:
            request = client.build_request(
                "GET", f"https://{ADDRESS}:{port}/.well-known/mta-sts.txt",
                extensions={"sni_hostname": "mta-sts.endless.test"})
            response = await client.send(request, stream=True)
            assert response.status_code == 200
            assert response.headers["transfer-encoding"] == "chunked"
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > 4 * 65536:
                    break
            await response.aclose()
        assert total > 4 * 65536
        # the server noticed the hang-up and still serves others
        assert (await fetch(ca, port, "mta-sts.ok.test")).status_code == 200

    with_server(ca, body)


def test_tarpit_accepts_but_never_answers(ca: TestCA) -> None:
    async def body(server: PolicyHttpsServer, port: int) -> None:
        stream = await trio.open_tcp_stream(ADDRESS, port)  # the connection succeeds
        tls = trio.SSLStream(stream, client_context(ca), server_hostname="mta-sts.ok.test")
        with trio.move_on_after(0.5) as scope:
            await tls.do_handshake()
        assert scope.cancelled_caught
        await stream.aclose()

    with_server(ca, body, tarpit=True)


def test_misbehaving_clients_do_not_stop_the_server(ca: TestCA) -> None:
    async def body(server: PolicyHttpsServer, port: int) -> None:
        plain = await trio.open_tcp_stream(ADDRESS, port)  # not TLS at all
        await plain.send_all(b"GET / HTTP/1.1\r\n\r\n")
        with trio.fail_after(5), contextlib.suppress(trio.BrokenResourceError):
            while await plain.receive_some(1024):  # an alert at most, then the server hangs up
                pass
        await plain.aclose()
        hangup = await trio.open_tcp_stream(ADDRESS, port)  # connects and leaves
        await hangup.aclose()
        garbage = await raw_get(port, ca, "mta-sts.ok.test")
        await garbage.send_all(b"\x00" * 100)
        await garbage.aclose()
        header_flood = await trio.open_tcp_stream(ADDRESS, port)
        tls = trio.SSLStream(header_flood, client_context(ca), server_hostname="mta-sts.ok.test")
        with pytest.raises(trio.BrokenResourceError):
            with trio.fail_after(5):
                while True:  # the server drops us once the head passes its bound
                    await tls.send_all(b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 1000)
        await tls.aclose()
        response = await fetch(ca, port, "mta-sts.ok.test")
        assert response.content == POLICY

    with_server(ca, body)


def test_cancelling_the_nursery_ends_the_server_and_its_connections(ca: TestCA) -> None:
    server = PolicyHttpsServer(ca, HOSTS)

    async def main() -> None:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(server.serve, ADDRESS, 0)
                port = listeners[0].socket.getsockname()[1]
                drip = await raw_get(port, ca, "mta-sts.drip.test")
                assert await drip.receive_some(10)  # a connection in flight
                nursery.cancel_scope.cancel()
        with pytest.raises(OSError):
            await trio.open_tcp_stream(ADDRESS, port)

    trio.run(main)


def test_ca_reuses_existing_ca_and_caches_contexts(tmp_path: Path) -> None:
    first = TestCA(tmp_path)
    second = TestCA(tmp_path)
    assert first.bundle_path.read_bytes() == second.bundle_path.read_bytes()
    context = first.server_context("mta-sts.a.test", CertKind.VALID)
    assert first.server_context("MTA-STS.a.test.", CertKind.VALID) is context
    assert first.server_context("mta-sts.a.test", CertKind.EXPIRED) is not context
    wrong = first.server_context("mta-sts.a.test", CertKind.WRONG_NAME)
    assert first.server_context("mta-sts.b.test", CertKind.WRONG_NAME) is wrong


def test_context_cache_is_a_bounded_lru(tmp_path: Path) -> None:
    ca = TestCA(tmp_path, cache_size=2)
    a = ca.server_context("a.test", CertKind.VALID)
    b = ca.server_context("b.test", CertKind.VALID)
    assert ca.server_context("a.test", CertKind.VALID) is a  # a is now the most recent
    ca.server_context("c.test", CertKind.VALID)  # evicts b
    assert ca.server_context("a.test", CertKind.VALID) is a
    assert ca.server_context("b.test", CertKind.VALID) is not b


def test_ca_without_memfd_uses_scratch_files(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr("os.memfd_create")
    ca = TestCA(tmp_path)
    context = ca.server_context("mta-sts.a.test", CertKind.VALID)
    assert context.get_ca_certs() == []  # a server context, no trust store needed
    assert len(list(tmp_path.glob(".leaf-cert-*.pem"))) == 1


@pytest.mark.parametrize("address", ["0.0.0.0", "::1", "10.0.0.1", "localhost", ""])
def test_listens_on_loopback_only(ca: TestCA, address: str) -> None:
    server = PolicyHttpsServer(ca, HOSTS)
    for serve in (server.serve, server.serve_tarpit):
        with pytest.raises(ValueError, match=r"127\.0\.0\.0/8 only"):
            trio.run(serve, address, 0)


def test_response_bytes_framing() -> None:
    status, data = response_bytes(PolicyHost(status=204, body=b"ignored"), b"/.well-known/"
                                  b"mta-sts.txt?x=1")
    assert status == 204
    assert data == (b"HTTP/1.1 204 No Content\r\nConnection: close\r\n"
                    b"Content-Type: text/plain\r\n\r\n")
    status, data = response_bytes(PolicyHost(body=b"abc", content_type=None), b"/other")
    assert status == 404 and data.startswith(b"HTTP/1.1 404 Not Found\r\n")
    _, data = response_bytes(PolicyHost(body=b"abc", content_type=None),
                             b"/.well-known/mta-sts.txt")
    assert data == b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc"


def test_each_connection_has_a_deadline(ca: TestCA) -> None:
    async def body(server: PolicyHttpsServer, port: int) -> None:
        server.deadline = 0.5
        stream = await trio.open_tcp_stream(ADDRESS, port)
        tls = trio.SSLStream(stream, client_context(ca), server_hostname="mta-sts.ok.test",
                             https_compatible=True)
        await tls.do_handshake()
        with trio.fail_after(3):  # we never send a request: the server gives up on us
            assert await tls.receive_some(1024) == b""
        await tls.aclose()
        drip = await raw_get(port, ca, "mta-sts.drip.test")
        received = b""
        with trio.fail_after(3):  # a drip is cut at the deadline too
            while chunk := await drip.receive_some(1024):
                received += chunk
        assert 1 <= len(received) <= 2

    with_server(ca, body)
