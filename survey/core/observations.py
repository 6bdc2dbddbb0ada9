"""Typed records of what each probe saw on the wire.

These are the seam between the network (``survey.probes``) and the pure core
(``core.classify``, ``dataset.schema``): probes only produce them, the classifier only reads
them. They hold evidence, never judgement, so that a row can be re-classified later from what
was observed. Standard library only.

TXT character-strings are kept as ``str`` decoded with latin-1: one code point per octet, so the
text is lossless and reversible (``s.encode("latin-1")``) while non-ASCII octets stay visible to
the parsers, which reject them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Dnssec(StrEnum):
    """What the validating resolver said of one answer (RFC 4035 §3.2.3, RFC 6840 §5.7-5.9).

    ``bogus``: the resolver answered SERVFAIL and the same question with CD (checking disabled)
    got an answer, so the data exists but does not validate; ``error``: no answer to judge
    (SERVFAIL with CD too, timeout). Only meaningful through a validating resolver.
    """

    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class TlsaRecord:
    """One TLSA record (RFC 6698 §2.1): certificate usage, selector, matching type, data."""

    usage: int
    selector: int
    mtype: int
    data: bytes

    def text(self) -> str:
        """Presentation form, as the ``dane_hosts.tlsa`` column keeps it."""
        return f"{self.usage} {self.selector} {self.mtype} {self.data.hex()}"


class DnsStatus(StrEnum):
    """Outcome of one DNS lookup, in ZDNS's vocabulary (rcode names plus transport failures)."""

    NOERROR = "NOERROR"
    NXDOMAIN = "NXDOMAIN"
    SERVFAIL = "SERVFAIL"
    REFUSED = "REFUSED"
    FORMERR = "FORMERR"
    NOTIMP = "NOTIMP"
    TIMEOUT = "TIMEOUT"  # no usable answer before the deadline, after all retries
    ERROR = "ERROR"  # malformed answer, CNAME loop, transport error, other rcode

    @property
    def is_failure(self) -> bool:
        """True when the lookup says nothing about what the domain publishes."""
        return self not in (DnsStatus.NOERROR, DnsStatus.NXDOMAIN)


#: Lookup outcomes that say nothing about what a domain publishes (``DnsStatus.is_failure``):
#: what classify treats as a failed lookup, and what stats leaves out of a measured population.
DNS_FAILURES: tuple[str, ...] = tuple(s.value for s in DnsStatus if s.is_failure)

#: Numeric code kept in the ``*_rcode`` columns when no DNS response arrived (OpenINTEL style).
RCODE_TIMEOUT = -1


@dataclass(frozen=True, slots=True)
class MxRecord:
    preference: int
    host: str  # lower case, no trailing dot; "" for a null MX (RFC 7505 "0 .")


@dataclass(frozen=True, slots=True)
class DnsResult:
    """One lookup (qname, qtype) after retries and CNAME chasing.

    Only the field matching ``qtype`` is filled: ``txt`` for TXT, ``mx`` for MX, ``addresses``
    for A/AAAA. ``cname_chain`` lists the CNAME targets followed from ``qname``, in order.
    """

    qname: str
    qtype: str
    status: DnsStatus
    rcode: int = RCODE_TIMEOUT
    txt: tuple[tuple[str, ...], ...] = ()
    mx: tuple[MxRecord, ...] = ()
    addresses: tuple[str, ...] = ()
    cname_chain: tuple[str, ...] = ()
    error: str | None = None
    attempts: int = 1
    #: whether the resolver validated the answer (issue 16); None when not known (not asked)
    dnssec: Dnssec | None = None
    tlsa: tuple[TlsaRecord, ...] = ()  # for TLSA

    @property
    def failed(self) -> bool:
        return self.status.is_failure


class FetchError(StrEnum):
    """Why an HTTPS or SMTP probe got no usable answer (zgrab2-like categories)."""

    NO_ADDRESS = "no-address"  # the host name did not resolve to any address
    BLOCKED = "blocked"  # resolved only to private/special-purpose addresses (not contacted)
    EXCLUDED = "excluded"  # the address is on the exclusion list (not contacted)
    CONNECTION_REFUSED = "connection-refused"
    CONNECTION_TIMEOUT = "connection-timeout"
    CONNECTION_CLOSED = "connection-closed"
    CERT_EXPIRED = "certificate-expired"
    CERT_UNTRUSTED = "certificate-untrusted"
    CERT_NAME_MISMATCH = "certificate-name-mismatch"
    CERT_INVALID = "certificate-invalid"  # any other verification failure
    HANDSHAKE_ERROR = "handshake-error"
    IO_TIMEOUT = "io-timeout"  # the overall deadline passed after connecting
    PROTOCOL_ERROR = "protocol-error"
    STARTTLS_NOT_SUPPORTED = "starttls-not-supported"  # SMTP only
    UNKNOWN_ERROR = "unknown-error"

    @property
    def is_certificate(self) -> bool:
        return self.value.startswith("certificate-")


@dataclass(frozen=True, slots=True)
class Certificate:
    """The leaf certificate a server presented (recorded even when verification failed)."""

    subject: str  # RFC 4514 string
    issuer: str  # RFC 4514 string
    names: tuple[str, ...]  # DNS subjectAltNames (the common name when there are none)
    not_before: dt.datetime | None  # UTC
    not_after: dt.datetime | None  # UTC
    sha256: str  # hex fingerprint of the DER encoding


@dataclass(frozen=True, slots=True)
class HttpsFetch:
    """GET https://mta-sts.<domain>/.well-known/mta-sts.txt, bounded in time and size."""

    url: str
    address: str | None = None  # the IP we connected to
    error: FetchError | None = None  # None: an HTTP response was received
    error_detail: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    location: str | None = None  # Location header of a 3xx (never followed)
    body: bytes | None = None  # at most the cap plus one byte
    body_truncated: bool = False  # the server sent more than the cap
    tls_version: str | None = None
    certificate: Certificate | None = None
    elapsed_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class SmtpProbe:
    """EHLO + STARTTLS to one MX host on port 25, bounded in time and size."""

    host: str
    address: str | None = None
    error: FetchError | None = None  # None: STARTTLS handshake succeeded and verified
    error_detail: str | None = None
    banner: str | None = None
    starttls_offered: bool | None = None
    tls_version: str | None = None
    certificate: Certificate | None = None
    elapsed_ms: float = 0.0
    #: the chain as presented (DER, leaf first), for checking it against TLSA records (issue 16)
    chain: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class DomainObservations:
    """Everything probed for one domain; ``None`` means the probe was not run."""

    domain: str
    sts_txt: DnsResult  # _mta-sts.<domain> TXT
    tlsrpt_txt: DnsResult  # _smtp._tls.<domain> TXT
    mx: DnsResult  # <domain> MX
    policy_host: DnsResult  # mta-sts.<domain> A (then AAAA when A has nothing)
    policy_fetch: HttpsFetch | None = None
    smtp: tuple[SmtpProbe, ...] = field(default=())
    dane: tuple[DaneHost, ...] | None = None  # None: no TLSA lookup was made (issue 16)


@dataclass(frozen=True, slots=True)
class DaneHost:
    """The DANE evidence of one probed MX host (issue 16): its TLSA lookup and its addresses'
    DNSSEC status; ``smtp_dane`` is the presented chain checked against the TLSA records
    (``valid`` / ``mismatch``; None without ``--smtp`` or without usable records, and for records
    no DANE sender uses: not secure, or of a host whose MX or address answer is not secure)."""

    host: str
    tlsa: DnsResult  # _25._tcp.<host> TLSA (or the CNAME target's base name, RFC 7672 §2.2.2)
    address_dnssec: Dnssec | None
    smtp_dane: str | None = None
