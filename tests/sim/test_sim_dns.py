"""The test internet's DNS server answers as declared, over real UDP and TCP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from survey.sim.dns_server import AddressPlan, DnsServer, build_zone, parse_question
from survey.sim.scenario import (
    DnsFault,
    HttpsFault,
    MxHost,
    PolicyHost,
    Scenario,
    SmtpBehaviour,
    World,
)
from survey.sim.world import RunningWorld, start_world

D = "faults.test"
LONG = "x" * 300  # one string longer than 255 bytes: split into two character-strings
WORLD = World((
    Scenario("ok.test", mx=(MxHost("mx1.ok.test"), MxHost("mx2.ok.test", 20,
                                                           SmtpBehaviour.NO_STARTTLS)),
             sts_txt=(("v=STSv1;", " id=1"), ("v=spf1 -all",)),
             tlsrpt_txt=(("v=TLSRPTv1; rua=mailto:r@ok.test",),),
             policy_host=PolicyHost(cname_chain=("alias.ok.test", "sts.provider.ok.test"))),
    Scenario("cname.test", sts_cname="record.cname.test", sts_txt=(("v=STSv1; id=2",),),
             policy_host=PolicyHost(fault=HttpsFault.TARPIT)),
    Scenario("nullmx.test", mx=(MxHost("", 0),), tlsrpt_txt=((LONG,),),
             policy_host=PolicyHost(address_override="127.254.0.1")),
    Scenario(D, mx=(MxHost(f"mx.{D}"),), sts_txt=(("v=STSv1; id=3",),),
             policy_host=PolicyHost(fault=HttpsFault.REFUSED),
             dns_faults=((f"_mta-sts.{D}", DnsFault.SERVFAIL),
                         (f"_smtp._tls.{D}", DnsFault.REFUSED),
                         (f"mta-sts.{D}", DnsFault.TIMEOUT),
                         (D, DnsFault.TRUNCATE),
                         (f"mx.{D}", DnsFault.NXDOMAIN))),
    Scenario("loop.test", sts_txt=(("v=STSv1; id=4",),), tlsrpt_txt=(("v=TLSRPTv1;",),),
             dns_faults=(("_mta-sts.loop.test", DnsFault.CNAME_LOOP),
                         ("_smtp._tls.loop.test", DnsFault.NODATA))),
))
PLAN = AddressPlan()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    with start_world(WORLD, tmp_path_factory.mktemp("dnsworld")) as running:
        yield running


def udp(world: RunningWorld, name: str, rdtype: str, timeout: float = 2.0) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, use_edns=0)
    host, port = world.resolver
    return dns.query.udp(query, host, port=port, timeout=timeout)


def tcp(world: RunningWorld, name: str, rdtype: str) -> dns.message.Message:
    host, port = world.resolver
    return dns.query.tcp(dns.message.make_query(name, rdtype), host, port=port, timeout=2)


def records(msg: dns.message.Message) -> list[tuple[str, str, str]]:
    return [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text())
            for rrset in msg.answer for rd in rrset]


def test_txt_with_several_strings_and_records(world: RunningWorld) -> None:
    msg = udp(world, "_mta-sts.ok.test", "TXT")
    assert msg.rcode() == dns.rcode.NOERROR
    assert msg.flags & dns.flags.RA and msg.flags & dns.flags.AA and msg.flags & dns.flags.QR
    strings = sorted(rd.strings for rrset in msg.answer for rd in rrset)
    assert strings == [(b"v=STSv1;", b" id=1"), (b"v=spf1 -all",)]


def test_long_txt_string_is_split(world: RunningWorld) -> None:
    msg = udp(world, "_smtp._tls.nullmx.test", "TXT")
    (rd,) = msg.answer[0]
    assert rd.strings == (b"x" * 255, b"x" * 45)


def test_policy_host_cname_chain_then_address(world: RunningWorld) -> None:
    msg = udp(world, "mta-sts.ok.test", "A")
    got = records(msg)
    assert got[:2] == [("mta-sts.ok.test.", "CNAME", "alias.ok.test."),
                       ("alias.ok.test.", "CNAME", "sts.provider.ok.test.")]
    assert got[2][:2] == ("sts.provider.ok.test.", "A")
    assert got[2][2] == PLAN.policy_address("ok.test", None)
    assert got[2][2] in PLAN.https_addresses()


def test_sts_cname_to_record_holder(world: RunningWorld) -> None:
    got = records(udp(world, "_mta-sts.cname.test", "TXT"))
    assert got == [("_mta-sts.cname.test.", "CNAME", "record.cname.test."),
                   ("record.cname.test.", "TXT", '"v=STSv1; id=2"')]


def test_addresses_follow_the_plan(world: RunningWorld) -> None:
    def a(name: str) -> str:
        return records(udp(world, name, "A"))[-1][2]

    assert a("mta-sts.cname.test") == PLAN.https_tarpit
    assert a("mta-sts.nullmx.test") == "127.254.0.1"
    assert a("mx2.ok.test") == PLAN.smtp_no_starttls
    assert a("mx1.ok.test") in PLAN.smtp_addresses()


def test_mx_and_null_mx(world: RunningWorld) -> None:
    assert sorted(r[2] for r in records(udp(world, "ok.test", "MX"))) == [
        "10 mx1.ok.test.", "20 mx2.ok.test."]
    assert records(udp(world, "nullmx.test", "MX")) == [("nullmx.test.", "MX", "0 .")]


def test_nxdomain_and_nodata(world: RunningWorld) -> None:
    assert udp(world, "nothing.ok.test", "TXT").rcode() == dns.rcode.NXDOMAIN
    assert udp(world, "example.com", "A").rcode() == dns.rcode.NXDOMAIN
    nodata = udp(world, "mx1.ok.test", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    # an empty non-terminal exists: NODATA, not NXDOMAIN
    ent = udp(world, "_tls.ok.test", "TXT")
    assert ent.rcode() == dns.rcode.NOERROR and not ent.answer


def test_faults(world: RunningWorld) -> None:
    assert udp(world, f"_mta-sts.{D}", "TXT").rcode() == dns.rcode.SERVFAIL
    assert udp(world, f"_smtp._tls.{D}", "TXT").rcode() == dns.rcode.REFUSED
    assert udp(world, f"mx.{D}", "A").rcode() == dns.rcode.NXDOMAIN
    nodata = udp(world, "_smtp._tls.loop.test", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    with pytest.raises(dns.exception.Timeout):
        udp(world, f"mta-sts.{D}", "A", timeout=0.3)
    host, port = world.resolver
    with pytest.raises(dns.exception.Timeout):  # dropped over TCP too
        dns.query.tcp(dns.message.make_query(f"mta-sts.{D}", "A"), host, port=port, timeout=0.3)
    assert tcp(world, f"_mta-sts.{D}", "TXT").rcode() == dns.rcode.SERVFAIL


def test_cname_loop(world: RunningWorld) -> None:
    got = records(udp(world, "_mta-sts.loop.test", "TXT"))
    assert got == [("_mta-sts.loop.test.", "CNAME", "loop1.loop.test."),
                   ("loop1.loop.test.", "CNAME", "loop2.loop.test."),
                   ("loop2.loop.test.", "CNAME", "loop1.loop.test.")]


def test_truncate_over_udp_full_over_tcp(world: RunningWorld) -> None:
    short = udp(world, D, "MX")
    assert short.flags & dns.flags.TC and not short.answer
    full = tcp(world, D, "MX")
    assert not full.flags & dns.flags.TC
    assert records(full) == [(f"{D}.", "MX", f"10 mx.{D}.")]


def test_tcp_answers_several_queries_on_one_connection(world: RunningWorld) -> None:
    import socket

    host, port = world.resolver
    with socket.create_connection((host, port), timeout=2) as sock:
        for i, name in enumerate(("ok.test", "nullmx.test")):
            q = dns.message.make_query(name, "MX")
            q.id = 100 + i
            dns.query.send_tcp(sock, q)
            msg, _ = dns.query.receive_tcp(sock)
            assert msg.id == 100 + i and msg.answer


def test_query_count_and_case_and_rd(world: RunningWorld) -> None:
    before = world.dns_query_count()
    q = dns.message.make_query("MTA-STS.Ok.TEST", "A")
    q.flags &= ~dns.flags.RD
    host, port = world.resolver
    msg = dns.query.udp(q, host, port=port, timeout=2)
    assert msg.question[0].name.to_text() == "MTA-STS.Ok.TEST."  # echoed as sent
    assert not msg.flags & dns.flags.RD and msg.flags & dns.flags.RA
    assert records(msg)[-1][1] == "A"
    assert world.dns_query_count() == before + 1


def test_garbage_is_dropped() -> None:
    server = DnsServer(build_zone(WORLD, PLAN))
    assert parse_question(b"\x00" * 5) is None
    assert server.respond(b"\x12\x34" + b"\x81\x00" + b"\x00" * 20, tcp=False) is None  # QR
    assert server.respond(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01"
                          b"\x00\x01", tcp=False) is None  # compression pointer in question
    assert server.query_count == 2


def test_udp_without_edns_truncates_large_answers() -> None:
    many = World((Scenario("big.test", sts_txt=tuple((f"v=spf1 {'a' * 200} {i}",)
                                                     for i in range(4))),))
    server = DnsServer(build_zone(many, PLAN))
    plain = dns.message.make_query("_mta-sts.big.test", "TXT", use_edns=False).to_wire()
    edns = dns.message.make_query("_mta-sts.big.test", "TXT", use_edns=0).to_wire()
    small = server.respond(plain, tcp=False)
    assert small is not None and dns.message.from_wire(small).flags & dns.flags.TC
    full = server.respond(edns, tcp=False)
    assert full is not None and len(dns.message.from_wire(full).answer[0]) == 4


def test_ports_are_free_after_teardown(tmp_path: Path) -> None:
    import socket

    with start_world(WORLD, tmp_path) as running:
        host, port = running.resolver
        assert udp(running, "ok.test", "MX").answer
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind((host, port))  # would raise EADDRINUSE if anything leaked


@pytest.mark.slow
def test_a_burst_of_queries_is_answered_in_full(world: RunningWorld) -> None:
    """A scan sends hundreds of queries at once; none may be lost (each would cost a deadline)."""
    import socket

    host, port = world.resolver
    names = [f"{n}.test" for n in ("ok", "cname", "nullmx", "loop")]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.connect((host, port))
        sock.settimeout(2)
        total = 1500
        for i in range(total):
            q = dns.message.make_query(f"n{i}.{names[i % 4]}", "A")
            q.id = i
            sock.send(q.to_wire())
        ids: set[int] = set()
        while len(ids) < total:
            msg = dns.message.from_wire(sock.recv(4096))
            assert msg.rcode() == dns.rcode.NXDOMAIN
            ids.add(msg.id)
    assert ids == set(range(total))


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import survey.sim.dns_server as dns_server

    monkeypatch.setattr(dns_server, "CACHE_LIMIT", 3)
    server = DnsServer(build_zone(WORLD, PLAN))
    for i in range(10):
        wire = dns.message.make_query(f"x{i}.ok.test", "A").to_wire()
        response = server.respond(wire, tcp=False)
        assert response is not None
        assert dns.message.from_wire(response).rcode() == dns.rcode.NXDOMAIN
        assert len(server._cache) <= 3


def test_domain_that_is_its_own_mx_host_has_an_address() -> None:
    world = World((Scenario("self.test", mx=(MxHost("self.test"),)),))
    server = DnsServer(build_zone(world, PLAN))
    response = server.respond(dns.message.make_query("self.test", "A").to_wire(), tcp=True)
    assert response is not None
    (rrset,) = dns.message.from_wire(response).answer
    assert rrset[0].address in PLAN.smtp_addresses()


V6 = World((
    # policy host through a CNAME: both families; MX hosts: AAAA-only and A-only
    Scenario("v6.test", mx=(MxHost("mx6.v6.test", addresses=("fe80::1", "::ffff:10.0.0.1")),
                            MxHost("mx4.v6.test", 20, addresses=("10.0.0.1",))),
             policy_host=PolicyHost(cname_chain=("sts.v6.test",),
                                    addresses=("192.168.0.1", "fc00::1"))),
    Scenario("aaaa-only.test", policy_host=PolicyHost(addresses=("::1",))),
    # the same MX host named again without addresses: the first scenario decided
    Scenario("shared.test", mx=(MxHost("mx6.v6.test"),)),
))


def answer(server: DnsServer, name: str, rdtype: str) -> tuple[int, list[tuple[str, str, str]]]:
    response = server.respond(dns.message.make_query(name, rdtype).to_wire(), tcp=False)
    assert response is not None
    msg = dns.message.from_wire(response)
    return msg.rcode(), records(msg)


def test_declared_addresses_are_served_as_a_and_aaaa() -> None:
    server = DnsServer(build_zone(V6, PLAN))
    chain = ("mta-sts.v6.test.", "CNAME", "sts.v6.test.")
    assert answer(server, "mta-sts.v6.test", "A") == (
        dns.rcode.NOERROR, [chain, ("sts.v6.test.", "A", "192.168.0.1")])
    assert answer(server, "mta-sts.v6.test", "AAAA") == (
        dns.rcode.NOERROR, [chain, ("sts.v6.test.", "AAAA", "fc00::1")])
    # AAAA-only hosts: A is NODATA (what makes the scanner ask AAAA), AAAA answers in order
    assert answer(server, "mta-sts.aaaa-only.test", "A") == (dns.rcode.NOERROR, [])
    assert answer(server, "mta-sts.aaaa-only.test", "AAAA") == (
        dns.rcode.NOERROR, [("mta-sts.aaaa-only.test.", "AAAA", "::1")])
    assert answer(server, "mx6.v6.test", "A") == (dns.rcode.NOERROR, [])
    assert answer(server, "mx6.v6.test", "AAAA")[1] == [
        ("mx6.v6.test.", "AAAA", "fe80::1"), ("mx6.v6.test.", "AAAA", "::ffff:10.0.0.1")]
    assert answer(server, "mx4.v6.test", "A")[1] == [("mx4.v6.test.", "A", "10.0.0.1")]
    assert answer(server, "mx4.v6.test", "AAAA") == (dns.rcode.NOERROR, [])
    assert PLAN.mx_addresses(MxHost("plain.test")) == (PLAN.mx_address(MxHost("plain.test")),)


def test_a_declared_address_that_is_not_one_is_refused() -> None:
    for bad in ("10.0.0", "fe80::1%eth0", "mx.example"):
        world = World((Scenario("bad.test", policy_host=PolicyHost(addresses=(bad,))),))
        with pytest.raises(ValueError, match="not an IP address"):
            build_zone(world, PLAN)
