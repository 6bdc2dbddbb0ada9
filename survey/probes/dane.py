"""DANE for SMTP (issue 16): the TLSA lookup of an MX host and the check of a presented chain.

``lookup_tlsa`` asks ``_25._tcp.<host>`` TLSA the way RFC 7672 §2.2.2 has senders do it when
the host name is a CNAME: the expanded (final) name first when the whole chain is secure, then
the name from the MX record. ``check_chain`` matches the chain an MX host presented against
the usable records (DANE-EE: the leaf; DANE-TA: any certificate of the chain; selector and
matching type per RFC 6698 §2.1, RFC 7671 §5). The DANE-TA check is the match only: that the
leaf is signed by the matched certificate and names the MX host (RFC 7672 §3.2.2) is left to
the PKIX columns of the SMTP probe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from survey.core.dane import SMTP_MISMATCH, SMTP_VALID, usable_record
from survey.core.observations import DnsResult, Dnssec, TlsaRecord


class Querier(Protocol):
    async def query(self, qname: str, qtype: str) -> DnsResult: ...


def tlsa_name(host: str, port: int = 25) -> str:
    return f"_{port}._tcp.{host}"


async def lookup_tlsa(dns: Querier, host: str, addresses: DnsResult) -> DnsResult:
    """The TLSA records of MX ``host`` whose address lookup was ``addresses`` (RFC 7672
    §2.2.2): at the CNAME-expanded name when the address answer is secure and came through a
    CNAME, falling back to ``host`` itself when the expanded name has none."""
    if addresses.cname_chain and addresses.dnssec is Dnssec.SECURE:
        expanded = await dns.query(tlsa_name(addresses.cname_chain[-1]), "TLSA")
        if expanded.tlsa or expanded.failed:
            return expanded
    return await dns.query(tlsa_name(host), "TLSA")


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


def check_chain(records: Sequence[TlsaRecord], chain: Sequence[bytes]) -> str | None:
    """``valid`` when a usable record matches the chain, ``mismatch`` when none does; None
    when there is nothing to check (no usable record, or no chain was presented)."""
    usable = [r for r in records if usable_record(r)]
    if not usable or not chain:
        return None
    for record in usable:
        candidates = chain[:1] if record.usage == 3 else chain
        if any(record_matches(record, der) for der in candidates):
            return SMTP_VALID
    return SMTP_MISMATCH
