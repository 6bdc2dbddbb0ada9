"""The funnel: what is asked about a domain, in order; each step only where the answers before
call for it (``observe``): the four DNS lookups in one batch, then the policy fetch only where
there is something to fetch, then (with ``smtp``) STARTTLS to the MX hosts and (for a secure MX
answer, or ``--tlsa all``) their TLSA records; ``row_for`` classifies and makes the row.

The MTA-STS question plan lives here (the resolver offers only generic queries,
``probes.base.Resolver.batch``): the four lookups of a domain go out as one batch, then the
policy host's AAAA when its A yields nothing and the ``_mta-sts`` TXT has a record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import dns.exception
import trio

from survey.core.classify import classify
from survey.core.observations import (
    DaneHost,
    DnsResult,
    Dnssec,
    DomainObservations,
    HttpsFetch,
    SmtpProbe,
)
from survey.dataset.schema import RunContext, to_row
from survey.probes.base import Fetcher, Prober, Resolver
from survey.probes.dns import merge_addresses
from survey.probes.dnswire import encode_qname, question_tail
from survey.probes.net import AddressGuard, DestinationLimiter, RateLimiter
from survey.scan.config import MAX_MX_PROBED, ScanConfig
from survey.toplist.reader import ToplistEntry

#: The four lookups of a domain, in the order ``lookup_domain`` returns them: the label
#: prefix put before the domain, and the qtype.
DOMAIN_QUESTIONS = (("_mta-sts.", "TXT"), ("_smtp._tls.", "TXT"), ("", "MX"), ("mta-sts.", "A"))
#: The prefixes in wire form (the domain is encoded once for the four names).
_WIRE_PREFIXES = tuple(encode_qname(p)[:-1] if p else b"" for p, _ in DOMAIN_QUESTIONS)


def domain_questions(domain: str) -> list[bytes]:
    """The wire questions of ``lookup_domain`` (the domain encoded once; equal to encoding each
    name), [] when one of the names cannot be encoded (each is then asked through ``query``,
    which reports why)."""
    if domain == ".":  # "_mta-sts.." has an empty label: leave it to ``query``
        return []
    try:
        base = encode_qname(domain)
    except (ValueError, dns.exception.DNSException):
        return []
    names = [prefix + base for prefix in _WIRE_PREFIXES]
    if any(len(name) > 255 for name in names):
        return []
    return [name + question_tail(qtype) for name, (_, qtype) in zip(
        names, DOMAIN_QUESTIONS, strict=True)]


async def lookup_domain(resolver: Resolver, domain: str
                        ) -> tuple[DnsResult, DnsResult, DnsResult, DnsResult]:
    """The four lookups of a domain in one batch, in this order:

    ``_mta-sts.<d>`` TXT, ``_smtp._tls.<d>`` TXT, ``<d>`` MX, ``mta-sts.<d>`` A. When A yields
    no address and the ``_mta-sts`` TXT has a record, ``mta-sts.<d>`` AAAA is asked too and
    merged into the fourth result (``probes.dns.merge_addresses``: the AAAA result if it has
    addresses, else the A result; ``attempts`` is the sum of both lookups). A domain without
    the TXT record is not asked AAAA: its policy host is fetched only when A has addresses.
    """
    asked = [(prefix + domain, qtype) for prefix, qtype in DOMAIN_QUESTIONS]
    sts, tlsrpt, mx, host = await resolver.batch(asked, wire=domain_questions(domain))
    if not host.addresses and sts.txt:
        host = merge_addresses(host, await resolver.query(f"mta-sts.{domain}", "AAAA"))
    return sts, tlsrpt, mx, host


# --- the probes, behind protocols so that the funnel reads as what it does -------------------

@dataclass(frozen=True, slots=True)
class Probes:
    dns: Resolver
    fetcher: Fetcher
    prober: Prober | None
    guard: AddressGuard | None = None  # its counts go into the summary


@asynccontextmanager
async def open_probes(config: ScanConfig) -> AsyncIterator[Probes]:
    """The real probe clients for ``config``, sharing one guard and one destination limiter."""
    from survey.probes.dns import DnsClient, DnsConfig
    from survey.probes.https import HttpsConfig, PolicyFetcher

    guard = AddressGuard(allow_private=config.guard.allow_private,
                         exclusions=config.guard.exclusions)
    destinations = DestinationLimiter(config.guard.per_destination)
    d, h = config.dns, config.https
    dns_config = DnsConfig(resolvers=d.resolvers, timeout=d.timeout, retries=d.retries,
                           backoff=d.backoff, sockets=d.sockets)
    https_config = HttpsConfig(port=h.port, timeout=h.timeout, connect_timeout=h.connect_timeout,
                               user_agent=h.user_agent, ca_bundle=h.ca_bundle)
    async with AsyncExitStack() as stack:
        dns = await stack.enter_async_context(DnsClient(dns_config, limiter=RateLimiter(d.rate)))
        fetcher = await stack.enter_async_context(
            PolicyFetcher(https_config, guard=guard, destinations=destinations))
        prober: Prober | None = None
        m = config.smtp
        if m.enabled:
            from survey.probes.smtp import SmtpConfig, SmtpProber

            smtp_options: dict[str, Any] = {"ehlo_name": m.ehlo_name} if m.ehlo_name else {}
            smtp_config = SmtpConfig(port=m.port, timeout=m.timeout,
                                     connect_timeout=m.connect_timeout, ca_bundle=m.ca_bundle,
                                     **smtp_options)
            prober = await stack.enter_async_context(
                SmtpProber(smtp_config, guard=guard, destinations=destinations))
        yield Probes(dns, fetcher, prober, guard)


# --- the funnel --------------------------------------------------------------------------------

def mx_hosts(mx: DnsResult, cap: int) -> list[str]:
    """Distinct MX host names by preference (null MX dropped), at most ``cap``."""
    hosts: list[str] = []
    for record in sorted(mx.mx, key=lambda r: (r.preference, r.host)):
        if record.host and record.host not in hosts:
            hosts.append(record.host)
    return hosts[:cap]


async def _probe_mx(probes: Probes, domain: str, hosts: list[str], *, smtp: bool, tlsa: bool,
                    mx_secure: bool = False,
                    ) -> tuple[tuple[SmtpProbe, ...], tuple[DaneHost, ...] | None]:
    """Per MX host, concurrently: its addresses, then its TLSA records (``tlsa``) and the SMTP
    probe (``smtp``, or a host with usable TLSA records when there is a prober), whose presented
    chain is checked against the host's TLSA records. Only records a DANE sender uses count:
    secure ones, of a host whose addresses and MX answer (``mx_secure``) are secure too (RFC 7672
    §2.2); a sender ignores the others, so no chain is checked against them."""
    from survey.core.dane import usable_record
    from survey.probes.dane import check_chain, lookup_tlsa

    prober = probes.prober
    results: list[SmtpProbe | None] = [None] * len(hosts)
    dane: list[DaneHost | None] = [None] * len(hosts)

    async def one(i: int, host: str) -> None:
        if tlsa:
            addresses, at_host = await probes.dns.addresses_and_tlsa(host)
            found = await lookup_tlsa(probes.dns, host, addresses, at_host)
            dane[i] = DaneHost(host, found, addresses.dnssec)
        else:
            addresses = await probes.dns.resolve_addresses(host)
        entry = dane[i]
        secure = entry is not None and mx_secure and entry.tlsa.dnssec is Dnssec.SECURE \
            and entry.address_dnssec is Dnssec.SECURE
        usable = entry is not None and secure and any(usable_record(r) for r in entry.tlsa.tlsa)
        if prober is not None and (smtp or usable):
            probe = results[i] = await prober.probe(host, addresses.addresses)
            if entry is not None and secure and entry.tlsa.tlsa:
                dane[i] = DaneHost(host, entry.tlsa, entry.address_dnssec,
                                   check_chain(entry.tlsa.tlsa, probe.chain, (
                                       entry.tlsa.qname.removeprefix("_25._tcp."), host,
                                       domain)))

    async with trio.open_nursery() as nursery:
        for i, host in enumerate(hosts):
            nursery.start_soon(one, i, host)
    return (tuple(r for r in results if r is not None),
            tuple(d for d in dane if d is not None) if tlsa else None)


def wants_tlsa(mx: DnsResult, mode: str) -> bool:
    """Whether the MX hosts' TLSA records are looked up: for a secure MX answer (DANE needs
    one, RFC 7672 §2.2.1), or with ``--tlsa all`` for any MX answer. Domains without a secure
    MX pay nothing by default."""
    return mx.dnssec is Dnssec.SECURE or (mode == "all" and not mx.failed)


async def observe(domain: str, probes: Probes, *, max_mx: int = MAX_MX_PROBED,
                  tlsa: str = "secure") -> DomainObservations:
    """Run the funnel for one domain: only the probes its answers call for."""
    sts, tlsrpt, mx, host = await lookup_domain(probes.dns, domain)
    fetch: HttpsFetch | None = None
    if sts.txt or host.addresses:
        fetch = await probes.fetcher.fetch(domain, host.addresses)
    smtp: tuple[SmtpProbe, ...] = ()
    dane: tuple[DaneHost, ...] | None = None
    has_policy = fetch is not None and fetch.body is not None
    smtp_wanted = probes.prober is not None and bool(sts.txt or has_policy)
    tlsa_wanted = wants_tlsa(mx, tlsa)
    if smtp_wanted or tlsa_wanted:
        hosts = mx_hosts(mx, max_mx)
        if hosts:
            smtp, dane = await _probe_mx(probes, domain, hosts, smtp=smtp_wanted,
                                         tlsa=tlsa_wanted,
                                         mx_secure=mx.dnssec is Dnssec.SECURE)
    return DomainObservations(domain=domain, sts_txt=sts, tlsrpt_txt=tlsrpt, mx=mx,
                              policy_host=host, policy_fetch=fetch, smtp=smtp, dane=dane)


def row_for(entry: ToplistEntry, obs: DomainObservations, context: RunContext
            ) -> tuple[dict[str, Any], str]:
    """The row of one domain and its status (what the progress counts)."""
    verdict = classify(obs)
    row = to_row(context, entry.rank, obs, verdict, dt.datetime.now(dt.UTC))
    return row, str(verdict.status)
