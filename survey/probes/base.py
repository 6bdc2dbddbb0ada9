"""The probe contract: what a probe takes and what it returns, and the bounds every probe keeps.

A probe is an object with one async method: network in, an observation out
(``survey.core.observations``), never an exception for anything the network or the remote side
does (a timeout, a refusal, a bad certificate, garbage bytes: all are recorded in the
observation). Every probe:

- has a deadline for each attempt and a size cap for everything it reads (``dns``: the
  per-attempt timeout, EDNS payload, ``MAX_TCP_MESSAGE``; ``https``: ``POLICY_MAX_BYTES``;
  ``smtp``: ``max_line`` bytes a line, ``max_lines`` a reply),
- connects only to addresses the ``AddressGuard`` (``probes.net``) allows, through one slot of
  the ``DestinationLimiter`` per destination (``probes.connect`` does both for TLS probes),
- is opened once per scan (an async context manager owning its sockets) and shared by all tasks.

The scan's funnel (``survey.scan``) depends on these Protocols only; a new probe (DANE TLSA for
the MX hosts was the first after DNS, HTTPS and SMTP) implements one, adds its observation type
to core and one step to the funnel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from survey.core.observations import DnsResult, HttpsFetch, SmtpProbe


class Resolver(Protocol):
    """DNS (``probes.dns.DnsClient``): questions one at a time or several in one batch (what a
    scan asks about a domain is the funnel's plan: ``survey.scan.funnel``)."""

    queries_sent: int

    async def batch(self, asked: Sequence[tuple[str, str]], *,
                    wire: Sequence[bytes] | None = None) -> list[DnsResult]: ...

    async def resolve_addresses(self, host: str) -> DnsResult: ...

    async def query(self, qname: str, qtype: str) -> DnsResult: ...

    async def addresses_and_tlsa(self, host: str, port: int = 25
                                 ) -> tuple[DnsResult, DnsResult]: ...


class Fetcher(Protocol):
    """The MTA-STS policy over HTTPS (``probes.https.PolicyFetcher``)."""

    async def fetch(self, domain: str, addresses: tuple[str, ...]) -> HttpsFetch: ...


class Prober(Protocol):
    """STARTTLS on an MX host (``probes.smtp.SmtpProber``)."""

    async def probe(self, host: str, addresses: tuple[str, ...]) -> SmtpProbe: ...
