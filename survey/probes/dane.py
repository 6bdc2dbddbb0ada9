"""DANE for SMTP (issue 16): the TLSA lookup of an MX host and the check of a presented chain.

``lookup_tlsa`` asks ``_25._tcp.<host>`` TLSA the way RFC 7672 §2.2.2 has senders do it when
the host name is a CNAME: the expanded (final) name first when the whole chain is secure, then
the name from the MX record. ``check_chain`` matches the chain an MX host presented against
the usable records (DANE-EE: the leaf, names and dates ignored, RFC 7672 §3.1.1; DANE-TA: any
certificate of the chain, and the leaf must name one of the reference identifiers, RFC 7672
§3.2.3; selector and matching type per RFC 6698 §2.1, RFC 7671 §5). That the leaf is signed by
the matched trust anchor is not verified again (the PKIX columns of the SMTP probe say whether
the chain verifies).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from survey.core.dane import SMTP_MISMATCH, SMTP_VALID, usable_record
from survey.core.observations import DnsResult, Dnssec, TlsaRecord


class Querier(Protocol):
    async def query(self, qname: str, qtype: str) -> DnsResult: ...


def tlsa_name(host: str, port: int = 25) -> str:
    return f"_{port}._tcp.{host}"


async def lookup_tlsa(dns: Querier, host: str, addresses: DnsResult,
                      at_host: DnsResult | None = None) -> DnsResult:
    """The TLSA records of MX ``host`` whose address lookup was ``addresses`` (RFC 7672
    §2.2.2): at the CNAME-expanded name when the address answer is secure and came through a
    CNAME, falling back to ``host`` itself when the expanded name has none. ``at_host``: the
    lookup at ``host``'s own name, when already made (batched with the addresses)."""
    if addresses.cname_chain and addresses.dnssec is Dnssec.SECURE:
        expanded = await dns.query(tlsa_name(addresses.cname_chain[-1]), "TLSA")
        if expanded.tlsa or expanded.failed:
            return expanded
    return at_host if at_host is not None else await dns.query(tlsa_name(host), "TLSA")


def _selected(der: bytes, selector: int) -> bytes:
    if selector == 0:
        return der
    key = x509.load_der_x509_certificate(der).public_key()
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _digest(data: bytes, mtype: int) -> bytes:
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def record_matches(record: TlsaRecord, der: bytes) -> bool:
    """Whether ``record``'s association data names the certificate ``der`` (RFC 6698 §2.1)."""
    try:
        return _digest(_selected(der, record.selector), record.mtype) == record.data
    except ValueError:  # a certificate cryptography cannot read matches nothing
        return False


def leaf_names(der: bytes) -> tuple[str, ...]:
    """The DNS names a certificate presents: its subjectAltName dNSNames, else (no SAN
    extension) its subject common names (RFC 7672 §3.2.3 follows RFC 6125), lower case."""
    try:
        cert = x509.load_der_x509_certificate(der)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            names = san.value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            names = [str(a.value) for a in cert.subject.get_attributes_for_oid(
                NameOID.COMMON_NAME)]
    except ValueError:
        return ()
    return tuple(n.lower().rstrip(".") for n in names)


def name_matches(presented: str, reference: str) -> bool:
    """RFC 6125 §6.4: equal, or a wildcard ``*.`` standing for exactly the leftmost label."""
    reference = reference.lower().rstrip(".")
    if presented.startswith("*."):
        head, _, rest = reference.partition(".")
        return bool(head) and rest == presented[2:]
    return presented == reference


def check_chain(records: Sequence[TlsaRecord], chain: Sequence[bytes],
                names: Sequence[str] = ()) -> str | None:
    """``valid`` when a usable record matches the chain, ``mismatch`` when none does; None
    when there is nothing to check (no usable record, or no chain was presented).

    ``names`` are the reference identifiers a DANE-TA match also needs the leaf to present
    (RFC 7672 §3.2.3: the TLSA base domain, the MX host name, the recipient domain)."""
    usable = [r for r in records if usable_record(r)]
    if not usable or not chain:
        return None
    for record in usable:
        if record.usage == 3:
            if record_matches(record, chain[0]):
                return SMTP_VALID
        elif any(record_matches(record, der) for der in chain) and any(
                name_matches(p, r) for p in leaf_names(chain[0]) for r in names):
            return SMTP_VALID
    return SMTP_MISMATCH
