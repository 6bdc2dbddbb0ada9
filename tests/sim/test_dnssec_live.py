"""The real thing: zones signed with ldns-signzone, served by NSD, validated by Unbound with the
world's trust anchor (survey.sim.signed). The statuses the sim DNS server plays (``Dnssec``) are
what a validating resolver concludes from real signatures, and TLSA records computed from the sim
CA match what the sim SMTP servers present."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from survey.cli import main
from survey.dataset.sink import read_manifest
from survey.sim.catalogue import catalogue, expectation_with_smtp
from survey.sim.dns_server import name_wire
from survey.sim.scenario import DNSSEC_CHECK_NAME, Dnssec, MxHost, Scenario, Tlsa, World
from survey.sim.signed import export_signed, plan_zones, serve_signed, unbound_conf
from survey.sim.world import RunningWorld, start_world
from tests.commands.test_cli_scan import FAST, check_expectations, rows_by_domain
from tests.sim.test_sim_dnssec import spki, starttls_chain

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

NSD_ADDRESS, UNBOUND_ADDRESS = "127.53.16.1", "127.53.16.2"
WORLD = World((
    Scenario("secure.test", mx=(MxHost("mx.secure.test", tlsa=(Tlsa(3, 1, 1), Tlsa(2, 1, 1))),),
             sts_txt=(("v=STSv1; id=1",),), dnssec=Dnssec.SECURE,
             tlsrpt_txt=(("v=TLSRPTv1; rua=mailto:r@secure.test",),),
             dnssec_names=(("_smtp._tls.secure.test", Dnssec.BOGUS),)),
    Scenario("insecure.test", mx=(MxHost("mx.insecure.test", tlsa=(Tlsa(3, 1, 1),)),),
             sts_txt=(("v=STSv1; id=2",),)),
    Scenario("bogus.test", mx=(MxHost("mx.bogus.test", tlsa=(Tlsa(3, 1, 1),)),),
             sts_txt=(("v=STSv1; id=3",),), dnssec=Dnssec.BOGUS),
    Scenario("bogus-tlsa.test", mx=(MxHost("mx.bogus-tlsa.test", tlsa=(Tlsa(3, 1, 1),),
                                           tlsa_dnssec=Dnssec.BOGUS),),
             dnssec=Dnssec.SECURE),
))


def free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    """The world's SMTP (and HTTPS) hosts; DNS is NSD's and Unbound's."""
    with start_world(WORLD, tmp_path_factory.mktemp("signedworld"), dns=False) as running:
        yield running


@pytest.fixture(scope="module")
def resolver(sim: RunningWorld, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[str, int]]:
    nsd = (NSD_ADDRESS, free_udp_port(NSD_ADDRESS))
    unbound = (UNBOUND_ADDRESS, free_udp_port(UNBOUND_ADDRESS))
    export = export_signed(WORLD, tmp_path_factory.mktemp("signedzones"), nsd=nsd,
                           unbound=unbound, tlsa=sim.ca)
    with serve_signed(export, nsd=nsd, unbound=unbound) as address:
        yield address


def ask(resolver: tuple[str, int], name: str, rdtype: str, *, ad: bool = False,
        do: bool = False, cd: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, use_edns=0, want_dnssec=do)
    query.flags |= (dns.flags.AD if ad else 0) | (dns.flags.CD if cd else 0)
    return dns.query.udp(query, resolver[0], port=resolver[1], timeout=3)


def test_secure_answers_are_authenticated(resolver: tuple[str, int]) -> None:
    for name, rdtype in (("secure.test", "MX"), ("_mta-sts.secure.test", "TXT"),
                         ("_25._tcp.mx.secure.test", "TLSA"), ("mx.secure.test", "A"),
                         ("dnssec-check.test", "A")):
        for flags in ({"ad": True}, {"do": True}):
            msg = ask(resolver, name, rdtype, **flags)
            assert msg.rcode() == dns.rcode.NOERROR and msg.answer, (name, flags)
            assert msg.flags & dns.flags.AD, (name, flags)
    denied = ask(resolver, "nothing.secure.test", "A", ad=True)
    assert denied.rcode() == dns.rcode.NXDOMAIN and denied.flags & dns.flags.AD


def test_insecure_delegation_is_never_authenticated(resolver: tuple[str, int]) -> None:
    for name, rdtype in (("insecure.test", "MX"), ("_25._tcp.mx.insecure.test", "TLSA")):
        msg = ask(resolver, name, rdtype, ad=True, do=True)
        assert msg.rcode() == dns.rcode.NOERROR and msg.answer, name
        assert not msg.flags & dns.flags.AD, name


def test_broken_signatures_are_servfail_unless_checking_disabled(
        resolver: tuple[str, int]) -> None:
    for name, rdtype in (("bogus.test", "MX"), ("_mta-sts.bogus.test", "TXT"),
                         ("_smtp._tls.secure.test", "TXT"),
                         ("_25._tcp.mx.bogus-tlsa.test", "TLSA")):
        failed = ask(resolver, name, rdtype, ad=True)
        assert failed.rcode() == dns.rcode.SERVFAIL and not failed.answer, name
        unchecked = ask(resolver, name, rdtype, ad=True, cd=True)
        assert unchecked.rcode() == dns.rcode.NOERROR and unchecked.answer, name
        assert not unchecked.flags & dns.flags.AD, name
    # the bogus TLSA RRset leaves the rest of its zone secure
    assert ask(resolver, "mx.bogus-tlsa.test", "A", ad=True).flags & dns.flags.AD


def test_tlsa_records_match_what_the_smtp_server_presents(
        sim: RunningWorld, resolver: tuple[str, int]) -> None:
    address = ask(resolver, "mx.secure.test", "A").answer[0][0].address
    leaf, issuer = starttls_chain(address, sim.smtp_port, "mx.secure.test")
    answer = ask(resolver, "_25._tcp.mx.secure.test", "TLSA", ad=True).answer
    records = {(rd.usage, rd.selector, rd.mtype, rd.cert) for rrset in answer for rd in rrset
               if rrset.rdtype == dns.rdatatype.TLSA}
    assert records == {(3, 1, 1, hashlib.sha256(spki(leaf)).digest()),
                       (2, 1, 1, hashlib.sha256(spki(issuer)).digest())}


def test_declarations_no_zone_cut_can_make_are_refused(tmp_path: Path) -> None:
    inside = Scenario("x.test", mx=(MxHost("mx.x.test", dnssec=Dnssec.SECURE),))
    with pytest.raises(ValueError, match="no chain of trust"):
        plan_zones(World((inside,)))
    zones, parents = plan_zones(WORLD)
    assert parents == {s.domain: "test" for s in WORLD.scenarios}
    assert zones["test"].status is Dnssec.SECURE and zones["bogus.test"].status is Dnssec.BOGUS


def test_zone_cuts_for_declarations_apart_from_their_zone() -> None:
    cuts = Scenario("cuts.test", mx=(MxHost("mx1.cuts.test", dnssec=Dnssec.INSECURE),
                                     MxHost("mx2.cuts.test", tlsa_dnssec=Dnssec.BOGUS)),
                    dnssec=Dnssec.SECURE, dnssec_names=(("sts.cuts.test", Dnssec.INSECURE),))
    zones, parents = plan_zones(World((cuts,)))
    assert {o: z.status for o, z in zones.items()} == {
        "test": Dnssec.SECURE, "cuts.test": Dnssec.SECURE, "mx1.cuts.test": Dnssec.INSECURE,
        "sts.cuts.test": Dnssec.INSECURE}
    assert parents == {"cuts.test": "test", "mx1.cuts.test": "cuts.test",
                       "sts.cuts.test": "cuts.test"}
    assert zones["cuts.test"].bogus_owners == {name_wire("_25._tcp.mx2.cuts.test")}


def real_scenarios() -> tuple[Scenario, ...]:
    """The catalogue's DNSSEC and DANE scenarios (and a few unsigned ones) that signed zones
    can make: no DNS fault a static zone cannot serve."""
    chosen = []
    for sc in catalogue():
        declares = sc.dnssec is not Dnssec.INSECURE or sc.dnssec_names or any(
            h.tlsa or h.dnssec or h.tlsa_dnssec for h in sc.mx)
        if not declares and sc.name not in ("enforce_ok", "testing_ok", "absent_nothing"):
            continue
        try:
            plan_zones(World((sc,)))
        except ValueError:
            continue
        if not sc.dns_faults:
            chosen.append(sc)
    return tuple(chosen)


def test_the_catalogue_through_signed_zones_nsd_and_unbound(tmp_path: Path) -> None:
    """``scan --smtp`` through Unbound validating real signatures reaches every verdict and
    DNSSEC and DANE column (the chain checks too) the catalogue expects of its scenarios through
    the sim's resolver."""
    world = World(real_scenarios())
    assert len(world.scenarios) >= 20
    nsd = (NSD_ADDRESS, free_udp_port(NSD_ADDRESS))
    unbound = (UNBOUND_ADDRESS, free_udp_port(UNBOUND_ADDRESS))
    with start_world(world, tmp_path / "world", dns=False) as running:
        export = export_signed(world, tmp_path / "zones", nsd=nsd, unbound=unbound,
                               tlsa=running.ca)
        assert {z.status for z in export.zones} == set(Dnssec)
        with serve_signed(export, nsd=nsd, unbound=unbound) as address:
            code = main(["scan", str(running.toplist), "-o", str(tmp_path / "out"),
                         *running.scan_args(), "--resolver", f"{address[0]}:{address[1]}",
                         *FAST, "--no-progress", "--dnssec-check", DNSSEC_CHECK_NAME,
                         "--smtp"])
    assert code == 0
    manifest = read_manifest(tmp_path / "out")
    assert manifest is not None and manifest["resolver_validates"] is True
    check_expectations(world, rows_by_domain(tmp_path / "out"), expectation_with_smtp)


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_resolver_options(anchor: Path) -> tuple[tuple[str, str], ...]:
    """The Unbound server options the README gives a real survey, with the test world's trust
    anchor in place of the root's; where it listens and who may ask stay the test's."""
    block = README.read_text().split("# /etc/unbound/unbound.conf.d/survey.conf\n", 1)[1]
    options = []
    for line in block.splitlines()[1:]:  # after "server:"
        if not line.startswith(" " * 8):
            break
        key, _, value = line.split("#")[0].strip().partition(":")
        options.append((key, value.strip()))
    keys = {k for k, _ in options}
    assert {"module-config", "auto-trust-anchor-file", "val-permissive-mode"} <= keys, keys
    return tuple((k, f'"{anchor}"' if k == "auto-trust-anchor-file" else v)
                 for k, v in options if k not in ("interface", "access-control"))


def verdicts(resolver: tuple[str, int]) -> dict[str, tuple[str, bool]]:
    """rcode and AD of a secure, an insecure and a bogus answer through ``resolver``."""
    out = {}
    for name in ("secure.test", "insecure.test", "bogus.test"):
        msg = ask(resolver, name, "MX", ad=True)
        out[name] = (dns.rcode.to_text(msg.rcode()), bool(msg.flags & dns.flags.AD))
    return out


@pytest.mark.parametrize("recipe", ["readme", "iterator only"])
def test_the_readme_resolver_set_up_validates(sim: RunningWorld, tmp_path: Path,
                                             recipe: str) -> None:
    """The README's Unbound options (with the test anchor) make the DNSSEC columns mean
    something; without the validator module nothing is secure and bogus data passes."""
    nsd = (NSD_ADDRESS, free_udp_port(NSD_ADDRESS))
    unbound = (UNBOUND_ADDRESS, free_udp_port(UNBOUND_ADDRESS))
    export = export_signed(WORLD, tmp_path, nsd=nsd, unbound=unbound, tlsa=sim.ca)
    anchor = tmp_path / "root.key"  # Unbound keeps an auto-trust-anchor-file up to date itself
    anchor.write_text((tmp_path / "trust-anchors").read_text())
    options = readme_resolver_options(anchor) if recipe == "readme" else (
        ("module-config", '"iterator"'),)
    export.unbound_conf.write_text(unbound_conf(
        tmp_path, sorted(z.origin for z in export.zones), nsd=nsd, listen=unbound,
        options=options))
    with serve_signed(export, nsd=nsd, unbound=unbound) as address:
        got = verdicts(address)
    if recipe == "readme":
        assert got == {"secure.test": ("NOERROR", True), "insecure.test": ("NOERROR", False),
                       "bogus.test": ("SERVFAIL", False)}
    else:
        assert got == {"secure.test": ("NOERROR", False), "insecure.test": ("NOERROR", False),
                       "bogus.test": ("NOERROR", False)}
