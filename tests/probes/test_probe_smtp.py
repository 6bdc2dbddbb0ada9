"""STARTTLS probe against fake MTAs on 127.0.0.1 (TLS with the throwaway CA of the HTTPS tests)."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field

import pytest
import trio
import trio.testing

from survey.core.observations import FetchError, SmtpProbe
from survey.probes.net import AddressGuard, DestinationLimiter
from survey.probes.smtp import (
    Reply,
    ReplyReader,
    SmtpConfig,
    SmtpFailure,
    SmtpProber,
    capabilities,
    parse_reply_line,
)
from tests.conftest import deadline_bound, pem_sha256
from tests.probes.test_probe_https import (
    Handler,
    Issued,
    Server,
    TestAuthority,
    start_server,
    unanswered_port,
)

MX = "mx1.example.test"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    authority = TestAuthority()
    tmp = tmp_path_factory.mktemp("smtp-pki")
    return {
        "dir": tmp,
        "bundle": authority.write_bundle(tmp / "ca.pem"),
        "valid": authority.issue(MX),
        "wrong": authority.issue("mail.other.test"),
        "expired": authority.issue(MX, expired=True),
        "self": authority.issue(MX, self_signed=True),
    }


@dataclass
class FakeMta:
    """A scripted ESMTP server: banner, capabilities, STARTTLS answer, then TLS."""

    banner: tuple[str, ...] = ("220 mx1.example.test ESMTP fake",)
    capabilities: tuple[str, ...] = ("PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME")
    starttls_reply: str = "220 2.0.0 Ready to start TLS"
    context: ssl.SSLContext | None = None
    commands: list[str] = field(default_factory=list)
    tls_commands: list[str] = field(default_factory=list)

    async def _command(self, stream: trio.abc.Stream, buffer: bytearray) -> str | None:
        while b"\n" not in buffer:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return None
            buffer += chunk
        end = buffer.index(b"\n")
        line = bytes(buffer[:end]).decode().strip()
        del buffer[: end + 1]
        return line

    async def __call__(self, stream: trio.abc.Stream) -> None:
        await stream.send_all("".join(f"{line}\r\n" for line in self.banner).encode())
        buffer = bytearray()
        while (command := await self._command(stream, buffer)) is not None:
            self.commands.append(command)
            verb = command.split()[0].upper() if command else ""
            if verb == "EHLO":
                lines = ["mx1.example.test greets you", *self.capabilities]
                reply = "".join(f"250{'-' if i < len(lines) - 1 else ' '}{text}\r\n"
                                for i, text in enumerate(lines))
                await stream.send_all(reply.encode())
            elif verb == "QUIT":
                await stream.send_all(b"221 2.0.0 Bye\r\n")
                return
            elif verb == "STARTTLS":
                await stream.send_all(f"{self.starttls_reply}\r\n".encode())
                if self.starttls_reply.startswith("220") and self.context is not None:
                    secure = trio.SSLStream(stream, self.context, server_side=True)
                    await secure.do_handshake()
                    buffer.clear()
                    while (inner := await self._command(secure, buffer)) is not None:
                        self.tls_commands.append(inner)
                        if inner.upper() == "QUIT":
                            await secure.send_all(b"221 2.0.0 Bye\r\n")
                            return
                    return
            else:
                await stream.send_all(b"502 5.5.1 unrecognised\r\n")


def run_probe(certs, handler: Handler, *, timeout: float = 5.0,
              guard: AddressGuard | None = None, addresses: tuple[str, ...] = ("127.0.0.1",),
              **options) -> tuple[SmtpProbe, Server, float]:
    out: list[tuple[SmtpProbe, Server, float]] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, handler, None)
            config = SmtpConfig(port=server.port, timeout=timeout, connect_timeout=1.0,
                                ehlo_name="scanner.example.test", ca_bundle=certs["bundle"],
                                **options)
            prober = SmtpProber(config, guard=guard or AddressGuard(allow_private=True),
                                destinations=DestinationLimiter(2))
            started = time.monotonic()
            probe = await prober.probe(MX, addresses)
            out.append((probe, server, time.monotonic() - started))
            nursery.cancel_scope.cancel()

    trio.run(main)
    return out[0]


def context_for(certs, name: str) -> ssl.SSLContext:
    issued = certs[name]
    assert isinstance(issued, Issued)
    return issued.server_context(certs["dir"])


# --- parsing -----------------------------------------------------------------------------------

def test_reply_line_parsing() -> None:
    assert parse_reply_line(b"250-SIZE 100\r\n") == (250, True, "SIZE 100")
    assert parse_reply_line(b"220 ready\n") == (220, False, "ready")
    assert parse_reply_line(b"250\r\n") == (250, False, "")
    for bad in (b"\r\n", b"HTTP/1.1 200 OK\r\n", b"25x ok\r\n", b"250_x\r\n", b"650 x\r\n"):
        with pytest.raises(SmtpFailure) as info:
            parse_reply_line(bad)
        assert info.value.error is FetchError.PROTOCOL_ERROR


def test_capabilities_case_insensitive_and_skip_greeting() -> None:
    ehlo = Reply(250, ("starttls.example greets", "starttls", "SIZE 1"))
    assert capabilities(ehlo) == {"STARTTLS", "SIZE"}
    assert "STARTTLS" not in capabilities(Reply(250, ("STARTTLS is the host name",)))


def test_reader_bounds_line_length_and_count() -> None:
    async def read(data: bytes, max_line: int = 20, max_lines: int = 3) -> Reply:
        send, receive = trio.testing.memory_stream_one_way_pair()
        await send.send_all(data)
        await send.aclose()
        return await ReplyReader(receive, max_line, max_lines).reply()

    assert trio.run(read, b"250-a\r\n250-b\r\n250 c\r\n").lines == ("a", "b", "c")
    for data, error in ((b"250-" + b"x" * 30 + b"\r\n", FetchError.PROTOCOL_ERROR),
                        (b"250-a\r\n" * 4, FetchError.PROTOCOL_ERROR),
                        (b"250-a\r\n251 b\r\n", FetchError.PROTOCOL_ERROR),
                        (b"250-a\r\n", FetchError.CONNECTION_CLOSED)):
        with pytest.raises(SmtpFailure) as info:
            trio.run(read, data)
        assert info.value.error is error, data


# --- sessions ----------------------------------------------------------------------------------

def test_starttls_ok(certs) -> None:
    mta = FakeMta(banner=("220-mx1.example.test ESMTP", "220 no UCE"),
                  context=context_for(certs, "valid"))
    probe, server, _ = run_probe(certs, mta)
    assert probe.error is None, probe.error_detail
    assert probe.address == "127.0.0.1" and probe.host == MX
    assert probe.banner == "mx1.example.test ESMTP\nno UCE"
    assert probe.starttls_offered is True and probe.tls_version in ("TLSv1.2", "TLSv1.3")
    assert probe.certificate is not None and probe.certificate.names == (MX,)
    assert mta.commands == ["EHLO scanner.example.test", "STARTTLS"]
    assert mta.tls_commands == ["QUIT"]  # polite, and nothing else
    assert server.connections == 1 and probe.elapsed_ms > 0


def test_no_starttls(certs) -> None:
    mta = FakeMta(capabilities=("PIPELINING", "SIZE 100"))
    probe, _, _ = run_probe(certs, mta)
    assert probe.error is FetchError.STARTTLS_NOT_SUPPORTED and probe.starttls_offered is False
    assert probe.banner == "mx1.example.test ESMTP fake" and probe.certificate is None
    assert mta.commands == ["EHLO scanner.example.test", "QUIT"]


def test_starttls_refused(certs) -> None:
    mta = FakeMta(starttls_reply="454 4.7.0 TLS not available due to temporary reason")
    probe, _, _ = run_probe(certs, mta)
    assert probe.error is FetchError.STARTTLS_NOT_SUPPORTED and probe.starttls_offered is True
    assert probe.error_detail is not None and "454" in probe.error_detail


def test_ehlo_refused(certs) -> None:
    async def old(stream: trio.abc.Stream) -> None:
        await stream.send_all(b"220 old.example ready\r\n")
        await stream.receive_some(1000)
        await stream.send_all(b"502 5.5.2 EHLO what?\r\n")
        await stream.receive_some(1000)

    probe, _, _ = run_probe(certs, old)
    assert probe.error is FetchError.STARTTLS_NOT_SUPPORTED and probe.starttls_offered is None


def test_banner_554_is_protocol_error(certs) -> None:
    probe, _, _ = run_probe(certs, FakeMta(banner=("554 go away",)))
    assert probe.error is FetchError.PROTOCOL_ERROR and probe.banner == "go away"


@pytest.mark.slow
@pytest.mark.parametrize(("cert", "error", "issuer"), [
    ("wrong", FetchError.CERT_NAME_MISMATCH, "CN=Survey Test CA"),
    ("expired", FetchError.CERT_EXPIRED, "CN=Survey Test CA"),
    ("self", FetchError.CERT_UNTRUSTED, f"CN={MX}"),
])
def test_bad_certificate_classified_with_details(certs, cert, error, issuer) -> None:
    probe, server, _ = run_probe(certs, FakeMta(context=context_for(certs, cert)))
    assert probe.error is error, probe.error_detail
    assert probe.starttls_offered is True and probe.tls_version is None
    assert probe.certificate is not None and probe.certificate.issuer == issuer
    issued = certs[cert]
    assert isinstance(issued, Issued)
    assert probe.certificate.sha256 == pem_sha256(issued.cert_pem)
    assert server.connections == 2  # the verified session, then the certificate read


def test_tarpit_bounded(certs) -> None:
    async def tarpit(stream: trio.abc.Stream) -> None:
        await trio.sleep_forever()

    probe, server, elapsed = run_probe(certs, tarpit, timeout=1.0)
    assert probe.error is FetchError.IO_TIMEOUT and probe.banner is None
    assert server.connections == 1 and 0.9 < elapsed < deadline_bound(1.0)


async def _endless_banner(stream: trio.abc.Stream) -> None:
    while True:
        await stream.send_all(b"220-welcome to the endless banner\r\n" * 50)


async def _endless_line(stream: trio.abc.Stream) -> None:
    await stream.send_all(b"220 ")
    while True:
        await stream.send_all(b"a" * 4096)


@pytest.mark.parametrize(("handler", "bound"), [(_endless_banner, "100 lines"),
                                                (_endless_line, "1000 bytes")])
def test_endless_reply_bounded(certs, handler: Handler, bound: str) -> None:
    probe, _, elapsed = run_probe(certs, handler, timeout=30.0)
    assert probe.error is FetchError.PROTOCOL_ERROR and bound in (probe.error_detail or "")
    assert elapsed < 30.0  # stopped by the bound, before the deadline


def test_drip_banner_bounded_by_deadline(certs) -> None:
    async def drip(stream: trio.abc.Stream) -> None:
        while True:
            await stream.send_all(b"2")
            await trio.sleep(0.1)

    probe, _, elapsed = run_probe(certs, drip, timeout=1.0)
    assert probe.error is FetchError.IO_TIMEOUT and 0.9 < elapsed < deadline_bound(1.0)


def test_refused(certs) -> None:
    async def main() -> SmtpProbe:
        sock = trio.socket.socket()
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        prober = SmtpProber(SmtpConfig(port=port, timeout=2.0),
                            guard=AddressGuard(allow_private=True),
                            destinations=DestinationLimiter(1))
        return await prober.probe(MX, ["127.0.0.1"])

    probe = trio.run(main)
    assert probe.error is FetchError.CONNECTION_REFUSED and probe.banner is None


def test_connection_timeout() -> None:
    with unanswered_port() as port:
        prober = SmtpProber(SmtpConfig(port=port, timeout=3.0, connect_timeout=0.5),
                            guard=AddressGuard(allow_private=True),
                            destinations=DestinationLimiter(1))
        started = time.monotonic()
        probe = trio.run(prober.probe, MX, ("127.0.0.1",))
        elapsed = time.monotonic() - started
    assert probe.error is FetchError.CONNECTION_TIMEOUT and 0.4 < elapsed < deadline_bound(0.5)


def test_closed_after_banner(certs) -> None:
    async def rude(stream: trio.abc.Stream) -> None:
        await stream.send_all(b"220 hi\r\n")

    probe, _, _ = run_probe(certs, rude)
    assert probe.error is FetchError.CONNECTION_CLOSED and probe.banner == "hi"


def test_tls_garbage_after_starttls_is_handshake_error(certs) -> None:
    async def fake_tls(stream: trio.abc.Stream) -> None:
        await stream.send_all(b"220 hi\r\n")
        await stream.receive_some(1000)
        await stream.send_all(b"250-hi\r\n250 STARTTLS\r\n")
        await stream.receive_some(1000)
        await stream.send_all(b"220 go\r\n")
        await stream.receive_some(1000)
        await stream.send_all(b"this is not TLS at all\r\n" * 10)

    probe, _, _ = run_probe(certs, fake_tls)
    assert probe.error is FetchError.HANDSHAKE_ERROR, probe.error_detail


def test_guard_blocks_without_connecting(certs) -> None:
    probe, server, _ = run_probe(certs, FakeMta(), guard=AddressGuard(allow_private=False),
                                 addresses=("127.0.0.1",))
    assert probe.error is FetchError.BLOCKED and probe.address is None
    assert server.connections == 0


def test_no_address() -> None:
    prober = SmtpProber(SmtpConfig(), guard=AddressGuard(), destinations=DestinationLimiter(1))
    probe = trio.run(prober.probe, MX, ())
    assert probe.error is FetchError.NO_ADDRESS and probe.host == MX


@pytest.mark.slow
def test_slot_wait_not_charged_to_the_deadline(certs) -> None:
    """Two probes to one IP with one slot: the second waits, then gets its full deadline.
    Each exchange takes 2 s of a 3.5 s deadline: charged from before its wait, the second
    would need 4 s and fail; a busy machine has 1.5 s to spare on each."""
    results: list[SmtpProbe] = []

    async def slow(stream: trio.abc.Stream) -> None:
        await trio.sleep(2.0)
        await FakeMta(context=context_for(certs, "valid"))(stream)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, slow, None)
            config = SmtpConfig(port=server.port, timeout=3.5, ca_bundle=certs["bundle"])
            prober = SmtpProber(config, guard=AddressGuard(allow_private=True),
                                destinations=DestinationLimiter(1))
            async with trio.open_nursery() as probes:
                for _ in range(2):
                    probes.start_soon(lambda: _append(prober, results))
            assert server.connections == 2
            nursery.cancel_scope.cancel()

    async def _append(prober: SmtpProber, out: list[SmtpProbe]) -> None:
        out.append(await prober.probe(MX, ["127.0.0.1"]))

    trio.run(main)
    assert [p.error for p in results] == [None, None]
    assert all(2000 <= p.elapsed_ms < 3500 for p in results)  # each timed from its slot


@pytest.mark.slow
def test_against_sim_smtp_server(tmp_path) -> None:
    """The prober against survey.sim's ESMTP server (SNI picks each MX host's certificate)."""
    from survey.sim.ca import TestCA
    from survey.sim.scenario import CertKind, MxHost, SmtpBehaviour
    from survey.sim.smtp_server import SmtpServer

    ca = TestCA(tmp_path / "ca")
    hosts = {"mx.ok.test": MxHost("mx.ok.test"),
             "mx.wrong.test": MxHost("mx.wrong.test", cert=CertKind.WRONG_NAME),
             "mx.old.test": MxHost("mx.old.test", smtp=SmtpBehaviour.NO_STARTTLS)}
    got: dict[str, SmtpProbe] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = SmtpServer(ca, hosts)
            ports = {}
            for behaviour in (SmtpBehaviour.STARTTLS, SmtpBehaviour.NO_STARTTLS):
                listeners = await nursery.start(server.serve, "127.77.0.3", 0, behaviour)
                ports[behaviour] = listeners[0].socket.getsockname()[1]
            for name, host in hosts.items():
                config = SmtpConfig(port=ports[host.smtp], timeout=5.0, ehlo_name="scanner.test",
                                    ca_bundle=ca.bundle_path)
                prober = SmtpProber(config, guard=AddressGuard(allow_private=True),
                                    destinations=DestinationLimiter(1))
                got[name] = await prober.probe(name, ["127.77.0.3"])
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert got["mx.ok.test"].error is None, got["mx.ok.test"].error_detail
    assert got["mx.ok.test"].certificate is not None
    assert got["mx.ok.test"].certificate.names == ("mx.ok.test",)
    assert got["mx.wrong.test"].error is FetchError.CERT_NAME_MISMATCH
    assert got["mx.wrong.test"].certificate is not None
    assert got["mx.old.test"].error is FetchError.STARTTLS_NOT_SUPPORTED
    assert got["mx.old.test"].starttls_offered is False
