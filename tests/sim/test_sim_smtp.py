"""The test internet's MX hosts, driven by a small trio SMTP client on loopback."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable

import pytest
import trio

from survey.sim.ca import TestCA
from survey.sim.scenario import CertKind, MxHost, SmtpBehaviour
from survey.sim.smtp_server import MAX_LINE, LineReader, SmtpServer

ADDRESS = "127.78.0.1"
HOSTS = {h.name: h for h in (
    MxHost("mx1.ok.test"),
    MxHost("mx1.expired.test", cert=CertKind.EXPIRED),
    MxHost("mx1.self.test", cert=CertKind.SELF_SIGNED),
    MxHost("mx1.wrong.test", cert=CertKind.WRONG_NAME),
    MxHost("mx1.untrusted.test", cert=CertKind.UNTRUSTED_CA),
)}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


Body = Callable[[SmtpServer, int], Awaitable[None]]


def with_server(ca: TestCA, behaviour: SmtpBehaviour, body: Body) -> SmtpServer:
    """Run ``body(server, port)`` against a fresh listener on ADDRESS, then cancel it."""
    server = SmtpServer(ca, HOSTS)

    async def main() -> None:
        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(server.serve, ADDRESS, 0, behaviour)
                await body(server, listeners[0].socket.getsockname()[1])
                nursery.cancel_scope.cancel()

    trio.run(main)
    return server


class Client:
    """Just enough of an SMTP client: send a line, read a (multi-line) reply."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.reader = LineReader(stream)

    @classmethod
    async def connect(cls, port: int) -> Client:
        return cls(await trio.open_tcp_stream(ADDRESS, port))

    async def reply(self) -> tuple[int, list[str]]:
        lines: list[str] = []
        while True:
            line = await self.reader.line()
            assert line is not None, "server closed mid-reply"
            text = line.decode()
            lines.append(text[4:])
            if text[3:4] == " ":
                return int(text[:3]), lines

    async def command(self, line: str) -> tuple[int, list[str]]:
        await self.stream.send_all(line.encode() + b"\r\n")
        return await self.reply()

    async def starttls(self, ca: TestCA, sni: str | None) -> trio.SSLStream[trio.abc.Stream]:
        assert await self.command("STARTTLS") == (220, ["Ready to start TLS"])
        context = ssl.create_default_context(cafile=str(ca.bundle_path))
        if sni is None:
            context.check_hostname = False
        tls = trio.SSLStream(self.stream, context, server_hostname=sni)
        await tls.do_handshake()
        self.stream, self.reader = tls, LineReader(tls)
        return tls


def test_starttls_session_verifies_with_the_mx_name(ca: TestCA) -> None:
    async def body(server: SmtpServer, port: int) -> None:
        client = await Client.connect(port)
        assert await client.reply() == (220, ["mx.sim.invalid ESMTP test"])
        code, lines = await client.command("EHLO scanner.test")
        assert code == 250
        assert lines[0] == "mx.sim.invalid greets scanner.test"
        assert "STARTTLS" in lines
        tls = await client.starttls(ca, "mx1.ok.test")
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        code, lines = await client.command("EHLO scanner.test")
        assert code == 250
        assert "STARTTLS" not in lines  # not offered twice
        assert (await client.command("STARTTLS"))[0] == 503
        assert (await client.command("MAIL FROM:<a@b.test>"))[0] == 554
        assert await client.command("QUIT") == (221, ["2.0.0 Bye"])
        assert await client.reader.line() is None  # closed after QUIT
        assert server.handshake_count == 1

    with_server(ca, SmtpBehaviour.STARTTLS, body)


@pytest.mark.parametrize(("sni", "codes"), [
    ("mx1.expired.test", {10}),
    ("mx1.self.test", {18}),
    ("mx1.untrusted.test", {20, 21}),
    ("mx1.wrong.test", {62}),
    ("mx9.unknown.test", {62}),  # default certificate for unknown.invalid
])
def test_bad_certificates_fail_verification(ca: TestCA, sni: str, codes: set[int]) -> None:
    async def body(server: SmtpServer, port: int) -> None:
        client = await Client.connect(port)
        await client.reply()
        await client.command("EHLO scanner.test")
        with pytest.raises(trio.BrokenResourceError) as info:
            await client.starttls(ca, sni)
        cause = info.value.__cause__
        assert isinstance(cause, ssl.SSLCertVerificationError)
        assert cause.verify_code in codes, cause.verify_message

    with_server(ca, SmtpBehaviour.STARTTLS, body)


def test_no_sni_gets_the_default_certificate(ca: TestCA) -> None:
    async def body(server: SmtpServer, port: int) -> None:
        client = await Client.connect(port)
        await client.reply()
        tls = await client.starttls(ca, None)  # chain still verifies against the bundle
        cert = tls.getpeercert()
        assert cert is not None and ("DNS", "unknown.invalid") in cert["subjectAltName"]
        assert (await client.command("EHLO x"))[0] == 250

    with_server(ca, SmtpBehaviour.STARTTLS, body)


def test_no_starttls_host_does_not_offer_it(ca: TestCA) -> None:
    async def body(server: SmtpServer, port: int) -> None:
        client = await Client.connect(port)
        assert (await client.reply())[0] == 220
        code, lines = await client.command("EHLO scanner.test")
        assert code == 250 and "STARTTLS" not in lines
        assert (await client.command("STARTTLS"))[0] == 502
        assert (await client.command("HELO scanner.test"))[0] == 250
        assert (await client.command("QUIT"))[0] == 221

    server = with_server(ca, SmtpBehaviour.NO_STARTTLS, body)
    assert server.handshake_count == 0


def test_tarpit_accepts_and_never_writes(ca: TestCA) -> None:
    async def body(server: SmtpServer, port: int) -> None:
        client = await Client.connect(port)  # the connection succeeds
        with trio.move_on_after(0.5) as scope:
            await client.reply()
        assert scope.cancelled_caught
        await client.stream.aclose()

    with_server(ca, SmtpBehaviour.TARPIT, body)


def test_refused_behaviour_starts_no_server(ca: TestCA) -> None:
    server = SmtpServer(ca, HOSTS)
    with pytest.raises(ValueError, match="nothing listens"):
        trio.run(server.serve, ADDRESS, 0, SmtpBehaviour.REFUSED)


def test_overlong_line_and_plaintext_injection(ca: TestCA) -> None:
    async def body(server: SmtpServer, port: int) -> None:
        client = await Client.connect(port)
        await client.reply()
        await client.stream.send_all(b"EHLO " + b"a" * MAX_LINE)
        assert (await client.reply())[0] == 500
        with trio.fail_after(10):  # then the server hangs up: FIN, or RST (unread input)
            try:
                after = await client.reader.line()
            except trio.BrokenResourceError:
                after = None
        assert after is None
        # Commands pipelined after STARTTLS in plaintext are dropped, not run inside TLS.
        client = await Client.connect(port)
        await client.reply()
        await client.stream.send_all(b"STARTTLS\r\nQUIT\r\n")
        assert await client.reply() == (220, ["Ready to start TLS"])
        context = ssl.create_default_context(cafile=str(ca.bundle_path))
        tls = trio.SSLStream(client.stream, context, server_hostname="mx1.ok.test")
        await tls.do_handshake()
        client.stream, client.reader = tls, LineReader(tls)
        assert (await client.command("NOOP"))[0] == 250  # QUIT was not executed
        # the listener still serves a well-behaved client
        client = await Client.connect(port)
        assert (await client.reply())[0] == 220

    with_server(ca, SmtpBehaviour.STARTTLS, body)


def test_cancelling_the_nursery_ends_listener_and_sessions(ca: TestCA) -> None:
    async def main() -> None:
        server = SmtpServer(ca, HOSTS)
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(server.serve, ADDRESS, 0,
                                                SmtpBehaviour.STARTTLS)
                port = listeners[0].socket.getsockname()[1]
                idle = await Client.connect(port)
                assert (await idle.reply())[0] == 220  # a session in flight
                nursery.cancel_scope.cancel()
            assert await idle.reader.line() is None  # its socket was closed
        with pytest.raises(OSError):
            await trio.open_tcp_stream(ADDRESS, port)

    trio.run(main)


def test_listens_on_loopback_only(ca: TestCA) -> None:
    server = SmtpServer(ca, HOSTS)
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8 only"):
        trio.run(server.serve, "0.0.0.0", 0, SmtpBehaviour.STARTTLS)


def test_each_session_has_a_deadline(ca: TestCA) -> None:
    async def body(server: SmtpServer, port: int) -> None:
        server.deadline = 0.5
        client = await Client.connect(port)
        assert (await client.reply())[0] == 220
        with trio.fail_after(3):  # silent client: the server hangs up
            assert await client.reader.line() is None

    with_server(ca, SmtpBehaviour.STARTTLS, body)
