"""The DNS probe against small real DNS servers on loopback (UDP and TCP, built with dnspython).

Each test starts its own server whose ``handle`` decides, per query, which datagrams go back:
correct answers from a table, or hostile sequences (wrong id, wrong question, wrong source
port, garbage) followed by the right answer.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import trio

import survey.probes.dns as dns_probe
from benchmarks.dns_client import client_scan
from benchmarks.naive_scanner import naive_scan, read_toplist
from survey.core.observations import (
    RCODE_TIMEOUT,
    DnsResult,
    Dnssec,
    DnsStatus,
    MxRecord,
    TlsaRecord,
)
from survey.probes import dnswire
from survey.probes.dns import (
    Answer,
    DnsClient,
    DnsConfig,
    attempt_outcome,
    build_query,
    check_response,
    encode_qname,
    interpret,
    merge_addresses,
    system_resolvers,
)
from survey.probes.net import RateLimiter
from tests.conftest import bind_udp_tcp_pair, deadline_bound, trio_test

# ---------------------------------------------------------------------------------------------
# A tiny authoritative-style server


@dataclass(frozen=True)
class Reply:
    data: bytes
    other_port: bool = False  # send from a second socket (a spoofer on another port)


Handler = Callable[[dns.message.Message, bool], list[Reply]]

TABLE: dict[tuple[str, str], list[str]] = {
    ("_mta-sts.example.com.", "TXT"): ['"v=STSv1; " "id=20240101"'],
    ("_smtp._tls.example.com.", "TXT"): [
        '"v=TLSRPTv1; rua=mailto:a@example.com"',
        '"unrelated record"',
    ],
    ("example.com.", "MX"): ["10 MX1.Example.COM.", "20 mx2.example.com."],
    ("nullmx.example.", "MX"): ["0 ."],
    ("mta-sts.example.com.", "CNAME"): ["sts.provider.example."],
    ("sts.provider.example.", "CNAME"): ["edge.provider.example."],
    ("edge.provider.example.", "A"): ["192.0.2.10", "192.0.2.11"],
    ("loop.example.", "CNAME"): ["loop1.example."],
    ("loop1.example.", "CNAME"): ["loop2.example."],
    ("loop2.example.", "CNAME"): ["loop1.example."],
    ("nodata.example.", "A"): ["192.0.2.1"],
    ("v6only.example.", "AAAA"): ["2001:db8::1"],
    ("mta-sts.v6.example.", "AAAA"): ["2001:db8::2"],
    ("_mta-sts.v6.example.", "TXT"): ['"v=STSv1; id=1"'],
    ("mta-sts.v6none.example.", "AAAA"): ["2001:db8::3"],
}


def table_response(query: dns.message.Message) -> dns.message.Message:
    """Answer like a recursive resolver: the CNAME chain (stopping at a repeat) and records."""
    response = dns.message.make_response(query)
    qname = query.question[0].name
    rdtype = dns.rdatatype.to_text(query.question[0].rdtype)
    known = {name for name, _ in TABLE}
    current, seen = qname, set()
    while current not in seen:
        seen.add(current)
        key = current.to_text().lower()
        if (key, rdtype) in TABLE:
            response.answer.append(dns.rrset.from_text_list(current, 300, "IN", rdtype,
                                                            TABLE[key, rdtype]))
            return response
        if (key, "CNAME") not in TABLE:
            break
        rrset = dns.rrset.from_text_list(current, 300, "IN", "CNAME", TABLE[key, "CNAME"])
        response.answer.append(rrset)
        current = rrset[0].target
    if current.to_text().lower() not in known:
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response


def answer(query: dns.message.Message, _tcp: bool = False) -> list[Reply]:
    return [Reply(table_response(query).to_wire())]




@contextlib.asynccontextmanager
async def dns_server(handle: Handler, host: str = "127.6.53.1") -> AsyncIterator[tuple[str, int]]:
    """Serve ``handle`` on UDP and TCP at (host, free port) for the duration of the block."""
    udp, tcp = await bind_udp_tcp_pair(host, rcvbuf=1 << 20)
    other = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    with udp, other, tcp:
        await other.bind((host, 0))
        port = udp.getsockname()[1]
        tcp.listen()

        async def serve_udp() -> None:
            while True:
                data, peer = await udp.recvfrom(65535)
                for i, reply in enumerate(handle(dns.message.from_wire(data), False)):
                    if i:
                        await trio.sleep(0.005)  # keep a hostile sequence in order
                    await (other if reply.other_port else udp).sendto(reply.data, peer)

        async def serve_tcp(stream: trio.SocketStream) -> None:
            async with stream:
                head = await stream.receive_some(2)
                (size,) = struct.unpack("!H", head)
                data = b""
                while len(data) < size:
                    data += await stream.receive_some(size - len(data))
                for reply in handle(dns.message.from_wire(data), True):
                    await stream.send_all(struct.pack("!H", len(reply.data)) + reply.data)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_udp)
            nursery.start_soon(trio.serve_listeners, serve_tcp, [trio.SocketListener(tcp)])
            yield host, port
            nursery.cancel_scope.cancel()


#: The four questions a scan asks about example.com, as one batch.
FOUR = [("_mta-sts.example.com", "TXT"), ("_smtp._tls.example.com", "TXT"), ("example.com", "MX"),
        ("mta-sts.example.com", "A")]
FOUR_SECURE = [(q.replace("example.com", "secure.example"), t) for q, t in FOUR]


def config(*servers: tuple[str, int], **kw: float) -> DnsConfig:
    # Generous by default so that a loaded CI machine does not turn answers into timeouts; the
    # tests about timeouts pass short ones.
    values: dict[str, float] = {"timeout": 2.0, "retries": 2, "backoff": 0.02, "sockets": 2}
    values.update(kw)
    return DnsConfig(
        resolvers=servers,
        timeout=values["timeout"],
        retries=int(values["retries"]),
        backoff=values["backoff"],
        sockets=int(values["sockets"]),
    )


# ---------------------------------------------------------------------------------------------
# Pure parts


def test_query_wire_is_a_recursive_edns_query() -> None:
    wire = build_query(0x1234, encode_qname("_MTA-STS.Example.com."), dns.rdatatype.TXT)
    msg = dns.message.from_wire(wire)
    assert msg.id == 0x1234
    assert msg.flags & dns.flags.RD
    assert msg.edns == 0 and msg.payload == 1232
    assert msg.question[0].name == dns.name.from_text("_mta-sts.example.com")
    assert msg.question[0].rdtype == dns.rdatatype.TXT
    # AD asks a validating resolver to report validation (RFC 6840 §5.7); no DO, no CD
    assert msg.flags & dns.flags.AD and not msg.flags & dns.flags.CD
    assert not msg.ednsflags & dns.flags.DO


def test_encode_qname_rejects_bad_names_and_handles_idna() -> None:
    with pytest.raises(ValueError):
        encode_qname("a..b")
    with pytest.raises(ValueError):
        encode_qname("x" * 64 + ".com")
    with pytest.raises(ValueError):
        encode_qname(".".join(["abcdefghi"] * 30))
    assert encode_qname("bücher.example") == dns.name.from_text("xn--bcher-kva.example").to_wire()


def test_check_response_rejects_mismatches() -> None:
    question = encode_qname("a.example") + struct.pack("!HH", 1, 1)
    query = dns.message.from_wire(build_query(7, encode_qname("a.example"), 1))
    good = dns.message.make_response(query)
    good.set_rcode(dns.rcode.NXDOMAIN)
    assert check_response(good.to_wire(), 7, question) == Answer(3)
    assert check_response(good.to_wire(), 8, question) == "wrong id"
    assert check_response(query.to_wire(), 7, question) == "not a response to a query"
    assert check_response(b"\x00\x07", 7, question) == "short message"
    other = dns.message.make_response(dns.message.make_query("b.example", "A", id=7))
    assert check_response(other.to_wire(), 7, question) == "wrong question"
    upper = dns.message.make_response(dns.message.make_query("A.EXAMPLE", "A", id=7))
    assert check_response(upper.to_wire(), 7, question) == Answer(0)


def test_check_response_parses_answers_strictly() -> None:
    query = dns.message.make_query("a.example", "TXT", id=5)
    question = encode_qname("a.example") + struct.pack("!HH", 16, 1)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("a.example.", 60, "IN", "TXT", '"x" "y"'))
    response.answer.append(dns.rrset.from_text("a.example.", 60, "CH", "TXT", '"chaos"'))
    wire = response.to_wire()
    parsed = check_response(wire, 5, question)
    assert isinstance(parsed, Answer) and parsed.records is not None
    assert [(str(o), t, rd.to_text()) for o, t, rd in parsed.records] == [
        ("a.example.", 16, '"x" "y"')
    ]
    # ANCOUNT claiming a record that is not there
    assert str(check_response(wire[:6] + b"\x00\x03" + wire[8:], 5, question)).startswith(
        "malformed response"
    )
    # an RDLENGTH one longer than the rdata: the next record's bytes would be eaten
    at = wire.index(b"\x01x\x01y") - 2  # the first TXT record's RDLENGTH field
    assert wire[at : at + 2] == b"\x00\x04"
    bad = wire[:at] + b"\x00\x05" + wire[at + 2 :]
    assert str(check_response(bad, 5, question)).startswith("malformed response")


@pytest.mark.parametrize("text", ["example.com.", "MX1.Example.COM.", ".", "x\\.y.example.",
                                  'we"ird.example.', "a\\032b.example.", "xn--mnchen-3ya.de.",
                                  "_smtp._tls.example.", "münchen.de."])
def test_name_shortcuts_agree_with_dnspython(text: str) -> None:
    """The probe's text and key shortcuts for names say what dnspython's Name would."""
    name = dns.name.from_text(text)
    want = name.to_text(omit_final_dot=True).lower() if name != dns.name.root else ""
    assert dnswire.host_text(name) == want
    assert dnswire.qname_key(text) == dnswire.name_key(name)
    assert dnswire.name_key(name) == dnswire.name_key(dns.name.from_text(text.upper()))


def _response(qname: str, qtype: str, qid: int, *records: tuple[str, str, str, str],
              rcode: int = 0, flags: int = 0) -> tuple[bytes, bytes]:
    """A response's wire bytes to (qid, qname, qtype) with (owner, class, type, text) records,
    and the question ``check_response`` compares it with."""
    query = dns.message.make_query(qname, qtype, id=qid)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.Rcode(rcode))
    response.flags |= flags
    for owner, rdclass, rdtype, text in records:
        response.answer.append(dns.rrset.from_text(owner, 60, rdclass, rdtype, text))
    question = encode_qname(qname) + struct.pack("!HH", dns.rdatatype.from_text(qtype), 1)
    return response.to_wire(), question


def test_check_response_header_edges() -> None:
    wire, question = _response("a.example", "A", 7, rcode=2)
    assert check_response(wire[:11], 7, question) == "short message"
    assert check_response(wire[:12], 7, question) == "wrong question"  # header, no question
    two = wire[:4] + b"\x00\x02" + wire[6:]  # QDCOUNT 2 before an intact first question
    assert check_response(two, 7, question) == "wrong question"
    assert check_response(wire, 7, question) == Answer(2)
    truncated, _ = _response("a.example", "A", 7, rcode=2, flags=dns.flags.TC)
    assert check_response(truncated, 7, question) == Answer(2, truncated=True)


def test_check_response_keeps_unknown_classes_out_and_names_parse_errors() -> None:
    """A record of a class above 32767 is read (and left out: not IN), not refused as
    malformed; a record whose RDLENGTH runs past the message is FormError, named so."""
    wire, question = _response("a.example", "A", 3, ("a.example.", "IN", "A", "192.0.2.1"),
                               ("a.example.", "CLASS32769", "TYPE1", r"\# 4 c0000202"))
    parsed = check_response(wire, 3, question)
    assert isinstance(parsed, Answer) and parsed.records is not None
    assert [rd.to_text() for _, _, rd in parsed.records] == ["192.0.2.1"]
    cut = wire[:-2]
    reason = check_response(cut, 3, question)
    assert isinstance(reason, str) and reason.startswith("malformed response: FormError")


def test_interpret_results_field_by_field() -> None:
    def result(qname: str, qtype: str, *records: tuple[str, str, str, str], rcode: int = 0
               ) -> DnsResult:
        wire, question = _response(qname, qtype, 1, *records, rcode=rcode)
        answer = check_response(wire, 1, question)
        assert isinstance(answer, Answer)
        return interpret(qname, qtype, answer, 2)

    INSECURE = Dnssec.INSECURE  # no AD flag in these answers
    assert result("n.example", "TXT", rcode=3) == DnsResult(
        "n.example", "TXT", DnsStatus.NXDOMAIN, rcode=3, attempts=2, dnssec=INSECURE)
    assert result("r.example", "MX", rcode=9) == DnsResult(
        "r.example", "MX", DnsStatus.ERROR, rcode=9, error="rcode 9", attempts=2,
        dnssec=Dnssec.ERROR)  # nothing can be said of a failed lookup
    assert result("t.example", "TXT", ("t.example.", "IN", "TXT", '"a" "b"')) == DnsResult(
        "t.example", "TXT", DnsStatus.NOERROR, rcode=0, txt=(("a", "b"),), attempts=2,
        dnssec=INSECURE)
    assert result("m.example", "MX", ("m.example.", "IN", "MX", "5 MX.Example.")) == DnsResult(
        "m.example", "MX", DnsStatus.NOERROR, rcode=0, mx=(MxRecord(5, "mx.example"),),
        attempts=2, dnssec=INSECURE)
    assert result("c.example", "AAAA", ("c.example.", "IN", "CNAME", "h.example."),
                  ("h.example.", "IN", "AAAA", "2001:db8::1")) == DnsResult(
        "c.example", "AAAA", DnsStatus.NOERROR, rcode=0, addresses=("2001:db8::1",),
        cname_chain=("h.example",), attempts=2, dnssec=INSECURE)
    # a CNAME whose target has no record of the type: NOERROR, no data, the chain kept
    assert result("d.example", "A", ("d.example.", "IN", "CNAME", "e.example.")) == DnsResult(
        "d.example", "A", DnsStatus.NOERROR, rcode=0, cname_chain=("e.example",), attempts=2,
        dnssec=INSECURE)
    # an unknown rcode with records: ERROR with the rcode, the records still read
    assert result("u.example", "A", ("u.example.", "IN", "A", "192.0.2.9"), rcode=11) == (
        DnsResult("u.example", "A", DnsStatus.ERROR, rcode=11, addresses=("192.0.2.9",),
                  error="rcode 11", attempts=2, dnssec=Dnssec.ERROR))


def test_outcome_says_why_there_was_no_answer() -> None:
    assert attempt_outcome(None, None) == "timeout"
    assert attempt_outcome(None, "send failed") == "send failed"
    assert attempt_outcome(None, None, 2, "wrong id") == (
        "timeout (2 invalid responses ignored: wrong id)")
    assert attempt_outcome(Answer(0), "send failed", 2, "wrong id") == Answer(0)


def test_interpret_cname_chain_limit() -> None:
    names = [f"c{i}.example." for i in range(20)]
    msg = dns.message.make_response(dns.message.make_query(names[0], "A", id=9))
    for a, b in itertools.pairwise(names):
        msg.answer.append(dns.rrset.from_text(a, 60, "IN", "CNAME", b))
    question = encode_qname(names[0]) + struct.pack("!HH", 1, 1)
    answer = check_response(msg.to_wire(), 9, question)
    assert isinstance(answer, Answer) and answer.records is not None
    assert len(answer.records) == 19
    result = interpret(names[0], "A", answer, 1)
    assert result.status is DnsStatus.ERROR and result.error == "cname loop"
    assert len(result.cname_chain) == 16 and result.dnssec is Dnssec.ERROR


def test_interpret_stops_a_cname_loop_at_the_first_repeat() -> None:
    wire, question = _response("a.example", "A", 4, ("a.example.", "IN", "CNAME", "b.example."),
                               ("b.example.", "IN", "CNAME", "a.example."))
    answer = check_response(wire, 4, question)
    assert isinstance(answer, Answer)
    result = interpret("a.example", "A", answer, 1)
    assert (result.status, result.error, result.cname_chain) == (
        DnsStatus.ERROR, "cname loop", ("b.example",))
    assert result.dnssec is Dnssec.ERROR
    # a loop that does not come back to the name asked: b -> c -> b
    wire, question = _response("a.example", "A", 4, ("a.example.", "IN", "CNAME", "b.example."),
                               ("b.example.", "IN", "CNAME", "c.example."),
                               ("c.example.", "IN", "CNAME", "b.example."))
    answer = check_response(wire, 4, question)
    assert isinstance(answer, Answer)
    assert interpret("a.example", "A", answer, 1).cname_chain == ("b.example", "c.example")


def test_a_negative_answer_keeps_the_ad_flag() -> None:
    wire, question = _response("n.example", "TXT", 6, rcode=3, flags=dns.flags.AD)
    assert check_response(wire, 6, question) == Answer(3, authentic=True)
    plain, _ = _response("n.example", "TXT", 6, rcode=3)
    assert check_response(plain, 6, question) == Answer(3, authentic=False)
    cut, _ = _response("n.example", "TXT", 6, flags=dns.flags.AD | dns.flags.TC)
    assert check_response(cut, 6, question) == Answer(0, truncated=True, authentic=True)


def resolv_conf_nameservers(path: Path = Path("/etc/resolv.conf")) -> tuple[tuple[str, int], ...]:
    """The ``nameserver`` lines of resolv.conf(5), read here without dnspython."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return ()
    fields = (line.split() for line in text.splitlines())
    return tuple((f[1], 53) for f in fields if len(f) > 1 and f[0] == "nameserver")


def test_system_resolvers_and_the_default_config_are_resolv_conf() -> None:
    expected = resolv_conf_nameservers()
    assert system_resolvers() == expected
    assert DnsConfig().resolvers == expected


# ---------------------------------------------------------------------------------------------
# Against a server


@trio_test
async def test_txt_mx_and_cname_chain() -> None:
    async with dns_server(answer) as server, DnsClient(config(server)) as client:
        sts, tlsrpt, mx, host = await client.batch(FOUR)
        null = await client.query("nullmx.example", "MX")
    assert sts.status is DnsStatus.NOERROR and sts.rcode == 0
    assert sts.txt == (("v=STSv1; ", "id=20240101"),)
    assert sorted(tlsrpt.txt) == [("unrelated record",), ("v=TLSRPTv1; rua=mailto:a@example.com",)]
    assert set(mx.mx) == {MxRecord(10, "mx1.example.com"), MxRecord(20, "mx2.example.com")}
    assert host.qname == "mta-sts.example.com" and host.qtype == "A"
    assert host.cname_chain == ("sts.provider.example", "edge.provider.example")
    assert sorted(host.addresses) == ["192.0.2.10", "192.0.2.11"]
    assert null.mx == (MxRecord(0, ""),)
    assert all(r.attempts == 1 for r in (sts, tlsrpt, mx, host, null))
    assert client.queries_sent == 5


@trio_test
async def test_a_batch_with_a_name_that_cannot_be_encoded_asks_each_question_alone() -> None:
    async with dns_server(answer) as server, DnsClient(config(server)) as client:
        bad, mx = await client.batch([("a..example", "A"), ("example.com", "MX")])
        with pytest.raises(ValueError, match="2 wire questions for 1"):
            await client.batch([("example.com", "MX")], wire=[b"x", b"y"])
    assert bad.status is DnsStatus.ERROR and bad.attempts == 0 and bad.error
    assert mx.status is DnsStatus.NOERROR and len(mx.mx) == 2 and mx.attempts == 1
    assert client.queries_sent == 1


@trio_test
async def test_txt_latin1_octets_are_kept() -> None:
    def handle(query: dns.message.Message, _tcp: bool) -> list[Reply]:
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "TXT",
                                                   '"caf\\233"'))
        return [Reply(response.to_wire())]

    async with dns_server(handle) as server, DnsClient(config(server)) as client:
        result = await client.query("x.example", "TXT")
    assert result.txt == (("caf\xe9",),)


@trio_test
async def test_negative_answers_and_cname_loop() -> None:
    async with dns_server(answer) as server, DnsClient(config(server)) as client:
        nx = await client.query("missing.example", "TXT")
        nodata = await client.query("nodata.example", "TXT")
        loop = await client.query("loop.example", "A")
    assert (nx.status, nx.rcode, nx.txt) == (DnsStatus.NXDOMAIN, 3, ())
    assert (nodata.status, nodata.rcode, nodata.txt) == (DnsStatus.NOERROR, 0, ())
    assert loop.status is DnsStatus.ERROR and loop.error == "cname loop"
    assert loop.cname_chain[:2] == ("loop1.example", "loop2.example")


@trio_test
async def test_servfail_then_success_counts_two_attempts() -> None:
    seen: list[str] = []

    def handle(query: dns.message.Message, tcp: bool) -> list[Reply]:
        seen.append(query.question[0].name.to_text())
        if len(seen) == 1:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            return [Reply(response.to_wire())]
        return answer(query, tcp)

    async with dns_server(handle) as server, DnsClient(config(server)) as client:
        result = await client.query("_mta-sts.example.com", "TXT")
    assert result.status is DnsStatus.NOERROR and result.attempts == 2
    assert result.txt == (("v=STSv1; ", "id=20240101"),)
    assert client.queries_sent == 2 and len(seen) == 2


@pytest.mark.parametrize("rcode", [dns.rcode.FORMERR, dns.rcode.NOTIMP, dns.rcode.REFUSED])
@trio_test
async def test_formerr_notimp_and_refused_are_final(rcode: dns.rcode.Rcode) -> None:
    """Unlike SERVFAIL, these judge the question or the client: one attempt, through ``query``
    and through a batch, and the status names the rcode."""
    seen: list[str] = []

    def handle(query: dns.message.Message, tcp: bool) -> list[Reply]:
        seen.append(query.question[0].name.to_text())
        response = dns.message.make_response(query)
        response.set_rcode(rcode)
        return [Reply(response.to_wire())]

    async with dns_server(handle) as server, DnsClient(config(server, retries=2)) as client:
        single = await client.query("_mta-sts.example.com", "TXT")
        batch = await client.batch(FOUR)
    for result in (single, *batch):
        assert result.status is DnsStatus(dns.rcode.to_text(rcode)), result
        assert result.rcode == int(rcode) and result.attempts == 1
    assert len(seen) == 5 == client.queries_sent
    assert dns_probe.is_retried(int(rcode)) is False
    assert dns_probe.is_retried(int(dns.rcode.SERVFAIL)) is True


@trio_test
async def test_batched_first_attempts_retry_each_question_on_its_own() -> None:
    """SERVFAIL for the first ``_mta-sts`` query, silence for the first ``_smtp._tls`` one:
    only those two are asked again, and each result counts its own attempts."""
    seen: list[str] = []

    def handle(query: dns.message.Message, tcp: bool) -> list[Reply]:
        name = query.question[0].name.to_text()
        seen.append(name)
        first = seen.count(name) == 1
        if first and name.startswith("_mta-sts."):
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            return [Reply(response.to_wire())]
        if first and name.startswith("_smtp._tls."):
            return []
        return answer(query, tcp)

    async with (
        dns_server(handle) as server,
        DnsClient(config(server, timeout=0.3, backoff=0.01)) as client,
    ):
        sts, tlsrpt, mx, host = await client.batch(FOUR)
    assert [r.attempts for r in (sts, tlsrpt, mx, host)] == [2, 2, 1, 1]
    assert client.queries_sent == 6 == len(seen)
    assert sorted(seen) == sorted(["_mta-sts.example.com.", "_smtp._tls.example.com."] * 2
                                  + ["example.com.", "mta-sts.example.com."])
    assert sts.status is DnsStatus.NOERROR and sts.txt == (("v=STSv1; ", "id=20240101"),)
    assert tlsrpt.status is DnsStatus.NOERROR and len(tlsrpt.txt) == 2
    assert set(mx.mx) == {MxRecord(10, "mx1.example.com"), MxRecord(20, "mx2.example.com")}
    assert sorted(host.addresses) == ["192.0.2.10", "192.0.2.11"]


@trio_test
async def test_servfail_everywhere_rotates_resolvers() -> None:
    counts = [0, 0]
    checking_disabled: list[bool] = []

    def servfail(i: int) -> Handler:
        def handle(query: dns.message.Message, _tcp: bool) -> list[Reply]:
            counts[i] += 1
            checking_disabled.append(bool(query.flags & dns.flags.CD))
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            return [Reply(response.to_wire())]

        return handle

    async with (
        dns_server(servfail(0), "127.6.53.2") as one,
        dns_server(servfail(1), "127.6.53.3") as two,
        DnsClient(config(one, two, retries=1)) as client,
    ):
        result = await client.query("a.example", "A")
    # two attempts on the two resolvers, then once with CD on the last one: SERVFAIL again, so
    # the server is broken (not DNSSEC-bogus)
    assert result.status is DnsStatus.SERVFAIL and result.rcode == 2 and result.attempts == 3
    assert sorted(counts) == [1, 2] and checking_disabled == [False, False, True]
    assert result.dnssec is Dnssec.ERROR


@trio_test
async def test_timeout_counts_attempts_and_is_bounded() -> None:
    async with (
        dns_server(lambda q, t: []) as server,
        DnsClient(config(server, timeout=0.2, retries=2, backoff=0.05)) as client,
    ):
        start = trio.current_time()
        result = await client.query("slow.example", "A")
        elapsed = trio.current_time() - start
    assert result.status is DnsStatus.TIMEOUT and result.rcode == RCODE_TIMEOUT
    assert result.attempts == 3 and client.queries_sent == 3
    assert 0.6 <= elapsed < deadline_bound(0.6 + 0.15)  # 3 timeouts + 2 backoffs
    assert result.error is not None and "timeout" in result.error


@trio_test
async def test_truncated_udp_answer_is_retried_over_tcp() -> None:
    transports: list[bool] = []
    records = [f'"{i:03d} {"x" * 200}"' for i in range(40)]  # ~8 KB: beyond any UDP payload

    def handle(query: dns.message.Message, tcp: bool) -> list[Reply]:
        transports.append(tcp)
        response = dns.message.make_response(query)
        if not tcp:
            response.flags |= dns.flags.TC
            return [Reply(response.to_wire())]
        response.answer.append(dns.rrset.from_text_list(query.question[0].name, 60, "IN", "TXT",
                                                        records))
        return [Reply(response.to_wire(max_size=65535))]

    async with dns_server(handle) as server, DnsClient(config(server)) as client:
        result = await client.query("big.example", "TXT")
    assert transports == [False, True]
    assert result.status is DnsStatus.NOERROR and len(result.txt) == 40
    assert result.attempts == 2 and client.queries_sent == 2


def _cut_answer(response: dns.message.Message) -> bytes:
    """The response's wire form without OPT, cut in the middle of its last answer record."""
    response.use_edns(False)
    return response.to_wire()[:-3]


def _spoof(kind: str) -> Handler:
    """A hostile server: first a forged answer (192.0.2.66) of ``kind``, then the real one."""

    def handle(query: dns.message.Message, _tcp: bool) -> list[Reply]:
        name = query.question[0].name
        real = dns.message.make_response(query)
        real.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.1"))
        if kind == "wrong-question":
            forged_query = dns.message.make_query("evil.example", "A", id=query.id)
        else:
            forged_query = dns.message.make_query(name, "A", id=query.id)
        forged = dns.message.make_response(forged_query)
        forged.answer.append(dns.rrset.from_text(forged_query.question[0].name, 60, "IN", "A",
                                                 "192.0.2.66"))
        if kind == "wrong-id":
            forged.id = (query.id + 1) % 65536
        wire = forged.to_wire()
        if kind == "malformed":
            wire = _cut_answer(forged)  # correct id and question, answer section cut short
        first = Reply(b"\xde\xad" if kind == "garbage" else wire, other_port=kind == "wrong-port")
        return [first, Reply(real.to_wire())]

    return handle


@pytest.mark.parametrize("kind", ["wrong-id", "wrong-question", "wrong-port", "malformed",
                                  "garbage"])
@trio_test
async def test_forged_or_garbage_responses_are_ignored(kind: str) -> None:
    async with dns_server(_spoof(kind)) as server, DnsClient(config(server)) as client:
        result = await client.query("victim.example", "A")
    assert result.status is DnsStatus.NOERROR
    assert result.addresses == ("192.0.2.1",) and result.attempts == 1
    if kind != "wrong-port":  # the kernel drops those before they reach a connected socket
        assert client.responses_ignored == 1


@trio_test
async def test_only_malformed_responses_time_out_with_a_clear_error() -> None:
    def handle(query: dns.message.Message, _tcp: bool) -> list[Reply]:
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A",
                                                   "192.0.2.66"))
        return [Reply(_cut_answer(response))]

    async with (
        dns_server(handle) as server,
        DnsClient(config(server, timeout=0.2, retries=1)) as client,
    ):
        result = await client.query("broken.example", "A")
    assert result.status is DnsStatus.TIMEOUT and result.attempts == 2
    assert result.error is not None and "malformed response" in result.error
    assert result.addresses == ()
    assert client.responses_ignored == 2


def _always_servfail(query: dns.message.Message, _tcp: bool) -> list[Reply]:
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.SERVFAIL)
    return [Reply(response.to_wire())]


@trio_test
async def test_rate_limiter_paces_every_attempt() -> None:
    # 20 queries/s with no burst: each attempt after the first waits 50 ms for its token.
    async with (
        dns_server(_always_servfail) as server,
        DnsClient(config(server, retries=3, backoff=0), limiter=RateLimiter(20, burst=1)) as client,
    ):
        start = trio.current_time()
        result = await client.query("a.example", "A")
        elapsed = trio.current_time() - start
    assert result.status is DnsStatus.SERVFAIL and result.attempts == 5  # 4 + the CD check
    assert client.queries_sent == 5
    assert 0.2 <= elapsed < deadline_bound(0.2)  # paced at 20/s, never waiting out a deadline


@trio_test
async def test_rate_limiter_paces_a_domain_and_is_not_needed() -> None:
    async with dns_server(answer) as server:
        async with DnsClient(config(server), limiter=RateLimiter(5, burst=1)) as client:
            start = trio.current_time()
            await client.batch(FOUR)
            paced = trio.current_time() - start
        async with DnsClient(config(server)) as client:
            start = trio.current_time()
            await client.batch(FOUR)
            free = trio.current_time() - start
    assert paced >= 3 / 5
    assert free < 3 / 5


@trio_test
async def test_many_concurrent_queries_share_few_sockets() -> None:
    async with (
        dns_server(answer) as server,
        DnsClient(config(server, sockets=1, timeout=5)) as client,
    ):
        results = []

        async def one(i: int) -> None:
            results.append(await client.query("edge.provider.example", "A"))

        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(one, i)
    assert len(results) == 200
    assert all(r.addresses and r.attempts == 1 for r in results)


@trio_test
async def test_unreachable_resolver_and_bad_name_do_not_raise() -> None:
    probe = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await probe.bind(("127.6.53.9", 0))
    closed = probe.getsockname()
    probe.close()  # nothing listens there now: ICMP port unreachable
    async with DnsClient(config(closed, timeout=0.1, retries=1, backoff=0.01)) as client:
        result = await client.query("a.example", "A")
        bad = await client.query("a..example", "A")
    assert result.status is DnsStatus.TIMEOUT and result.attempts == 2
    assert bad.status is DnsStatus.ERROR and bad.attempts == 0 and bad.error


@trio_test
async def test_authority_and_additional_sections_do_not_disturb_the_answer() -> None:
    def handle(query: dns.message.Message, _tcp: bool) -> list[Reply]:
        name = query.question[0].name
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(name, 60, "IN", "MX", "5 mx.example."))
        response.authority.append(dns.rrset.from_text("example.", 60, "IN", "NS", "ns.example."))
        response.additional.append(dns.rrset.from_text("mx.example.", 60, "IN", "A", "192.0.2.5"))
        return [Reply(response.to_wire())]

    async with dns_server(handle) as server, DnsClient(config(server)) as client:
        result = await client.query("example", "MX")
    assert result.mx == (MxRecord(5, "mx.example"),) and result.status is DnsStatus.NOERROR
    assert client.responses_ignored == 0


def test_config_defaults_and_validation() -> None:
    with pytest.raises(ValueError):
        DnsClient(DnsConfig(resolvers=()))
    with pytest.raises(ValueError):
        DnsClient(DnsConfig(resolvers=(("127.0.0.1", 53),), retries=-1))


@trio_test
async def test_benchmarks_run_against_a_server(tmp_path: Path) -> None:
    toplist = tmp_path / "top.csv"
    toplist.write_text("1,example.com\n2,missing.example\n3,v6.example\n\n4,\n")
    domains = list(read_toplist(toplist))
    assert domains == ["example.com", "missing.example", "v6.example"]
    async with dns_server(answer) as server:
        naive = await naive_scan(domains, server, 2, 2.0)
        fast = await client_scan(domains, server, 2, 2.0, 1)
    assert (naive.domains, naive.queries, naive.answered) == (3, 12, 12)
    # v6.example: mta-sts A is empty while the STS TXT exists, so AAAA is asked too
    assert (fast.domains, fast.queries, fast.answered) == (3, 13, 12)
    assert "3 domains, 13 queries (12 answered)" in fast.report("x")


@pytest.mark.parametrize(("a_status", "aaaa_status", "aaaa_addresses", "chosen"), [
    ("NOERROR", "NOERROR", ("2001:db8::1",), "AAAA"),
    ("NOERROR", "NOERROR", (), "A"),
    ("NOERROR", "TIMEOUT", (), "AAAA"),
    ("NXDOMAIN", "SERVFAIL", (), "AAAA"),
    ("TIMEOUT", "TIMEOUT", (), "A"),
    ("TIMEOUT", "NOERROR", (), "A"),
])
def test_merge_keeps_a_failed_aaaa_lookup_after_an_empty_a(
        a_status: str, aaaa_status: str, aaaa_addresses: tuple[str, ...], chosen: str) -> None:
    from survey.core.observations import DnsResult, DnsStatus
    a = DnsResult("mta-sts.example.com", "A", DnsStatus(a_status), attempts=2)
    aaaa = DnsResult("mta-sts.example.com", "AAAA", DnsStatus(aaaa_status),
                     addresses=aaaa_addresses, attempts=3)
    merged = merge_addresses(a, aaaa)
    assert merged.qtype == chosen and merged.attempts == 5


# ---------------------------------------------------------------------------------------------
# DNSSEC status (issue 16): AD in answers, bogus told from broken by a CD query

SIGNED = {"secure.example.", "_25._tcp.mx.secure.example."}
BOGUS = {"bogus.example."}


def validating(query: dns.message.Message, _tcp: bool = False) -> list[Reply]:
    """A validating resolver: AD on signed names (the query asked with AD), SERVFAIL for bogus
    ones unless CD is set (then the data, without AD)."""
    name = query.question[0].name.to_text().lower()
    if name in BOGUS and not query.flags & dns.flags.CD:
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.SERVFAIL)
        return [Reply(response.to_wire())]
    response = dns.message.make_response(query)
    if name.endswith("example."):
        rdtype = dns.rdatatype.to_text(query.question[0].rdtype)
        data = {"TLSA": ["3 1 1 " + "ab" * 32, "0 0 2 " + "cd" * 64], "A": ["192.0.2.7"],
                "MX": ["10 mx.secure.example."], "TXT": ['"v=STSv1; id=1"']}[rdtype]
        response.answer.append(dns.rrset.from_text_list(query.question[0].name, 300, "IN",
                                                        rdtype, data))
    if name in SIGNED and query.flags & (dns.flags.AD | dns.flags.CD) == dns.flags.AD:
        response.flags |= dns.flags.AD
    return [Reply(response.to_wire())]


@trio_test
async def test_dnssec_status_of_answers_and_tlsa_parsed() -> None:
    async with dns_server(validating) as server, DnsClient(config(server)) as client:
        secure = await client.query("secure.example", "MX")
        insecure = await client.query("plain.example", "MX")
        tlsa = await client.query("_25._tcp.mx.secure.example", "TLSA")
        domain = await client.batch(FOUR_SECURE)
    assert secure.dnssec is Dnssec.SECURE and insecure.dnssec is Dnssec.INSECURE
    assert secure.mx == insecure.mx == (MxRecord(10, "mx.secure.example"),)
    assert tlsa.dnssec is Dnssec.SECURE and set(tlsa.tlsa) == {  # an RRset has no order
        TlsaRecord(3, 1, 1, bytes.fromhex("ab" * 32)),
        TlsaRecord(0, 0, 2, bytes.fromhex("cd" * 64))}
    assert {r.text() for r in tlsa.tlsa} == {"3 1 1 " + "ab" * 32, "0 0 2 " + "cd" * 64}
    # the batched first attempts carry AD too
    assert [r.dnssec for r in domain] == [Dnssec.INSECURE, Dnssec.INSECURE, Dnssec.SECURE,
                                          Dnssec.INSECURE]


@trio_test
async def test_bogus_is_told_from_a_broken_server_by_asking_with_cd() -> None:
    async with dns_server(validating) as server, DnsClient(config(server, retries=1)) as client:
        bogus = await client.query("bogus.example", "TXT")
    # what validating senders get (SERVFAIL, no data), marked bogus: the data exists with CD
    assert bogus.status is DnsStatus.SERVFAIL and bogus.txt == ()
    assert bogus.dnssec is Dnssec.BOGUS and bogus.attempts == 3
    assert "with CD: NOERROR" in (bogus.error or "")
    async with dns_server(_always_servfail) as server, DnsClient(config(server)) as client:
        broken = await client.query("bogus.example", "TXT")
    assert broken.status is DnsStatus.SERVFAIL and broken.dnssec is Dnssec.ERROR


@trio_test
async def test_timeouts_and_failures_have_dnssec_error() -> None:
    async with DnsClient(config(("127.6.53.9", 9), timeout=0.05, retries=0)) as client:
        result = await client.query("secure.example", "A")
    assert result.status is DnsStatus.TIMEOUT and result.dnssec is Dnssec.ERROR


@trio_test
async def test_validates_tells_a_validating_resolver_from_one_that_is_not() -> None:
    async with dns_server(validating) as server, DnsClient(config(server)) as client:
        assert await client.validates("secure.example") is True
        assert await client.validates("plain.example") is False
        assert await client.validates("bogus.example") is None


@trio_test
async def test_addresses_and_tlsa_share_one_batch() -> None:
    async with dns_server(validating) as server, DnsClient(config(server)) as client:
        addresses, tlsa = await client.addresses_and_tlsa("mx.secure.example")
        sent = client.queries_sent
    assert addresses.addresses == ("192.0.2.7",) and addresses.qtype == "A"
    assert tlsa.qname == "_25._tcp.mx.secure.example" and len(tlsa.tlsa) == 2
    assert tlsa.dnssec is Dnssec.SECURE and addresses.dnssec is Dnssec.INSECURE
    assert sent == 2
