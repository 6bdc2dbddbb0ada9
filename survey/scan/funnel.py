"""The funnel: what is asked about a domain, in order; each step only where the answers before
call for it.

The MTA-STS question plan lives here (the resolver offers only generic queries,
``probes.base.Resolver.batch``): the four lookups of a domain go out as one batch, then the
policy host's AAAA when its A yields nothing and the ``_mta-sts`` TXT has a record.
"""

from __future__ import annotations

import dns.exception

from survey.core.observations import DnsResult
from survey.probes.base import Resolver
from survey.probes.dns import merge_addresses
from survey.probes.dnswire import encode_qname, question_tail

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
