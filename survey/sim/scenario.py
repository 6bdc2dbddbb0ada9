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


@dataclass(frozen=True, slots=True)
class Expectation:
    status: str
    mode: str | None = None
    mistakes: frozenset[str] = frozenset()


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

    def fault_for(self, owner: str) -> DnsFault | None:
        for name, fault in self.dns_faults:
            if name == owner:
                return fault
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
