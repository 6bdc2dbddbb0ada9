"""DANE for SMTP beside MTA-STS: the verdict of a domain's TLSA evidence (pure, no I/O).

docs/classification.md §8 is the specification. A sender implementing both mechanisms applies
DANE to an MX host whose TLSA RRset is DNSSEC-secure (RFC 7672 §2.2) and MTA-STS elsewhere; "a
'valid' or 'report-only' MTA-STS validation" never overrides "a failing DANE validation" (RFC
8461 §2). ``assess_dane`` turns the observations into the ``dane`` verdict, each host's
usability, the mistakes, and what such a sender does (``sender_mechanism`` /
``sender_protection``).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum

from survey.core.observations import DaneHost, Dnssec, DomainObservations, TlsaRecord

#: DANE-TA(2) and DANE-EE(3): the only usages SMTP senders use (RFC 7672 §3.1.3).
DANE_USAGES = frozenset({2, 3})
#: Full certificate(0) / SubjectPublicKeyInfo(1) (RFC 6698 §2.1.2).
SELECTORS = frozenset({0, 1})
#: Exact(0), SHA2-256(1), SHA2-512(2) (RFC 6698 §2.1.3).
MATCHING_TYPES = frozenset({0, 1, 2})
#: What ``smtp_dane`` says of a host's presented chain.
SMTP_VALID, SMTP_MISMATCH = "valid", "mismatch"


class Dane(StrEnum):
    """The ``dane`` column: what DANE-for-SMTP senders find for the domain."""

    NONE = "none"  # no TLSA records at the probed MX hosts, or DANE cannot apply (MX insecure)
    INSECURE = "insecure"  # TLSA records present, but not DNSSEC-secure: senders ignore them
    PARTIAL = "partial"  # some MX hosts without usable secure TLSA records
    USABLE = "usable"  # every probed MX host has usable secure TLSA records
    BOGUS = "bogus"  # the MX or a host's TLSA/address answer is bogus: senders defer mail


class Mechanism(StrEnum):
    """``sender_mechanism``: what a sender implementing both applies."""

    DANE = "dane"
    MTA_STS = "mta-sts"
    NONE = "none"


class Protection(StrEnum):
    """``sender_protection``, weakest first (the domain gets its weakest host's)."""

    DEFERRED = "deferred"  # DANE fails (bogus, mismatch): mail waits in the queue
    NONE = "none"  # opportunistic TLS: nothing stops a downgrade
    TESTING = "testing"  # MTA-STS testing: opportunistic, failures only reported
    ENCRYPTED = "encrypted"  # TLS required, certificate not authenticated (RFC 7672 §2.2)
    AUTHENTICATED = "authenticated"  # TLS required and the server authenticated


_RANK = {p: i for i, p in enumerate(Protection)}
_STS_PROTECTION = {"enforce": Protection.AUTHENTICATED, "testing": Protection.TESTING,
                   "none": Protection.NONE, "absent": Protection.NONE,
                   "invalid": Protection.NONE}


def usable_record(record: TlsaRecord) -> bool:
    """A record an SMTP sender can use: DANE-TA/DANE-EE with a known selector and type."""
    return (record.usage in DANE_USAGES and record.selector in SELECTORS
            and record.mtype in MATCHING_TYPES)


class HostState(StrEnum):
    NONE = "none"  # no TLSA records
    INSECURE = "insecure"  # records, but something on the way is not secure
    UNUSABLE = "unusable"  # secure records, none usable (PKIX-*, unknown parameters)
    USABLE = "usable"
    BOGUS = "bogus"
    UNKNOWN = "unknown"  # the TLSA lookup failed: nothing can be said


def host_state(host: DaneHost, mx_secure: bool) -> HostState:
    """What a DANE sender finds at one MX host (RFC 7672 §2.2)."""
    if Dnssec.BOGUS in (host.tlsa.dnssec, host.address_dnssec):
        return HostState.BOGUS
    if host.tlsa.failed:
        return HostState.UNKNOWN
    if not host.tlsa.tlsa:
        return HostState.NONE
    if not (mx_secure and host.tlsa.dnssec is Dnssec.SECURE
            and host.address_dnssec is Dnssec.SECURE):
        return HostState.INSECURE
    if any(usable_record(r) for r in host.tlsa.tlsa):
        return HostState.USABLE
    return HostState.UNUSABLE


@dataclass(frozen=True, slots=True)
class DaneAssessment:
    """The DANE part of a domain's verdict (``None`` fields: nothing can be said)."""

    dane: Dane | None
    usable: tuple[bool, ...]  # per ``obs.dane`` host
    mistakes: frozenset[str]
    mechanism: Mechanism | None
    protection: Protection | None


def _dane(obs: DomainObservations, states: list[HostState]) -> Dane | None:
    mx = obs.mx
    if mx.dnssec is Dnssec.BOGUS:
        return Dane.BOGUS
    if mx.dnssec is None or mx.failed:
        return None  # nothing to judge by
    if obs.dane is None:  # TLSA not looked up: none when DANE cannot apply, else unknown
        return Dane.NONE if dane_cannot_apply(obs) else None
    if HostState.BOGUS in states:
        return Dane.BOGUS
    if HostState.UNKNOWN in states:
        return None
    if states and all(s is HostState.USABLE for s in states):
        return Dane.USABLE
    if HostState.USABLE in states or HostState.UNUSABLE in states:
        return Dane.PARTIAL
    if HostState.INSECURE in states:
        return Dane.INSECURE
    return Dane.NONE


def _mistakes(obs: DomainObservations, states: list[HostState], dane: Dane | None,
              sts_status: str, sts_mistakes: AbstractSet[str]) -> set[str]:
    found: set[str] = set()
    if Dnssec.BOGUS in (obs.mx.dnssec, obs.sts_txt.dnssec, obs.policy_host.dnssec):
        found.add("dnssec_bogus")
    if HostState.BOGUS in states:
        found.add("tlsa_bogus")
    if HostState.INSECURE in states:
        found.add("tlsa_insecure")
    if HostState.UNUSABLE in states:
        found.add("tlsa_unusable_usage")
    if dane is Dane.PARTIAL and HostState.USABLE in states:
        found.add("tlsa_partial")
    mismatch = any(h.smtp_dane == SMTP_MISMATCH for h in obs.dane or ())
    if mismatch:
        found.add("dane_mismatch")
    if sts_status == "enforce" and dane in (Dane.USABLE, Dane.PARTIAL, Dane.BOGUS):
        dane_fails = mismatch or dane is Dane.BOGUS
        checked = [h.smtp_dane for h in obs.dane or () if h.smtp_dane is not None]
        dane_passes = bool(checked) and all(v == SMTP_VALID for v in checked)
        sts_fails = bool(sts_mistakes & {"mx_cert_invalid", "mx_not_in_policy"})
        if (dane_fails and not sts_fails) or (dane_passes and sts_fails):
            found.add("dane_sts_conflict")
    return found


def dane_cannot_apply(obs: DomainObservations) -> bool:
    """DANE cannot apply to the domain: its MX answer is insecure (RFC 7672 §2.2.1) or names
    no host; whatever TLSA records exist, senders ignore them."""
    mx = obs.mx
    if mx.dnssec not in (Dnssec.SECURE, Dnssec.INSECURE):
        return False
    return mx.dnssec is Dnssec.INSECURE or not any(m.host for m in mx.mx)


def _host_protection(state: HostState, smtp_dane: str | None, sts: Protection) -> Protection:
    if state is HostState.BOGUS or smtp_dane == SMTP_MISMATCH:
        return Protection.DEFERRED
    if state is HostState.USABLE:
        return Protection.AUTHENTICATED
    if state is HostState.UNUSABLE:
        return Protection.ENCRYPTED
    return sts  # no DANE at this host: MTA-STS (if any) applies


def _sender(obs: DomainObservations, states: list[HostState], dane: Dane | None,
            sts_status: str) -> tuple[Mechanism | None, Protection | None]:
    """What a sender implementing both does (RFC 8461 §2 with RFC 7672 §2.2)."""
    sts = _STS_PROTECTION.get(sts_status)
    if dane is Dane.BOGUS and obs.mx.dnssec is Dnssec.BOGUS:
        return Mechanism.DANE, Protection.DEFERRED
    if dane in (Dane.USABLE, Dane.PARTIAL, Dane.BOGUS):
        fallback = sts if sts is not None else Protection.NONE
        hosts = obs.dane or ()
        levels = [_host_protection(s, h.smtp_dane, fallback)
                  for s, h in zip(states, hosts, strict=True)]
        return Mechanism.DANE, min(levels, key=_RANK.__getitem__)
    if (dane is None and not dane_cannot_apply(obs)) or sts is None:
        return None, None  # DANE or MTA-STS unknown: so is the sender's choice
    if sts_status in ("enforce", "testing"):
        return Mechanism.MTA_STS, sts
    return Mechanism.NONE, Protection.NONE


#: Assessments of domains without TLSA lookups and without bogus answers, by (dane, MTA-STS
#: status): nearly every domain, and their assessment depends on nothing else (no mistakes,
#: no hosts), so it is computed once per key, not once per domain.
_WITHOUT_TLSA: dict[tuple[Dane | None, str], DaneAssessment] = {}


def assess_dane(obs: DomainObservations, sts_status: str,
                sts_mistakes: AbstractSet[str] = frozenset()) -> DaneAssessment:
    """The DANE verdict of ``obs`` beside its MTA-STS ``sts_status`` (docs §8)."""
    mx = obs.mx
    if obs.dane is None and Dnssec.BOGUS not in (mx.dnssec, obs.sts_txt.dnssec,
                                                 obs.policy_host.dnssec):
        dane = None if mx.dnssec is None or mx.failed else (
            Dane.NONE if dane_cannot_apply(obs) else None)
        cached = _WITHOUT_TLSA.get((dane, sts_status))
        if cached is None:
            cached = _WITHOUT_TLSA[(dane, sts_status)] = _assess(obs, sts_status, frozenset())
        return cached
    return _assess(obs, sts_status, sts_mistakes)


def _assess(obs: DomainObservations, sts_status: str, sts_mistakes: AbstractSet[str]
            ) -> DaneAssessment:
    mx_secure = obs.mx.dnssec is Dnssec.SECURE
    states = [host_state(h, mx_secure) for h in obs.dane or ()]
    dane = _dane(obs, states)
    mechanism, protection = _sender(obs, states, dane, sts_status)
    return DaneAssessment(
        dane=dane,
        usable=tuple(s is HostState.USABLE for s in states),
        mistakes=frozenset(_mistakes(obs, states, dane, sts_status, sts_mistakes)),
        mechanism=mechanism,
        protection=protection,
    )
