"""The funnel (``survey.scan.funnel``): what is asked about a domain, in order, against the
in-process DNS server of the probe tests; which probes a domain's answers call for, against the
test internet run in process."""

from __future__ import annotations

import datetime as dt
import functools
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import trio

from survey.core.observations import (
    DnsResult,
    DnsStatus,
    DomainObservations,
    HttpsFetch,
    MxRecord,
)
from survey.dataset.schema import RunContext
from survey.probes.dns import DnsClient, encode_qname
from survey.scan import funnel
from survey.scan.config import ScanConfig
from survey.sim.ca import WRONG_NAME
from survey.sim.catalogue import policy_body
from survey.sim.scenario import CertKind, Dnssec, MxHost, PolicyHost, Scenario, Tlsa, World
from survey.sim.world import run_world
from survey.toplist.reader import ToplistEntry
from tests.conftest import trio_test
from tests.probes.test_probe_dns import Reply, answer, config, dns_server


def each_name_encoded(domain: str) -> list[bytes]:
    """The four questions of RFC 8461 §3.1 / §3.3 and RFC 8460 §3 for ``domain``, each name
    encoded on its own (TXT 16, MX 15, A 1, class IN 1: RFC 1035 §3.2.2), [] if one cannot be."""
    names = [f"_mta-sts.{domain}", f"_smtp._tls.{domain}", domain, f"mta-sts.{domain}"]
    try:
        return [encode_qname(n) + struct.pack("!HH", t, 1) for n, t in
                zip(names, (16, 16, 15, 1), strict=True)]
    except ValueError:
        return []


def test_domain_questions_equal_encoding_each_name() -> None:
    for domain in ("example.com", "Example.COM.", "", "münchen.de", "a" * 63 + ".example",
                   "x." * 120, ".", "a..b"):
        assert funnel.domain_questions(domain) == each_name_encoded(domain), domain


def _domain_of_wire_length(octets: int) -> str:
    """An ASCII domain whose wire form is ``octets`` long (labels of 63, the root octet)."""
    labels, left = [], octets - 1
    while left > 64:
        labels.append("a" * 63)
        left -= 64
    return ".".join([*labels, "b" * (left - 1)])


def test_a_name_of_255_octets_is_asked_and_one_of_256_is_not() -> None:
    """RFC 1035 §2.3.4: a name is 255 octets or less in wire form. The longest of the four
    names is ``_smtp._tls.<d>``, 11 octets more than ``<d>`` (labels of 5 and 4, a length
    octet each)."""
    at_limit = _domain_of_wire_length(244)
    questions = funnel.domain_questions(at_limit)
    assert len(questions) == 4
    assert len(questions[1]) == 255 + 4  # the name, then QTYPE and QCLASS
    assert [len(q) - 4 for q in questions] == [244 + 9, 255, 244, 244 + 8]
    assert funnel.domain_questions(_domain_of_wire_length(245)) == []  # _smtp._tls.: 256


class RecordingClient(DnsClient):
    """The real client; it keeps the wire questions each batch was handed."""

    handed: list[Sequence[bytes] | None]

    async def batch(self, asked: Sequence[tuple[str, str]], *,
                    wire: Sequence[bytes] | None = None) -> list[DnsResult]:
        self.handed = [*getattr(self, "handed", []), wire]
        return await super().batch(asked, wire=wire)


@trio_test
async def test_the_batch_is_handed_the_domain_encoded_once() -> None:
    """The plan encodes the domain once for its four names (the module's reason for
    ``domain_questions``); the resolver gets those questions and encodes nothing again."""
    async with dns_server(answer) as server, RecordingClient(config(server)) as client:
        await funnel.lookup_domain(client, "Example.COM")
        await funnel.lookup_domain(client, "a..example")
    assert client.handed == [each_name_encoded("example.com"), []]


@trio_test
async def test_the_four_lookups_of_a_domain_in_order_in_one_batch() -> None:
    async with dns_server(answer) as server, DnsClient(config(server)) as client:
        sts, tlsrpt, mx, host = await funnel.lookup_domain(client, "example.com")
    assert [(r.qname, r.qtype) for r in (sts, tlsrpt, mx, host)] == [
        ("_mta-sts.example.com", "TXT"), ("_smtp._tls.example.com", "TXT"),
        ("example.com", "MX"), ("mta-sts.example.com", "A")]
    assert sts.txt == (("v=STSv1; ", "id=20240101"),) and sts.status is DnsStatus.NOERROR
    assert set(mx.mx) == {MxRecord(10, "mx1.example.com"), MxRecord(20, "mx2.example.com")}
    assert sorted(host.addresses) == ["192.0.2.10", "192.0.2.11"]
    assert all(r.attempts == 1 for r in (sts, tlsrpt, mx, host))
    assert client.queries_sent == 4  # A has addresses: no AAAA


@trio_test
async def test_policy_host_aaaa_only_when_sts_record_and_no_a() -> None:
    async with dns_server(answer) as server, DnsClient(config(server)) as client:
        *_, with_txt = await funnel.lookup_domain(client, "v6.example")
        *_, without_txt = await funnel.lookup_domain(client, "v6none.example")
        sent = client.queries_sent
        v6 = await client.resolve_addresses("v6only.example")
    assert with_txt.addresses == ("2001:db8::2",) and with_txt.attempts == 2
    assert with_txt.qtype == "AAAA"
    assert without_txt.addresses == () and without_txt.qtype == "A"
    assert sent == 4 + 1 + 4  # the AAAA of v6.example only
    assert v6.addresses == ("2001:db8::1",) and v6.qtype == "AAAA"


@trio_test
async def test_a_domain_that_cannot_be_encoded_is_asked_name_by_name() -> None:
    async with dns_server(answer) as server, DnsClient(config(server)) as client:
        results = await funnel.lookup_domain(client, "a..example")
    assert [r.status for r in results] == [DnsStatus.ERROR] * 4
    assert all(r.attempts == 0 and r.error for r in results)
    assert client.queries_sent == 0


# --- observe: which probes a domain's answers call for, on the test internet ------------------

def _sts(domain: str, *, txt: bool = True, policy: bool = True,
         mx: tuple[MxHost, ...] | None = None, **kw: Any) -> Scenario:
    """A domain with its MX hosts (default: ``mx.<domain>``), the ``_mta-sts`` TXT record and
    the policy host as asked; the policy is ``enforce`` and lists the MX hosts."""
    hosts = mx or (MxHost(f"mx.{domain}", tlsa=kw.pop("tlsa", ())),)
    return Scenario(domain, mx=hosts, sts_txt=(("v=STSv1; id=1",),) if txt else (),
                    policy_host=PolicyHost(body=policy_body("enforce", tuple(
                        h.name for h in hosts))) if policy else None, **kw)


OBSERVED = World((
    _sts("sts.test"),
    _sts("txtonly.test", policy=False),
    _sts("policyonly.test", txt=False),
    _sts("plain.test", txt=False, policy=False),
    _sts("dane.test", txt=False, policy=False, tlsa=(Tlsa(3, 1, 1),), dnssec=Dnssec.SECURE),
    _sts("unsigned.test", txt=False, policy=False, tlsa=(Tlsa(3, 1, 1),)),
    _sts("unsigned-sts.test", tlsa=(Tlsa(3, 1, 1),)),
    _sts("ta.test", txt=False, policy=False, tlsa=(Tlsa(2, 0, 1),), dnssec=Dnssec.SECURE),
    _sts("wrong-ta.test", txt=False, policy=False, dnssec=Dnssec.SECURE, mx=(MxHost(
        "mx.wrong-ta.test", cert=CertKind.WRONG_NAME, tlsa=(Tlsa(2, 0, 1),)),)),
    _sts("two.test", mx=(MxHost("mx2.two.test", preference=20), MxHost("mx1.two.test"))),
))


def _probed(obs: DomainObservations) -> tuple[bool, tuple[str, ...], tuple[str, ...] | None]:
    """Whether the policy was fetched, the MX hosts probed over SMTP, the hosts whose TLSA
    records were looked up (None: not looked up)."""
    return (obs.policy_fetch is not None, tuple(p.host for p in obs.smtp),
            None if obs.dane is None else tuple(d.host for d in obs.dane))


@trio_test
async def test_observe_asks_only_what_the_answers_call_for(tmp_path: Path) -> None:
    """The funnel's rules (module docstring, ``observe``): the policy is fetched when the
    ``_mta-sts`` TXT record exists or the policy host has an address (RFC 8461 §3.3); with
    ``--smtp`` the MX hosts are probed when the TXT record exists or a policy was fetched; TLSA
    is looked up for a secure MX answer (RFC 7672 §2.2.1), or for any MX with ``--tlsa all``; a
    chain is checked only against records a DANE sender uses (secure ones), and a host with
    such records is probed even without MTA-STS. The row's time is now, in UTC."""
    async with trio.open_nursery() as nursery:
        world = await nursery.start(functools.partial(run_world, OBSERVED, tmp_path))

        def scan_config(tlsa: str) -> ScanConfig:
            return ScanConfig(RunContext("observe", "test"), (world.resolver,), smtp=True,
                              tlsa=tlsa, https_port=world.https_port,
                              smtp_port=world.smtp_port, ca_bundle=world.ca_bundle,
                              allow_private=True, dns_timeout=10.0, timeout=10.0)

        async with funnel.open_probes(scan_config("secure")) as probes:
            secure = {d: await funnel.observe(d, probes) for d in (
                "sts.test", "txtonly.test", "policyonly.test", "plain.test", "dane.test",
                "ta.test", "wrong-ta.test")}
            capped = await funnel.observe("two.test", probes, max_mx=1)
        async with funnel.open_probes(scan_config("all")) as probes:
            every = {d: await funnel.observe(d, probes, tlsa="all") for d in (
                "unsigned.test", "unsigned-sts.test")}
        nursery.cancel_scope.cancel()

    assert {d: _probed(o) for d, o in secure.items()} == {
        "sts.test": (True, ("mx.sts.test",), None),
        "txtonly.test": (True, ("mx.txtonly.test",), None),  # the TXT record alone
        "policyonly.test": (True, ("mx.policyonly.test",), None),  # the policy alone
        "plain.test": (False, (), None),
        "dane.test": (False, ("mx.dane.test",), ("mx.dane.test",)),  # a usable TLSA record
        "ta.test": (False, ("mx.ta.test",), ("mx.ta.test",)),
        "wrong-ta.test": (False, ("mx.wrong-ta.test",), ("mx.wrong-ta.test",)),
    }
    assert _probed(capped) == (True, ("mx1.two.test",), None)  # max_mx=1: the preferred one
    txtonly = secure["txtonly.test"].policy_fetch
    assert txtonly is not None and txtonly.body is None  # asked, nothing there
    [dane] = secure["dane.test"].dane or ()
    assert dane.smtp_dane == "valid" and dane.tlsa.tlsa and dane.address_dnssec == "secure"
    # DANE-TA: the CA matches, and the leaf must present a reference identifier (the TLSA base
    # domain, the MX host or the recipient domain: RFC 7672 §3.2.3)
    assert [h.smtp_dane for h in secure["ta.test"].dane or ()] == ["valid"]
    assert [h.smtp_dane for h in secure["wrong-ta.test"].dane or ()] == ["mismatch"]
    assert {d: _probed(o) for d, o in every.items()} == {
        "unsigned.test": (False, (), ("mx.unsigned.test",)),  # records no sender uses
        "unsigned-sts.test": (True, ("mx.unsigned-sts.test",), ("mx.unsigned-sts.test",)),
    }
    for obs in every.values():
        [host] = obs.dane or ()
        assert host.tlsa.tlsa and host.smtp_dane is None  # found, but not secure: not checked

    before = dt.datetime.now(dt.UTC)
    row, status = funnel.row_for(ToplistEntry(7, "sts.test"), secure["sts.test"],
                                 RunContext("observe", "test"))
    after = dt.datetime.now(dt.UTC)
    assert status == "enforce" and row["rank"] == 7 and row["domain"] == "sts.test"
    assert before <= row["scanned_at"] <= after  # aware: a naive time cannot be compared


def test_mx_hosts_by_preference_without_null_mx_or_repeats() -> None:
    """RFC 5321 §5.1: the lowest preference first; RFC 7505: the null MX ("0 .") is no host;
    a host listed twice is probed once."""
    mx = DnsResult("d.example", "MX", DnsStatus.NOERROR, 0, mx=(
        MxRecord(30, "c.d.example"), MxRecord(20, "b.d.example"), MxRecord(0, ""),
        MxRecord(10, "a.d.example"), MxRecord(40, "b.d.example")))
    assert funnel.mx_hosts(mx, 10) == ["a.d.example", "b.d.example", "c.d.example"]
    assert funnel.mx_hosts(mx, 2) == ["a.d.example", "b.d.example"]


#: A validating resolver's view of two signed domains: one MX host is a CNAME.
SIGNED: dict[tuple[str, str], list[str]] = {
    ("cname.example.", "MX"): ["10 mx.cname.example."],
    ("mx.cname.example.", "CNAME"): ["mx.target.example."],
    ("mx.target.example.", "A"): ["192.0.2.25"],
    ("_25._tcp.mx.target.example.", "TLSA"): ["3 1 1 " + "aa" * 32],
    ("_25._tcp.mx.cname.example.", "TLSA"): ["3 1 1 " + "bb" * 32],
    ("direct.example.", "MX"): ["10 mx.direct.example."],
    ("mx.direct.example.", "A"): ["192.0.2.26"],
    ("_25._tcp.mx.direct.example.", "TLSA"): ["3 1 1 " + "cc" * 32],
}


class SignedServer:
    """Answers from ``zone`` with the AD flag (a secure answer), following CNAMEs; NXDOMAIN
    for other names. Keeps every question it was asked."""

    def __init__(self, zone: dict[tuple[str, str], list[str]] | None = None) -> None:
        self.asked: list[tuple[str, str]] = []
        self.zone = SIGNED if zone is None else zone

    def __call__(self, query: dns.message.Message, _tcp: bool = False) -> list[Reply]:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AD
        name, rdtype = query.question[0].name, dns.rdatatype.to_text(query.question[0].rdtype)
        self.asked.append((name.to_text(), rdtype))
        while (name.to_text(), "CNAME") in self.zone and rdtype != "CNAME":
            rrset = dns.rrset.from_text_list(name, 300, "IN", "CNAME", self.zone[
                name.to_text(), "CNAME"])
            response.answer.append(rrset)
            name = rrset[0].target
        if (name.to_text(), rdtype) in self.zone:
            response.answer.append(dns.rrset.from_text_list(name, 300, "IN", rdtype, self.zone[
                name.to_text(), rdtype]))
        elif not any(key == name.to_text() for key, _ in self.zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return [Reply(response.to_wire())]


class NoFetch:
    """Neither domain publishes MTA-STS: a fetch would be a bug of the funnel."""

    async def fetch(self, domain: str, addresses: tuple[str, ...]) -> HttpsFetch:
        raise AssertionError(f"policy fetch for {domain}")


@trio_test
async def test_tlsa_of_a_secure_mx_at_the_cname_target_and_no_question_twice() -> None:
    """RFC 7672 §2.2.2: the TLSA records of an MX host whose secure address answer came through
    a CNAME are looked up at the expanded name first; the lookup at the host's own name goes out
    with its addresses and is not asked again."""
    server = SignedServer()
    async with dns_server(server) as address, DnsClient(config(address)) as client:
        probes = funnel.Probes(client, NoFetch(), None)
        cname = await funnel.observe("cname.example", probes)
        direct = await funnel.observe("direct.example", probes)
    [via] = cname.dane or ()
    assert (via.host, via.tlsa.qname) == ("mx.cname.example", "_25._tcp.mx.target.example")
    assert [r.data for r in via.tlsa.tlsa] == [bytes.fromhex("aa" * 32)]
    [own] = direct.dane or ()
    assert (own.host, own.tlsa.qname) == ("mx.direct.example", "_25._tcp.mx.direct.example")
    assert [r.data for r in own.tlsa.tlsa] == [bytes.fromhex("cc" * 32)]
    assert own.address_dnssec == "secure" and own.smtp_dane is None  # no prober
    assert len(server.asked) == len(set(server.asked)), server.asked
    assert ("_25._tcp.mx.target.example.", "TLSA") in server.asked


@trio_test
async def test_dane_ta_leaf_may_name_the_cname_target_only(tmp_path: Path) -> None:
    """RFC 7672 §3.2.3: a DANE-TA match also needs the leaf to present a reference
    identifier, the first of them the TLSA base domain: for an MX host that is a secure CNAME,
    the expanded name whose TLSA records are used (§2.2.2). Here the leaf names only that
    target (``wrong.invalid``), not the MX host nor the domain."""
    host = MxHost("mx.cname.test", cert=CertKind.WRONG_NAME, tlsa=(Tlsa(2, 0, 1),))
    async with trio.open_nursery() as nursery:
        world = await nursery.start(functools.partial(
            run_world, World((Scenario("cname.test", mx=(host,)),)), tmp_path, dns=False))
        issuer = world.ca.tlsa_data(host.name, CertKind.WRONG_NAME, 2, 0, 1).hex()
        server = SignedServer({
            ("cname.test.", "MX"): ["10 mx.cname.test."],
            ("mx.cname.test.", "CNAME"): [f"{WRONG_NAME}."],
            (f"{WRONG_NAME}.", "A"): [world.plan.smtp_addresses()[0]],
            (f"_25._tcp.{WRONG_NAME}.", "TLSA"): [f"2 0 1 {issuer}"],
        })
        async with dns_server(server) as address:
            cfg = ScanConfig(RunContext("observe", "test"), (address,), smtp=True,
                             smtp_port=world.smtp_port, ca_bundle=world.ca_bundle,
                             allow_private=True, dns_timeout=10.0, timeout=10.0)
            async with funnel.open_probes(cfg) as probes:
                obs = await funnel.observe("cname.test", probes)
        nursery.cancel_scope.cancel()
    [dane] = obs.dane or ()
    assert dane.tlsa.qname == f"_25._tcp.{WRONG_NAME}" and dane.tlsa.tlsa
    assert [p.host for p in obs.smtp] == ["mx.cname.test"]
    assert dane.smtp_dane == "valid"
