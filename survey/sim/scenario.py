"""The scenario vocabulary of the test internet: what one domain publishes, declaratively.

A ``Scenario`` says what a domain's DNS names answer, what its policy host serves over HTTPS and
what its MX hosts do on port 25. The servers in ``survey.sim`` read scenarios; they never import
the scanner. ``Expectation`` is the verdict the classifier must reach for the scenario (per
``docs/classification.md``); the catalogue's end-to-end tests hold the scanner to it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum

_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")


class DnsFault(StrEnum):
    """How the test internet's DNS server misbehaves for one owner name."""

    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"  # never answers
    TRUNCATE = "truncate"  # UDP answer has TC set and no records; TCP answers in full
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"  # NOERROR with an empty answer
    CNAME_LOOP = "cname_loop"  # name -> loop1.<d> -> loop2.<d> -> loop1.<d>


class CertKind(StrEnum):
    VALID = "valid"  # issued by the test CA for the right name
    EXPIRED = "expired"
    SELF_SIGNED = "self_signed"
    WRONG_NAME = "wrong_name"  # valid chain, but for another name
    UNTRUSTED_CA = "untrusted_ca"  # issued by a CA the scanner is not told about


class HttpsFault(StrEnum):
    """Transport-level behaviour of a policy host (instead of an HTTP response)."""

    REFUSED = "refused"  # nothing listens: TCP RST
    TARPIT = "tarpit"  # accepts TCP, never sends a byte
    SLOW_DRIP = "slow_drip"  # sends the response one byte per second
    ENDLESS_BODY = "endless_body"  # 200 with a body that never ends


class Dnssec(StrEnum):
    """What a validating resolver concludes about a name's answers (RFC 4035 §4.3).

    ``secure``: signed with a chain of trust from the anchor, so the resolver sets AD (when the
    query asks by AD or DO, RFC 6840 §5.7-5.8); ``insecure``: provably unsigned, never AD;
    ``bogus``: signed but failing validation (e.g. a broken signature), answered SERVFAIL unless
    the query sets CD, and then with the data and without AD.
    """

    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"


#: A name every sim world serves as ``secure`` (any type): what a scan's ``--dnssec-check``
#: asks to learn whether the resolver validates. A world may not declare it itself.
DNSSEC_CHECK_NAME = "dnssec-check.test"
#: ``Tlsa.data`` asking for the association data of the certificate (or key) the host's sim
#: SMTP server presents, computed per usage, selector and matching type (RFC 6698 §2.1).
TLSA_AUTO = "auto"


@dataclass(frozen=True, slots=True)
class Tlsa:
    """One TLSA record at ``_25._tcp.<mx host>`` (RFC 6698 §2.1, RFC 7672 §2.2).

    ``data`` is ``TLSA_AUTO`` or lower-case hex. With ``TLSA_AUTO`` usages 1 and 3 (PKIX-EE,
    DANE-EE) take the host's leaf certificate, 0 and 2 (PKIX-TA, DANE-TA) the CA that issued it
    (presented in the host's chain, as RFC 7671 §5.2.2 requires of DANE-TA); selector 0 the
    whole certificate, 1 its SubjectPublicKeyInfo; matching type 0 the bytes themselves, 1
    SHA-256, 2 SHA-512. Explicit hex makes records that match nothing (``dane_mismatch``).
    """

    usage: int = 3
    selector: int = 1
    mtype: int = 1
    data: str = TLSA_AUTO

    def text(self, data: bytes) -> str:
        """Presentation form with ``data`` as the association data: ``"3 1 1 ab..."``."""
        return f"{self.usage} {self.selector} {self.mtype} {data.hex()}"


class SmtpBehaviour(StrEnum):
    STARTTLS = "starttls"  # offers STARTTLS, handshake with the host's certificate
    NO_STARTTLS = "no_starttls"  # EHLO without STARTTLS
    REFUSED = "refused"
    TARPIT = "tarpit"


@dataclass(frozen=True, slots=True)
class PolicyHost:
    """What ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` does."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers
    location: str | None = None  # Location header (for 3xx statuses)
    cert: CertKind = CertKind.VALID
    fault: HttpsFault | None = None
    #: mta-sts.<domain> is a CNAME chain ending at the last name (e.g. a hosting provider); the
    #: certificate is still issued for mta-sts.<domain>, as at real providers.
    cname_chain: tuple[str, ...] = ()
    #: the host's A record points here instead of at the test internet's HTTPS listener
    #: (e.g. a private or special-purpose address, to test the scanner's guard).
    address_override: str | None = None
    #: the host's address records, when given, instead of the listener's (and of
    #: ``address_override``): IPv4 as A, IPv6 as AAAA, in order; IPv6 only makes an AAAA-only
    #: host. For special-purpose addresses the scanner's guard must record and never contact.
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MxHost:
    name: str  # FQDN without trailing dot; "" for a null MX
    preference: int = 10
    smtp: SmtpBehaviour = SmtpBehaviour.STARTTLS
    cert: CertKind = CertKind.VALID
    #: the host's address records, when given, instead of the SMTP listener's: IPv4 as A, IPv6
    #: as AAAA (IPv6 only: an AAAA-only host). The first scenario naming a host decides them.
    addresses: tuple[str, ...] = ()
    #: TLSA records at ``_25._tcp.<name>``; the first scenario naming a host decides them.
    tlsa: tuple[Tlsa, ...] = ()
    #: DNSSEC status of the host's names (its address records and the TLSA RRset); None: that of
    #: the zone it lies in (the scenario's ``dnssec`` for a host under the domain, else insecure).
    dnssec: Dnssec | None = None
    #: DNSSEC status of the TLSA RRset alone when it differs (e.g. ``bogus``: a broken signature
    #: on the TLSA records of an otherwise secure zone).
    tlsa_dnssec: Dnssec | None = None


@dataclass(frozen=True, slots=True)
class Expectation:
    status: str
    mode: str | None = None
    mistakes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DaneExpectation:
    """The DNSSEC/DANE verdict a scenario must get (RFC 7672, RFC 7671, RFC 8461 §2), apart
    from ``Expectation`` (whose ``status`` keeps its MTA-STS meaning).

    ``dane``: ``none`` / ``insecure`` / ``partial`` / ``usable`` / ``bogus``, or None when
    nothing can be said (the MX lookup failed). ``usable``: the MX
    hosts whose TLSA records a DANE sender uses. ``smtp_dane``: host -> ``valid`` /
    ``mismatch``, what ``--smtp`` finds for those hosts. ``mistakes`` are found without
    ``--smtp``, ``smtp_mistakes`` on top of them with it. ``sender``: (``sender_mechanism``,
    ``sender_protection``) of a sender implementing both, None when unknown; ``smtp_sender``
    the same when ``--smtp`` changes it.
    """

    dane: str | None
    mistakes: frozenset[str] = frozenset()
    smtp_mistakes: frozenset[str] = frozenset()
    usable: tuple[str, ...] = ()
    smtp_dane: tuple[tuple[str, str], ...] = ()
    sender: tuple[str, str] | None = ("none", "none")
    smtp_sender: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    domain: str
    mx: tuple[MxHost, ...] = ()
    #: TXT records at _mta-sts.<domain>, each as its character-strings (multiple strings per
    #: record, several records, or none).
    sts_txt: tuple[tuple[str, ...], ...] = ()
    #: _mta-sts.<domain> is a CNAME to this name, which holds ``sts_txt``.
    sts_cname: str | None = None
    tlsrpt_txt: tuple[tuple[str, ...], ...] = ()
    policy_host: PolicyHost | None = None  # None: mta-sts.<domain> does not exist
    #: owner name -> fault, e.g. ("_mta-sts.example.com", DnsFault.SERVFAIL)
    dns_faults: tuple[tuple[str, DnsFault], ...] = ()
    expect: Expectation | None = None
    name: str = ""  # catalogue name, e.g. "enforce_ok"
    notes: str = ""
    #: DNSSEC status of the domain's zone: every name under ``domain`` (``_mta-sts``,
    #: ``_smtp._tls``, ``mta-sts``, MX hosts under it) unless ``dnssec_names`` or an MX host says
    #: otherwise. A CNAME chain is as secure as its least secure link.
    dnssec: Dnssec = Dnssec.INSECURE
    #: owner name -> DNSSEC status of that owner's RRsets (not the names under it), overriding
    #: ``dnssec`` (e.g. ("_mta-sts.example.com", Dnssec.BOGUS): a broken signature in a signed
    #: zone; (domain, Dnssec.BOGUS): the MX RRset's).
    dnssec_names: tuple[tuple[str, Dnssec], ...] = ()
    dane: DaneExpectation | None = None

    def fault_for(self, owner: str) -> DnsFault | None:
        for name, fault in self.dns_faults:
            if name == owner:
                return fault
        return None

    def dnssec_for(self, owner: str) -> Dnssec | None:
        """This scenario's own DNSSEC status for ``owner`` (``dnssec_names``), else None."""
        for name, status in self.dnssec_names:
            if name == owner:
                return status
        return None

    def declared_addresses(self) -> tuple[str, ...]:
        """The addresses the scenario sets itself (the address plan's ones aside)."""
        host = self.policy_host
        own: tuple[str, ...] = ()
        if host is not None:
            own = host.addresses + ((host.address_override,) if host.address_override else ())
        return own + tuple(a for mx in self.mx for a in mx.addresses)


@dataclass(frozen=True, slots=True)
class World:
    """A set of scenarios plus the toplist order they are listed in."""

    scenarios: tuple[Scenario, ...]
    seed: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def outside_loopback(self) -> tuple[str, ...]:
        """Declared addresses outside 127.0.0.0/8 (every IPv6 one, ``::1`` and
        ``::ffff:127.0.0.1`` too). A world holding any must never be scanned with
        ``--allow-private``: the scanner would then connect there, off this machine."""
        return tuple(a for s in self.scenarios for a in s.declared_addresses()
                     if not _on_loopback(a))


def _on_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return isinstance(ip, ipaddress.IPv4Address) and ip in _LOOPBACK_V4
