"""The test internet's DNS server answers like a validating resolver, and its TLSA records match
what its SMTP servers present (RFC 4035 §3.2, RFC 6840 §5.7-5.8, RFC 6698 §2.1, RFC 7671 §5.2)."""

from __future__ import annotations

import _ssl
import datetime as dt
import hashlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from survey.sim.dns_server import AddressPlan, DnsServer, build_zone, tlsa_owner
from survey.sim.scenario import (
    DNSSEC_CHECK_NAME,
    CertKind,
    Dnssec,
    MxHost,
    PolicyHost,
    Scenario,
    Tlsa,
    World,
)
from survey.sim.world import RunningWorld, start_world
from survey.sim.zonefile import export_world

MISMATCH = hashlib.sha256(b"a retired key").hexdigest()
WORLD = World((
    Scenario("signed.test", mx=(MxHost("mx1.signed.test", tlsa=(Tlsa(3, 1, 1), Tlsa(3, 0, 2))),
                                MxHost("mx2.signed.test", cert=CertKind.EXPIRED,
                                       tlsa=(Tlsa(2, 1, 1), Tlsa(2, 0, 1))),
                                MxHost("mx.unsigned-host.test", 30, tlsa=(Tlsa(3, 1, 1),))),
             sts_txt=(("v=STSv1; id=1",),), policy_host=PolicyHost(),
             tlsrpt_txt=(("v=TLSRPTv1; rua=mailto:r@signed.test",),),
             sts_cname="sts.unsigned-host.test", dnssec=Dnssec.SECURE,
             dnssec_names=(("_smtp._tls.signed.test", Dnssec.BOGUS),)),
    Scenario("unsigned-host.test", sts_txt=(("v=STSv1; id=2",),),
             mx=(MxHost("mx.unsigned-host.test"),)),
    Scenario("broken.test", mx=(MxHost("mx.broken.test", tlsa=(Tlsa(3, 1, 1, MISMATCH),),
                                       tlsa_dnssec=Dnssec.BOGUS),),
             sts_txt=(("v=STSv1; id=3",),), dnssec=Dnssec.BOGUS),
    Scenario("pinned.test", mx=(MxHost("mx.pinned.test", tlsa=(Tlsa(3, 1, 1),),
                                       dnssec=Dnssec.SECURE),)),
))
PLAN = AddressPlan()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    with start_world(WORLD, tmp_path_factory.mktemp("dnssecworld")) as running:
        yield running


def ask(world: RunningWorld, name: str, rdtype: str, *, ad: bool = False, do: bool = False,
        cd: bool = False, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, use_edns=0, want_dnssec=do)
    query.flags |= (dns.flags.AD if ad else 0) | (dns.flags.CD if cd else 0)
    host, port = world.resolver
    if tcp:
        return dns.query.tcp(query, host, port=port, timeout=2)
    return dns.query.udp(query, host, port=port, timeout=2)


def authenticated(msg: dns.message.Message) -> bool:
    return bool(msg.flags & dns.flags.AD)


@pytest.mark.parametrize("tcp", [False, True])
def test_secure_answers_get_ad_only_when_asked(world: RunningWorld, tcp: bool) -> None:
    for name, rdtype in (("signed.test", "MX"), ("mta-sts.signed.test", "A"),
                         (DNSSEC_CHECK_NAME, "A"), (DNSSEC_CHECK_NAME, "SOA")):
        assert authenticated(ask(world, name, rdtype, ad=True, tcp=tcp)), name
        assert authenticated(ask(world, name, rdtype, do=True, tcp=tcp)), name
        assert not authenticated(ask(world, name, rdtype, tcp=tcp)), name  # RFC 6840 §5.8
    msg = ask(world, "signed.test", "MX", ad=True, tcp=tcp)
    assert msg.rcode() == dns.rcode.NOERROR and len(msg.answer[0]) == 3


def test_authenticated_denial_of_existence(world: RunningWorld) -> None:
    nx = ask(world, "nothing.signed.test", "A", ad=True)
    assert nx.rcode() == dns.rcode.NXDOMAIN and authenticated(nx)
    nodata = ask(world, "mx1.signed.test", "TXT", ad=True)
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer and authenticated(nodata)


def test_insecure_names_never_get_ad(world: RunningWorld) -> None:
    for name, rdtype in (("unsigned-host.test", "MX"), ("_mta-sts.unsigned-host.test", "TXT"),
                         ("nothing.unsigned-host.test", "A"), ("elsewhere.test", "A")):
        msg = ask(world, name, rdtype, ad=True, do=True)
        assert not authenticated(msg) and msg.rcode() != dns.rcode.SERVFAIL, name


def test_a_chain_is_as_secure_as_its_least_secure_link(world: RunningWorld) -> None:
    """_mta-sts.signed.test (secure) is a CNAME into unsigned-host.test (insecure)."""
    msg = ask(world, "_mta-sts.signed.test", "TXT", ad=True)
    assert msg.rcode() == dns.rcode.NOERROR and len(msg.answer) == 2
    assert not authenticated(msg)


def test_bogus_is_servfail_unless_checking_disabled(world: RunningWorld) -> None:
    for name, rdtype in (("_smtp._tls.signed.test", "TXT"), ("broken.test", "MX"),
                         ("_mta-sts.broken.test", "TXT"), (tlsa_owner("mx.broken.test"), "TLSA")):
        for flags in ({}, {"ad": True}, {"do": True}):
            failed = ask(world, name, rdtype, **flags)
            assert failed.rcode() == dns.rcode.SERVFAIL and not failed.answer, (name, flags)
        data = ask(world, name, rdtype, ad=True, do=True, cd=True)
        assert data.rcode() == dns.rcode.NOERROR and data.answer, name
        assert data.flags & dns.flags.CD and not authenticated(data), name


def test_tlsa_status_apart_from_the_host_address(world: RunningWorld) -> None:
    """broken.test's TLSA RRset is bogus; pinned.test's host is secure in an insecure zone."""
    assert authenticated(ask(world, tlsa_owner("mx.pinned.test"), "TLSA", ad=True))
    assert authenticated(ask(world, "mx.pinned.test", "A", ad=True))
    assert not authenticated(ask(world, "pinned.test", "MX", ad=True))


def test_a_non_validating_resolver(world: RunningWorld) -> None:
    server = DnsServer(build_zone(WORLD, PLAN, world.ca), validating=False)
    for name, rdtype in (("broken.test", "MX"), ("signed.test", "MX")):
        query = dns.message.make_query(name, rdtype, want_dnssec=True)
        query.flags |= dns.flags.AD
        response = server.respond(query.to_wire(), tcp=False)
        assert response is not None
        msg = dns.message.from_wire(response)
        assert msg.rcode() == dns.rcode.NOERROR and msg.answer and not authenticated(msg)


def tlsa_of(world: RunningWorld, host: str) -> set[tuple[int, int, int, bytes]]:
    msg = ask(world, tlsa_owner(host), "TLSA", ad=True)
    assert msg.rcode() == dns.rcode.NOERROR
    return {(rd.usage, rd.selector, rd.mtype, rd.cert) for rrset in msg.answer for rd in rrset
            if rrset.rdtype == dns.rdatatype.TLSA}


def presented_chain(world: RunningWorld, host: str) -> list[x509.Certificate]:
    """STARTTLS to ``host`` (at its A record, with its name as SNI): the chain it presents."""
    return starttls_chain(ask(world, host, "A").answer[0][0].address, world.smtp_port, host)


def starttls_chain(address: str, port: int, host: str) -> list[x509.Certificate]:
    """The certificate chain an SMTP server at ``address`` presents after STARTTLS to ``host``."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=5) as raw:
        stream = raw.makefile("rwb")
        stream.readline()
        stream.write(b"EHLO test\r\n")
        stream.flush()
        while stream.readline()[3:4] == b"-":
            pass
        stream.write(b"STARTTLS\r\n")
        stream.flush()
        assert stream.readline().startswith(b"220")
        with context.wrap_socket(raw, server_hostname=host) as tls:
            chain = tls._sslobj.get_unverified_chain()  # type: ignore[attr-defined]  # 3.13 API
            return [x509.load_der_x509_certificate(c.public_bytes(_ssl.ENCODING_DER))
                    for c in chain]


def spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def test_auto_dane_ee_records_match_the_presented_leaf(world: RunningWorld) -> None:
    chain = presented_chain(world, "mx1.signed.test")
    leaf = chain[0]
    assert len(chain) == 1  # DANE-EE needs no issuer in the chain
    assert tlsa_of(world, "mx1.signed.test") == {
        (3, 1, 1, hashlib.sha256(spki(leaf)).digest()),
        (3, 0, 2, hashlib.sha512(leaf.public_bytes(serialization.Encoding.DER)).digest())}
    # a host named by two scenarios keeps the first one's records
    shared = presented_chain(world, "mx.unsigned-host.test")[0]
    assert tlsa_of(world, "mx.unsigned-host.test") == {
        (3, 1, 1, hashlib.sha256(spki(shared)).digest())}


def test_auto_dane_ta_records_match_the_issuer_in_the_chain(world: RunningWorld) -> None:
    leaf, issuer = presented_chain(world, "mx2.signed.test")
    assert leaf.not_valid_after_utc < dt.datetime.now(dt.UTC)  # expired, as declared
    trusted = x509.load_pem_x509_certificate(world.ca_bundle.read_bytes())
    assert issuer == trusted and leaf.issuer == trusted.subject
    assert tlsa_of(world, "mx2.signed.test") == {
        (2, 1, 1, hashlib.sha256(spki(trusted)).digest()),
        (2, 0, 1, hashlib.sha256(trusted.public_bytes(serialization.Encoding.DER)).digest())}


def test_explicit_data_is_served_as_given(world: RunningWorld) -> None:
    msg = ask(world, tlsa_owner("mx.broken.test"), "TLSA", cd=True)
    assert [rd.to_text() for rrset in msg.answer for rd in rrset] == [f"3 1 1 {MISMATCH}"]


def test_auto_records_need_the_ca() -> None:
    with pytest.raises(ValueError, match="needs the world's CA"):
        build_zone(WORLD, PLAN)


def test_a_world_may_not_declare_the_check_name() -> None:
    with pytest.raises(ValueError, match=DNSSEC_CHECK_NAME):
        build_zone(World((Scenario(DNSSEC_CHECK_NAME),)), PLAN)


def test_zone_files_hold_the_tlsa_records(world: RunningWorld, tmp_path: Path) -> None:
    export_world(WORLD, tmp_path, tlsa=world.ca)
    lines = (tmp_path / "test.zone").read_text().splitlines()
    tlsa = sorted(line for line in lines if " TLSA " in line)
    assert tlsa[0].startswith(f"{tlsa_owner('mx.broken.test')}. IN TLSA 3 1 1 {MISMATCH}")
    leaf = presented_chain(world, "mx.pinned.test")[0]
    assert f"{tlsa_owner('mx.pinned.test')}. IN TLSA 3 1 1 " \
        f"{hashlib.sha256(spki(leaf)).hexdigest()}" in tlsa
    assert len(tlsa) == 7  # every host's records once, the shared host's too
