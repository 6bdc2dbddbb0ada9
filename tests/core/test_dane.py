"""DANE without a network (issue 16): TLSA association data against presented chains (RFC 6698
§2.1, RFC 7671 §5, RFC 7672 §3.1) and what a sender implementing MTA-STS and DANE does."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from survey.core.dane import Dane, Mechanism, Protection, assess_dane, usable_record
from survey.core.observations import Dnssec, DnsStatus, TlsaRecord
from survey.probes.dane import check_chain, record_matches, tlsa_name
from survey.sim.ca import TestCA
from survey.sim.scenario import CertKind
from tests.core.test_classify import BOG, DANE_EE, INS, MX1, PKIX_EE, SEC, no_txt, obs, signed


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """(leaf, issuing CA) as DER, as an MX host presents them."""
    ca = TestCA(tmp_path_factory.mktemp("ca"))
    leaf = ca.certificate("mx.example.test", CertKind.VALID)
    issuer = ca.issuer("mx.example.test", CertKind.VALID)
    return leaf.public_bytes(Encoding.DER), issuer.public_bytes(Encoding.DER)


def _spki(der: bytes) -> bytes:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_every_selector_and_matching_type(chain: tuple[bytes, bytes], selector: int,
                                          mtype: int) -> None:
    leaf, issuer = chain
    selected = leaf if selector == 0 else _spki(leaf)
    data = {0: selected, 1: hashlib.sha256(selected).digest(),
            2: hashlib.sha512(selected).digest()}[mtype]
    assert record_matches(TlsaRecord(3, selector, mtype, data), leaf)
    assert not record_matches(TlsaRecord(3, selector, mtype, data), issuer)
    flipped = data[:-1] + bytes([data[-1] ^ 1])
    assert not record_matches(TlsaRecord(3, selector, mtype, flipped), leaf)
    assert check_chain([TlsaRecord(3, selector, mtype, data)], [leaf, issuer]) == "valid"


def test_dane_ee_takes_the_leaf_and_dane_ta_any_certificate_of_the_chain(
        chain: tuple[bytes, bytes]) -> None:
    leaf, issuer = chain
    ca_digest = hashlib.sha256(issuer).digest()
    names = ("mx.example.test", "example.test")
    assert check_chain([TlsaRecord(2, 0, 1, ca_digest)], [leaf, issuer], names) == "valid"
    assert check_chain([TlsaRecord(2, 0, 1, ca_digest)], [leaf], names) == "mismatch"  # no CA
    # DANE-TA needs the leaf to name a reference identifier (RFC 7672 §3.2.3), DANE-EE not
    assert check_chain([TlsaRecord(2, 0, 1, ca_digest)], [leaf, issuer],
                       ("mx.other.test", "other.test")) == "mismatch"
    assert check_chain([TlsaRecord(3, 0, 1, hashlib.sha256(leaf).digest())], [leaf],
                       ("mx.other.test",)) == "valid"
    assert check_chain([TlsaRecord(3, 0, 1, ca_digest)], [leaf, issuer]) == "mismatch"
    # one matching record among others is enough; PKIX usages are not checked at all
    wrong = TlsaRecord(3, 1, 1, b"\x00" * 32)
    leaf_digest = hashlib.sha256(_spki(leaf)).digest()
    assert check_chain([wrong, TlsaRecord(3, 1, 1, leaf_digest)], [leaf]) == "valid"
    assert check_chain([TlsaRecord(1, 1, 1, leaf_digest)], [leaf]) is None
    assert check_chain([wrong], []) is None  # nothing presented: nothing to say
    assert not record_matches(TlsaRecord(3, 1, 1, leaf_digest), b"not a certificate")


def test_usable_records_and_names() -> None:
    assert usable_record(TlsaRecord(3, 1, 1, b"")) and usable_record(TlsaRecord(2, 0, 2, b""))
    assert not usable_record(TlsaRecord(0, 1, 1, b"")) and not usable_record(PKIX_EE)
    assert not usable_record(TlsaRecord(3, 2, 1, b"")) and not usable_record(
        TlsaRecord(3, 1, 3, b""))
    assert tlsa_name("mx.example.test") == "_25._tcp.mx.example.test"


def test_sender_choice_follows_rfc_8461_section_2() -> None:
    enforce = assess_dane(replace(obs(), mx=replace(obs().mx, dnssec=INS)), "enforce")
    assert (enforce.dane, enforce.mechanism, enforce.protection) == (
        Dane.NONE, Mechanism.MTA_STS, Protection.AUTHENTICATED)  # DANE cannot apply: MTA-STS
    testing = assess_dane(signed(obs(), hosts=((MX1, SEC, SEC, (), None),)), "testing")
    assert (testing.dane, testing.mechanism, testing.protection) == (
        Dane.NONE, Mechanism.MTA_STS, Protection.TESTING)
    # DANE wins over an enforce policy, even when the chain fails (deferred, not delivered)
    failing = assess_dane(signed(obs(), hosts=((MX1, SEC, SEC, (DANE_EE,), "mismatch"),)),
                          "enforce")
    assert (failing.mechanism, failing.protection) == (Mechanism.DANE, Protection.DEFERRED)
    # unknown when the MX lookup failed or carried no DNSSEC status
    unknown = assess_dane(obs(mx_status=DnsStatus.TIMEOUT), "enforce")
    assert (unknown.dane, unknown.mechanism, unknown.protection) == (None, None, None)
    # MTA-STS unknown (status error): unknown unless DANE decides
    assert assess_dane(signed(no_txt()), "error").mechanism is Mechanism.DANE
    assert assess_dane(signed(no_txt(), hosts=((MX1, SEC, SEC, (), None),)),
                       "error").mechanism is None


def test_dane_sts_conflict_both_ways() -> None:
    from survey.core.observations import FetchError, SmtpProbe

    passing = signed(obs(), hosts=((MX1, SEC, SEC, (DANE_EE,), "valid"),))
    assert "dane_sts_conflict" not in assess_dane(passing, "enforce").mistakes
    # DANE passes where MTA-STS fails (the MX certificate is not PKIX-valid)
    bad_cert = replace(passing, smtp=(SmtpProbe(MX1, "127.0.0.1", FetchError.CERT_UNTRUSTED),))
    assert "dane_sts_conflict" in assess_dane(bad_cert, "enforce",
                                              frozenset({"mx_cert_invalid"})).mistakes
    # not without an enforce policy
    failing = signed(no_txt(), hosts=((MX1, SEC, SEC, (DANE_EE,), "mismatch"),))
    assert assess_dane(failing, "absent").mistakes == {"dane_mismatch"}
    bogus_mx = assess_dane(replace(obs(), mx=replace(obs().mx, dnssec=BOG)), "enforce")
    assert bogus_mx.dane is Dane.BOGUS and "dnssec_bogus" in bogus_mx.mistakes
    assert bogus_mx.protection is Protection.DEFERRED


def test_tlsa_lookup_falls_back_from_the_cname_target(tmp_path: Path) -> None:
    """RFC 7672 §2.2.2: TLSA at the expanded name first when the chain is secure."""
    import trio

    from survey.core.observations import DnsResult
    from survey.probes.dane import lookup_tlsa

    asked: list[str] = []
    found = {"_25._tcp.target.example.test": (DANE_EE,)}

    class Fake:
        async def query(self, qname: str, qtype: str) -> DnsResult:
            asked.append(qname)
            records = found.get(qname, ())
            return DnsResult(qname, qtype, DnsStatus.NOERROR if records else DnsStatus.NXDOMAIN,
                             0 if records else 3, tlsa=records, dnssec=SEC)

    def addresses(dnssec: Dnssec, chain: tuple[str, ...]) -> DnsResult:
        return DnsResult(MX1, "A", DnsStatus.NOERROR, 0, addresses=("127.0.0.1",),
                         cname_chain=chain, dnssec=dnssec)

    result = trio.run(lookup_tlsa, Fake(), MX1, addresses(SEC, ("target.example.test",)))
    assert result.tlsa == (DANE_EE,) and asked == ["_25._tcp.target.example.test"]
    asked.clear()
    result = trio.run(lookup_tlsa, Fake(), MX1, addresses(SEC, ("other.example.test",)))
    assert asked == ["_25._tcp.other.example.test", f"_25._tcp.{MX1}"] and not result.tlsa
    asked.clear()
    trio.run(lookup_tlsa, Fake(), MX1, addresses(INS, ("target.example.test",)))
    assert asked == [f"_25._tcp.{MX1}"]  # an insecure chain: only the original name


def test_reference_identifiers_and_wildcards(chain: tuple[bytes, bytes]) -> None:
    from survey.probes.dane import leaf_names, name_matches

    assert leaf_names(chain[0]) == ("mx.example.test",)
    assert leaf_names(b"garbage") == ()
    assert name_matches("mx.example.test", "MX.Example.Test.")
    assert name_matches("*.example.test", "mx.example.test")
    assert not name_matches("*.example.test", "a.mx.example.test")
    assert not name_matches("*.example.test", "example.test")
    assert not name_matches("mx.example.test", "mx2.example.test")
