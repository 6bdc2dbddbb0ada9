"""``DnsClient`` against hostile DNS servers on loopback (issue 9, "A hostile internet").

Each test starts its own trio UDP+TCP server on a 127.x address whose handler decides, per
query, which bytes go back, from which socket, and when: truncation followed by a broken TCP
answer, malformed or forged responses (wrong id, wrong question, another port or address),
compression-pointer loops, a 60 KB TXT RRset, and an outage of the whole resolver. Every test
asserts its elapsed time: a hostile server may cost a query its deadline, never more.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
import trio

from survey.core.observations import RCODE_TIMEOUT, DnsResult, Dnssec, DnsStatus
from survey.probes.dns import DnsClient, DnsConfig
from tests.conftest import bind_udp_tcp_pair, deadline_bound, trio_test

HOST = "127.77.53.1"
OTHER_HOST = "127.77.53.2"  # a spoofer on another loopback address, same port
REAL = "192.0.2.1"
FORGED = "198.51.100.66"




# ---------------------------------------------------------------------------------------------
# Wire helpers (dnspython builds the well-formed parts; the hostile parts are hand-made bytes)


def question_of(query: bytes) -> bytes:
    """The query's question (name, type, class) as sent: the client never compresses it."""
    pos = 12
    while query[pos]:
        pos += 1 + query[pos]
    return query[12:pos + 5]


def reply(query: bytes, *rrs: tuple[str, str, list[str]],
          rcode: dns.rcode.Rcode = dns.rcode.NOERROR, flags: int = 0,
          qid: int | None = None, qname: str | None = None, qtype: str | None = None) -> bytes:
    """A response to ``query`` with answer RRsets ``(owner or "", type, rdatas)``.

    ``qid``/``qname``/``qtype`` forge another id or question; an empty owner means the
    question's name.
    """
    msg = dns.message.from_wire(query)
    if qname is not None or qtype is not None:
        msg = dns.message.make_query(qname or msg.question[0].name,
                                     qtype or msg.question[0].rdtype, id=msg.id)
    response = dns.message.make_response(msg)
    name = response.question[0].name
    for owner, rdtype, rdatas in rrs:
        response.answer.append(dns.rrset.from_text_list(owner or name, 60, "IN", rdtype, rdatas))
    response.set_rcode(rcode)
    response.flags |= flags
    if qid is not None:
        response.id = qid
    return response.to_wire(max_size=65535)


def a_reply(query: bytes, address: str = REAL, qid: int | None = None,
            qname: str | None = None) -> bytes:
    return reply(query, ("", "A", [address]), qid=qid, qname=qname)


def with_owner(query: bytes, owner: bytes, rdata: bytes = b"\x7f\x00\x00\x01") -> bytes:
    """The right id and question, one A record whose owner name is the raw bytes ``owner``."""
    header = struct.pack("!HHHHHH", int.from_bytes(query[:2], "big"), 0x8180, 1, 1, 0, 0)
    return header + question_of(query) + owner + struct.pack("!HHIH", 1, 1, 60, len(rdata)) + rdata


def pointer_loops(query: bytes) -> dict[str, bytes]:
    """Responses whose answer owner is a compression-pointer loop (RFC 1035 §4.1.4 abused)."""
    at = 12 + len(question_of(query))  # offset of the answer's owner name
    return {
        "self": with_owner(query, struct.pack("!H", 0xC000 | at)),
        "pair": with_owner(query, b"\x01a" + struct.pack("!H", 0xC000 | at + 4)
                           + b"\x01b" + struct.pack("!H", 0xC000 | at)),
        "forward": with_owner(query, struct.pack("!H", 0xC000 | at + 2) + b"\x00"),
        "out-of-range": with_owner(query, b"\xff\xff"),
        # a question whose name is a pointer to itself: the question check must refuse it
        "question": struct.pack("!HHHHHH", int.from_bytes(query[:2], "big"), 0x8180, 1, 0, 0, 0)
        + b"\xc0\x0c" + question_of(query)[-4:],
    }


# ---------------------------------------------------------------------------------------------
# The hostile server


@dataclass(frozen=True)
class Send:
    """One datagram to send back: bytes, the socket it leaves from, and a delay before it."""

    data: bytes
    source: str = "server"  # "server", "other-port" or "other-address"
    delay: float = 0.0


UdpHandler = Callable[[bytes], list[Send]]
#: Raw bytes to write on the TCP connection (length prefix included) then close; None: hang.
TcpHandler = Callable[[bytes], bytes | None]


@dataclass
class Server:
    address: tuple[str, int]
    udp_queries: list[float] = field(default_factory=list)  # arrival times
    tcp_connections: int = 0




def _no_tcp(_query: bytes) -> bytes | None:
    raise AssertionError("unexpected TCP query")


@contextlib.asynccontextmanager
async def hostile_server(udp_handler: UdpHandler,
                         tcp_handler: TcpHandler = _no_tcp) -> AsyncIterator[Server]:
    udp, tcp = await bind_udp_tcp_pair(HOST)
    port = udp.getsockname()[1]
    other_port = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    other_address = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    with udp, tcp, other_port, other_address:
        await other_port.bind((HOST, 0))
        await other_address.bind((OTHER_HOST, port))
        sockets = {"server": udp, "other-port": other_port, "other-address": other_address}
        server = Server((HOST, port))
        tcp.listen()

        async def send_all(sends: list[Send], peer: tuple[str, int]) -> None:
            for send in sends:
                await trio.sleep(send.delay)
                await sockets[send.source].sendto(send.data, peer)

        async def serve_udp(nursery: trio.Nursery) -> None:
            while True:
                data, peer = await udp.recvfrom(65535)
                server.udp_queries.append(trio.current_time())
                nursery.start_soon(send_all, udp_handler(data), peer)

        async def serve_tcp(stream: trio.SocketStream) -> None:
            server.tcp_connections += 1
            async with stream:
                data = b""
                while len(data) < 2 or len(data) < 2 + int.from_bytes(data[:2], "big"):
                    chunk = await stream.receive_some()
                    if not chunk:
                        return
                    data += chunk
                answer = tcp_handler(data[2:])
                if answer is None:
                    await trio.sleep_forever()
                await stream.send_all(answer)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_udp, nursery)
            nursery.start_soon(trio.serve_listeners, serve_tcp, [trio.SocketListener(tcp)])
            yield server
            nursery.cancel_scope.cancel()


#: The attempt deadline of tests whose answer must come before it: long, so that a busy machine
#: never reaches it; their point is that the answer is accepted, and in how many attempts.
LONG = 10.0


def client(server: Server, timeout: float, retries: int = 2) -> DnsClient:
    return DnsClient(DnsConfig(resolvers=(server.address,), timeout=timeout, retries=retries,
                               backoff=0.02, sockets=1))


def framed(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


def assert_no_forged_data(result: DnsResult) -> None:
    assert FORGED not in result.addresses, f"spoofed data accepted: {result}"
    assert "forged" not in repr(result.txt), f"spoofed data accepted: {result}"


def assert_timeout(result: DnsResult, attempts: int, reason: str) -> None:
    assert result.status is DnsStatus.TIMEOUT and result.rcode == RCODE_TIMEOUT, result
    assert result.attempts == attempts, result
    assert result.error is not None and reason in result.error, result.error
    assert_no_forged_data(result)


# ---------------------------------------------------------------------------------------------
# Truncation followed by a TCP answer that is itself broken


def _tcp_kinds(query: bytes) -> dict[str, bytes | None]:
    good = a_reply(query, FORGED)
    return {
        "tcp-truncated-again": framed(reply(query, flags=dns.flags.TC)),
        "tcp-short-read": framed(good)[:20],  # the prefix promises more, then the peer closes
        "tcp-garbage": framed(bytes([query[0] ^ 0xFF]) + b"garbage" * 20),
        "tcp-wrong-id": framed(a_reply(query, FORGED, qid=int.from_bytes(query[:2], "big") ^ 1)),
        "tcp-cut-record": framed(good[:-13]),  # inside the A record (OPT is the last 11)
        "tcp-pointer-loop": framed(pointer_loops(query)["pair"]),
        "tcp-close": b"",
        "tcp-hang": None,
    }


TCP_REASONS = {
    "tcp-truncated-again": "tcp: truncated response",
    "tcp-short-read": "EOFError",
    "tcp-garbage": "tcp: wrong id",
    "tcp-wrong-id": "tcp: wrong id",
    "tcp-cut-record": "tcp: malformed response",
    "tcp-pointer-loop": "tcp: malformed response",
    "tcp-close": "EOFError",
    "tcp-hang": "tcp timeout",
}


@pytest.mark.parametrize("kind", sorted(TCP_REASONS))
@trio_test
async def test_truncated_then_broken_tcp_answer_times_out(kind: str) -> None:
    def udp(query: bytes) -> list[Send]:
        return [Send(reply(query, flags=dns.flags.TC))]

    def tcp(query: bytes) -> bytes | None:
        return _tcp_kinds(query)[kind]

    async with hostile_server(udp, tcp) as server, client(server, timeout=0.3, retries=1) as dc:
        start = trio.current_time()
        result = await dc.query("victim.example", "A")
        elapsed = trio.current_time() - start
    # two rounds of UDP (TC) then TCP: four attempts, each one costing at most its timeout
    assert_timeout(result, attempts=4, reason=TCP_REASONS[kind])
    assert server.tcp_connections == 2 and dc.queries_sent == 4
    assert elapsed < deadline_bound(4 * 0.3 + 0.02), f"{kind}: took {elapsed:.2f} s"


@trio_test
async def test_truncated_then_good_tcp_answer_after_a_broken_one() -> None:
    tcp_answers = iter(["broken", "good"])

    def udp(query: bytes) -> list[Send]:
        return [Send(reply(query, flags=dns.flags.TC))]

    def tcp(query: bytes) -> bytes | None:
        return framed(a_reply(query)) if next(tcp_answers) == "good" else b"\x00\x05ab"

    async with hostile_server(udp, tcp) as server, client(server, timeout=1.0) as dc:
        result = await dc.query("victim.example", "A")
    assert result.status is DnsStatus.NOERROR and result.addresses == (REAL,), result
    assert result.attempts == 4 and server.tcp_connections == 2


# ---------------------------------------------------------------------------------------------
# Malformed and forged UDP responses: ignored, the right answer after them is the one taken


def _hostile(query: bytes, kind: str) -> Send:
    qid = int.from_bytes(query[:2], "big")
    forged = a_reply(query, FORGED)
    match kind:
        case "wrong-id":
            return Send(a_reply(query, FORGED, qid=qid ^ 0x8000))
        case "wrong-question":
            return Send(a_reply(query, FORGED, qname="attacker.example"))
        case "wrong-type":
            return Send(reply(query, ("", "TXT", ['"forged"']), qtype="TXT"))
        case "wrong-port":
            return Send(forged, source="other-port")
        case "wrong-address":
            return Send(forged, source="other-address")
        case "not-a-response":
            return Send(forged[:2] + bytes([forged[2] & 0x7F]) + forged[3:])
        case "short":
            return Send(forged[:11])
        case "cut-record":
            return Send(forged[:-13])  # inside the A record (the OPT record is 11 bytes)
        case "bad-rdlength":
            return Send(with_owner(query, b"\xc0\x0c", rdata=b"\x01\x02\x03\x04\x05"))
        case "ancount-too-high":
            return Send(forged[:6] + b"\x00\x09" + forged[8:])
        case "empty":
            return Send(b"")
    raise ValueError(kind)


HOSTILE = ["wrong-id", "wrong-question", "wrong-type", "wrong-port", "wrong-address",
           "not-a-response", "short", "cut-record", "bad-rdlength", "ancount-too-high", "empty"]


@pytest.mark.parametrize("kind", HOSTILE)
@trio_test
async def test_hostile_response_then_the_right_one(kind: str) -> None:
    def udp(query: bytes) -> list[Send]:
        return [_hostile(query, kind), Send(a_reply(query), delay=0.02)]

    async with hostile_server(udp) as server, client(server, timeout=LONG) as dc:
        start = trio.current_time()
        result = await dc.query("victim.example", "A")
        elapsed = trio.current_time() - start
    assert result.status is DnsStatus.NOERROR and result.addresses == (REAL,), f"{kind}: {result}"
    assert result.attempts == 1 and len(server.udp_queries) == 1
    assert elapsed < LONG  # answered before its one deadline
    if kind not in ("wrong-port", "wrong-address"):  # the kernel drops those
        assert dc.responses_ignored == 1, kind


@pytest.mark.slow
@pytest.mark.parametrize("kind", HOSTILE)
@trio_test
async def test_hostile_response_alone_is_a_timeout(kind: str) -> None:
    def udp(query: bytes) -> list[Send]:
        return [_hostile(query, kind)]

    async with hostile_server(udp) as server, client(server, timeout=0.2, retries=1) as dc:
        start = trio.current_time()
        result = await dc.query("victim.example", "A")
        elapsed = trio.current_time() - start
    assert_timeout(result, attempts=2, reason="timeout")
    assert len(server.udp_queries) == 2
    assert elapsed < deadline_bound(2 * 0.2 + 0.02), f"{kind}: took {elapsed:.2f} s"


@trio_test
async def test_flood_of_forged_responses_does_not_hide_the_right_one() -> None:
    """300 forged datagrams (every other id) before the answer: all ignored, none accepted."""

    def udp(query: bytes) -> list[Send]:
        qid = int.from_bytes(query[:2], "big")
        forged = [Send(a_reply(query, FORGED, qid=(qid + 1 + i) % 65536)) for i in range(300)]
        return [*forged, Send(a_reply(query), delay=0.05)]

    async with hostile_server(udp) as server, client(server, timeout=LONG) as dc:
        start = trio.current_time()
        result = await dc.query("victim.example", "A")
        elapsed = trio.current_time() - start
    assert result.status is DnsStatus.NOERROR and result.addresses == (REAL,), result
    assert dc.responses_ignored == 300 and len(server.udp_queries) == 1
    assert elapsed < LONG, f"took {elapsed:.2f} s"  # answered before its one deadline


# ---------------------------------------------------------------------------------------------
# Compression-pointer loops


@pytest.mark.parametrize("kind", ["self", "pair", "forward", "out-of-range", "question"])
@trio_test
async def test_compression_pointer_loops_are_ignored_without_hanging(kind: str) -> None:
    def udp(query: bytes) -> list[Send]:
        return [Send(pointer_loops(query)[kind])]

    async with hostile_server(udp) as server, client(server, timeout=0.2, retries=1) as dc:
        start = trio.current_time()
        result = await dc.query("victim.example", "A")
        elapsed = trio.current_time() - start
    reason = "wrong question" if kind == "question" else "malformed response"
    assert_timeout(result, attempts=2, reason=reason)
    assert dc.responses_ignored == 2
    assert elapsed < deadline_bound(2 * 0.2 + 0.02), f"{kind}: took {elapsed:.2f} s"

    def then_right(query: bytes) -> list[Send]:
        return [Send(pointer_loops(query)[kind]), Send(a_reply(query), delay=0.02)]

    async with hostile_server(then_right) as server, client(server, timeout=2.0) as dc:
        result = await dc.query("victim.example", "A")
    assert result.status is DnsStatus.NOERROR and result.addresses == (REAL,), result


# ---------------------------------------------------------------------------------------------
# A huge TXT RRset over TCP


@trio_test
async def test_huge_txt_rrset_over_tcp_is_parsed_within_bounds() -> None:
    # 240 records of one 250-octet string: ~62 KB on the wire, just under the TCP maximum
    strings = [f"{i:03d}" + "x" * 247 for i in range(240)]
    sizes: list[int] = []

    def udp(query: bytes) -> list[Send]:
        return [Send(reply(query, flags=dns.flags.TC))]

    def tcp(query: bytes) -> bytes | None:
        wire = reply(query, ("", "TXT", [f'"{s}"' for s in strings]))
        sizes.append(len(wire))
        return framed(wire)

    async with hostile_server(udp, tcp) as server, client(server, timeout=LONG) as dc:
        start = trio.current_time()
        result = await dc.query("big.example", "TXT")
        elapsed = trio.current_time() - start
    assert 60_000 < sizes[0] <= 65_535
    assert result.status is DnsStatus.NOERROR and result.attempts == 2, result
    assert sorted(result.txt) == sorted((s,) for s in strings)
    assert server.tcp_connections == 1
    assert elapsed < 2 * LONG, f"took {elapsed:.2f} s"  # two attempts, each within its deadline


@trio_test
async def test_tcp_length_prefix_is_the_bound() -> None:
    """A TCP peer that sends more than its prefix promised: only the prefix's bytes are read."""

    def udp(query: bytes) -> list[Send]:
        return [Send(reply(query, flags=dns.flags.TC))]

    def tcp(query: bytes) -> bytes | None:
        return framed(a_reply(query)) + b"\xff" * 100_000

    async with hostile_server(udp, tcp) as server, client(server, timeout=2.0) as dc:
        result = await dc.query("victim.example", "A")
    assert result.status is DnsStatus.NOERROR and result.addresses == (REAL,), result
    assert server.tcp_connections == 1


# ---------------------------------------------------------------------------------------------
# A resolver that stops answering for a while and comes back


@pytest.mark.slow
@trio_test
async def test_resolver_outage_then_recovery() -> None:
    outage = (0.5, 2.5)  # seconds after the first query: every query is dropped in between
    timeout, retries = 0.2, 2
    first: list[float] = []  # arrival of the first query: the outage is timed from there

    def udp(query: bytes) -> list[Send]:
        now = trio.current_time()
        if not first:
            first.append(now)
        if outage[0] <= now - first[0] < outage[1]:
            return []
        return [Send(a_reply(query))]

    runs: list[tuple[float, DnsResult]] = []
    async with hostile_server(udp) as server, client(server, timeout, retries) as dc:
        start = trio.current_time()

        async def one(i: int) -> None:
            began = trio.current_time() - start
            runs.append((began, await dc.query(f"q{i}.example", "A")))

        async with trio.open_nursery() as nursery:
            for i in range(32):  # a query every 0.1 s for 3.2 s
                nursery.start_soon(one, i)
                await trio.sleep(0.1)
        elapsed = trio.current_time() - start
    # a query's last attempt leaves at most 2 timeouts + 2 backoffs (0.02, 0.04) after it began
    last_send = retries * timeout + 0.06
    # Slack around the outage's edges: on a loaded machine a query may leave a little late.
    for began, result in runs:
        assert_no_forged_data(result)
        assert result.status in (DnsStatus.NOERROR, DnsStatus.TIMEOUT), result
        if began < outage[0] - 0.3:
            assert result.status is DnsStatus.NOERROR, f"before the outage at {began:.1f}: {result}"
        elif outage[0] + 0.1 <= began and began + last_send < outage[1] - 0.2:
            assert_timeout(result, attempts=retries + 1, reason="timeout")
        elif began >= outage[1] + 0.1:
            assert result.status is DnsStatus.NOERROR, f"after the outage at {began:.1f}: {result}"
    statuses = [r.status for _, r in runs]
    assert statuses.count(DnsStatus.TIMEOUT) >= 8 and statuses[-5:] == [DnsStatus.NOERROR] * 5
    assert len(server.udp_queries) >= 32 + 8 * retries  # the outage's queries were retried
    assert elapsed < deadline_bound(3.2 + (retries + 1) * timeout + 0.06), f"took {elapsed:.2f} s"


@trio_test
async def test_servfail_storm_is_not_absent() -> None:
    """A resolver failing with SERVFAIL (or REFUSED) every time: the result says so, with the
    rcode, never a NOERROR/NXDOMAIN that would read as "no record"."""

    checking_disabled: list[bool] = []

    def udp(query: bytes) -> list[Send]:
        checking_disabled.append(bool(dns.message.from_wire(query).flags & dns.flags.CD))
        return [Send(reply(query, rcode=dns.rcode.SERVFAIL))]

    async with hostile_server(udp) as server, client(server, timeout=LONG) as dc:
        result = await dc.query("_mta-sts.victim.example", "TXT")
    assert result.status is DnsStatus.SERVFAIL and result.rcode == dns.rcode.SERVFAIL, result
    # retries + 1 plain attempts, then one with CD set to tell bogus data from a broken server:
    # SERVFAIL again, so the failure is the server's (dnssec error), not DNSSEC's (bogus).
    assert result.attempts == 4 and len(server.udp_queries) == 4 and result.txt == ()
    assert checking_disabled == [False, False, False, True]
    assert result.dnssec is Dnssec.ERROR


@trio_test
async def test_a_dead_resolver_costs_one_timeout_when_another_answers() -> None:
    """Retries go to the next resolver: with one of two silent, every query still succeeds."""

    def silent(_query: bytes) -> list[Send]:
        return []

    def good(query: bytes) -> list[Send]:
        return [Send(a_reply(query))]

    async with hostile_server(silent) as dead, hostile_server(good) as alive:
        config = DnsConfig(resolvers=(dead.address, alive.address), timeout=0.2, retries=2,
                           backoff=0.02, sockets=1)
        async with DnsClient(config) as dc:
            start = trio.current_time()
            results = [await dc.query(f"q{i}.example", "A") for i in range(6)]
            elapsed = trio.current_time() - start
    assert all(r.status is DnsStatus.NOERROR and r.addresses == (REAL,) for r in results), results
    assert sorted(r.attempts for r in results) == [1, 1, 1, 2, 2, 2]
    assert len(dead.udp_queries) == 3 and len(alive.udp_queries) == 6
    assert elapsed < deadline_bound(3 * (0.2 + 0.02)), f"took {elapsed:.2f} s"
