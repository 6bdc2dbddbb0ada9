"""The catalogue's DNSSEC/DANE side (issue 16): every outcome and code has a scenario, the
expectations are well formed, and the test internet answers each scenario's lookups with the
DNSSEC status its declarations give (what a validating resolver would conclude)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from survey.sim.ca import TestCA
from survey.sim.catalogue import (
    SMTP_EXTRA_MISTAKES,
    catalogue,
    dane_with_smtp,
    default_dane,
    mistakes_of,
)
from survey.sim.dns_server import AddressPlan, DnsServer, build_zone, tlsa_owner
from survey.sim.scenario import DnsFault, Dnssec, Scenario, World

SCENARIOS = catalogue()
#: The contract's vocabulary (/CONTRACT-16: columns ``dane``, ``*_dnssec``, ``smtp_dane``,
#: ``sender_*``; the DANE mistake codes).
DANE_VERDICTS = {"none", "insecure", "partial", "usable", "bogus"}
LOOKUP_STATUSES = {"secure", "insecure", "bogus", "error"}
DANE_CODES = {"dnssec_bogus", "tlsa_insecure", "tlsa_unusable_usage", "tlsa_partial",
              "tlsa_bogus", "dane_mismatch", "dane_sts_conflict"}
MECHANISMS = {"dane", "mta-sts", "none"}
PROTECTIONS = {"deferred", "none", "testing", "encrypted", "authenticated"}
#: Lookups that fail: no answer to judge (a CNAME loop is answered, but the lookup fails).
_FAILURES = {DnsFault.SERVFAIL, DnsFault.REFUSED, DnsFault.TIMEOUT, DnsFault.CNAME_LOOP}
_RANK = {Dnssec.SECURE: 0, Dnssec.INSECURE: 1, Dnssec.BOGUS: 2}


def declared(sc: Scenario, owner: str) -> Dnssec:
    """The status ``owner``'s RRsets have by ``sc``'s declarations: the owner's own, else that
    of the closest zone (an MX host with a status of its own, the domain) it lies in."""
    own = dict(sc.dnssec_names)
    zones = {sc.domain: sc.dnssec}
    for host in sc.mx:
        if host.name and host.tlsa_dnssec is not None:
            own.setdefault(tlsa_owner(host.name), host.tlsa_dnssec)
        if host.name and host.dnssec is not None:
            zones.setdefault(host.name, host.dnssec)
    if owner in own:
        return own[owner]
    labels = owner.split(".")
    for i in range(len(labels)):
        if ".".join(labels[i:]) in zones:
            return zones[".".join(labels[i:])]
    return Dnssec.INSECURE


def lookup_dnssec(sc: Scenario, owner: str, chain: tuple[str, ...] = ()) -> str:
    """What a scan records for the lookup of ``owner``: ``error`` when the lookup fails, else
    the status of its least secure name (a CNAME chain is as secure as its weakest link;
    NXDOMAIN and NODATA are answers too)."""
    if any(sc.fault_for(name) in _FAILURES for name in (owner, *chain)):
        return "error"
    return str(max((declared(sc, name) for name in (owner, *chain)), key=_RANK.__getitem__))


def per_lookup(sc: Scenario) -> dict[str, str]:
    """``sts_txt_dnssec``, ``mx_dnssec``, ``tlsrpt_dnssec`` of a scan of ``sc``."""
    chain = (sc.sts_cname,) if sc.sts_cname else ()
    return {"sts_txt_dnssec": lookup_dnssec(sc, f"_mta-sts.{sc.domain}", chain),
            "mx_dnssec": lookup_dnssec(sc, sc.domain),
            "tlsrpt_dnssec": lookup_dnssec(sc, f"_smtp._tls.{sc.domain}")}


def test_every_dane_outcome_and_code_has_a_scenario() -> None:
    dane = [s.dane for s in SCENARIOS if s.dane is not None]
    assert len(dane) == len(SCENARIOS)
    assert {d.dane for d in dane} == DANE_VERDICTS | {None}
    smtp = [dane_with_smtp(s) for s in SCENARIOS]
    assert {v for d in smtp for _, v in d.smtp_dane} == {"valid", "mismatch"}
    codes = set().union(*(d.mistakes for d in smtp))
    assert codes == DANE_CODES
    senders = {d.sender for d in smtp if d.sender is not None}
    assert {m for m, _ in senders} == MECHANISMS
    assert {p for _, p in senders} == PROTECTIONS
    lookups = [per_lookup(s) for s in SCENARIOS]
    for column in ("sts_txt_dnssec", "mx_dnssec", "tlsrpt_dnssec"):
        assert {row[column] for row in lookups} == LOOKUP_STATUSES, column


def test_dane_expectations_are_well_formed() -> None:
    for sc in SCENARIOS:
        assert sc.dane is not None and sc.expect is not None
        tlsa_hosts = {h.name for h in sc.mx if h.tlsa}
        assert set(sc.dane.usable) <= tlsa_hosts, sc.name
        assert {h for h, _ in sc.dane.smtp_dane} == set(sc.dane.usable), sc.name
        assert sc.dane.mistakes <= DANE_CODES and sc.dane.smtp_mistakes <= DANE_CODES
        assert not sc.expect.mistakes & DANE_CODES, sc.name  # kept apart (mistakes_of joins)
        assert mistakes_of(sc) == sc.expect.mistakes | sc.dane.mistakes
        if sc.dane.dane in ("usable", "partial"):
            assert per_lookup(sc)["mx_dnssec"] == "secure", sc.name  # RFC 7672 §2.2.1
        if sc.dane.dane == "usable":
            assert set(sc.dane.usable) == {h.name for h in sc.mx if h.name}, sc.name
        if sc.dnssec is Dnssec.INSECURE and not sc.dnssec_names and \
                all(h.dnssec is None for h in sc.mx):
            assert sc.dane == default_dane(sc), sc.name  # unsigned: MTA-STS decides alone


def test_dane_scenarios_name_only_their_own_names() -> None:
    for sc in SCENARIOS:
        for owner, _ in sc.dnssec_names:
            assert owner == sc.domain or owner.endswith("." + sc.domain), (sc.name, owner)


def test_smtp_only_findings_need_smtp() -> None:
    """``dane_mismatch`` needs the presented chain: only ``--smtp`` can find it."""
    for sc in SCENARIOS:
        assert sc.dane is not None
        assert "dane_mismatch" not in sc.dane.mistakes, sc.name
        if "dane_mismatch" in sc.dane.smtp_mistakes:
            assert dict(sc.dane.smtp_dane).get(f"mx1.{sc.domain}") == "mismatch"
    assert mistakes_of(next(s for s in SCENARIOS if s.name == "dane_ta_wrong_name"),
                       smtp=True) >= SMTP_EXTRA_MISTAKES["dane_ta_wrong_name"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> DnsServer:
    ca = TestCA(tmp_path_factory.mktemp("ca"))
    return DnsServer(build_zone(World(SCENARIOS), AddressPlan(), ca))


def resolver_says(server: DnsServer, name: str, rdtype: str) -> str:
    """secure/insecure/bogus/error as a scanner tells them: AD query, then CD on SERVFAIL."""
    query = dns.message.make_query(name, rdtype, use_edns=0)
    query.flags |= dns.flags.AD
    wire = server.respond(query.to_wire(), tcp=True)
    if wire is None:
        return "error"
    answer = dns.message.from_wire(wire)
    if answer.rcode() == dns.rcode.SERVFAIL:
        query.flags |= dns.flags.CD
        retry = server.respond(query.to_wire(), tcp=True)
        ok = retry is not None and dns.message.from_wire(retry).rcode() != dns.rcode.SERVFAIL
        return "bogus" if ok else "error"
    if answer.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return "error"
    return "secure" if answer.flags & dns.flags.AD else "insecure"


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_the_test_internet_answers_as_declared(server: DnsServer, sc: Scenario) -> None:
    expected = per_lookup(sc)
    if sc.fault_for(f"_mta-sts.{sc.domain}") is DnsFault.CNAME_LOOP:
        expected["sts_txt_dnssec"] = "insecure"  # answered; the scanner's loop check fails it
    assert {"sts_txt_dnssec": resolver_says(server, f"_mta-sts.{sc.domain}", "TXT"),
            "mx_dnssec": resolver_says(server, sc.domain, "MX"),
            "tlsrpt_dnssec": resolver_says(server, f"_smtp._tls.{sc.domain}", "TXT"),
            } == expected
    for host in sc.mx:
        if host.tlsa and host.name:
            assert resolver_says(server, tlsa_owner(host.name), "TLSA") == \
                str(declared(sc, tlsa_owner(host.name))), host.name
