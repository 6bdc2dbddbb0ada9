"""What the scanner may contact, and how fast: the politeness and safety layer.

- ``is_special_address``/``AddressGuard``: never connect to private or special-purpose addresses
  that DNS hands us (a toplist name pointing at 10.0.0.1 or 127.0.0.1 must not make the scanner
  probe its own network), unless ``allow_private`` (the test internet lives on loopback).
- ``Exclusions`` (``survey.core.exclusions``, pure): the opt-out list the guard consults.
- ``RateLimiter``: one global queries-per-second budget (GCRA, no background task).
- ``DestinationLimiter``: at most N concurrent connections to one IP (zgrab2 caps per host too).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager

import trio

from survey.core.exclusions import Exclusions as Exclusions
from survey.core.exclusions import IPAddress, parse_address
from survey.core.observations import FetchError

# --- special-purpose addresses -----------------------------------------------------------------

#: IANA IPv4 Special-Purpose Address Registry entries that are not globally reachable, plus
#: multicast and the deprecated 6to4 relay anycast. Stated explicitly rather than relying on
#: ``is_global``, whose answers changed between Python releases (and which calls 224/4 global).
_SPECIAL_V4 = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # private (RFC 1918)
    "100.64.0.0/10",  # shared address space (CGN, RFC 6598)
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",  # documentation (TEST-NET-1/2/3)
    "192.88.99.0/24",  # 6to4 relay anycast (deprecated, RFC 7526)
    "198.18.0.0/15",  # benchmarking (RFC 2544)
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, includes the limited broadcast 255.255.255.255
))

#: Global unicast IPv6 is 2000::/3 (plus the NAT64 well-known prefix, checked separately):
#: everything outside (::/8, 100::/64 discard, fc00::/7, fe80::/10, ff00::/8, ...) is special.
_GLOBAL_V6 = ipaddress.IPv6Network("2000::/3")
_SPECIAL_V6 = tuple(ipaddress.IPv6Network(n) for n in (
    "2001::/23",  # IETF protocol assignments, includes Teredo 2001::/32, benchmarking 2001:2::/48
    "2001:db8::/32", "3fff::/20",  # documentation (RFC 3849, RFC 9637)
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052)
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a mapped, NAT64 or 6to4 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _ranges(networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
            ) -> tuple[tuple[int, int], ...]:
    return tuple((int(n.network_address), int(n.broadcast_address)) for n in networks)


_SPECIAL_V4_RANGES = _ranges(_SPECIAL_V4)
_SPECIAL_V6_RANGES = _ranges(_SPECIAL_V6)


def _in(value: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= value <= high for low, high in ranges)


def _special(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv4Address):
        return _in(int(ip), _SPECIAL_V4_RANGES)
    if ip.scope_id:
        return True
    embedded = _embedded_v4(ip)
    if embedded is not None:
        return _in(int(embedded), _SPECIAL_V4_RANGES)
    if ip in _V4_COMPATIBLE:  # ::a.b.c.d is deprecated (RFC 4291 §2.5.5.1): never a destination
        return True
    return ip not in _GLOBAL_V6 or _in(int(ip), _SPECIAL_V6_RANGES)


def is_special_address(address: str) -> bool:
    """True for anything that is not a globally reachable unicast address (unparseable too).

    IPv4-mapped (``::ffff:a.b.c.d``), NAT64 (``64:ff9b::a.b.c.d``) and 6to4 (``2002:AABB:CCDD::``)
    forms are judged by the IPv4 address they carry; IPv4-compatible ``::a.b.c.d`` is always
    special.
    """
    ip = parse_address(address)
    return True if ip is None else _special(ip)


# --- the guard ---------------------------------------------------------------------------------

class AddressGuard:
    """Decides, for each resolved address, whether a probe may connect to it.

    Exclusions win over everything (an opt-out is honoured even with ``allow_private``); then
    special-purpose addresses are blocked unless ``allow_private``. Unparseable addresses are
    always blocked.
    """

    def __init__(
        self, *, allow_private: bool = False, exclusions: Exclusions | None = None
    ) -> None:
        self.allow_private = allow_private
        self.exclusions = exclusions
        self.blocked = 0
        self.excluded = 0

    def check(self, address: str) -> FetchError | None:
        ip = parse_address(address)
        if ip is not None and self.exclusions is not None and self.exclusions.excludes_ip(ip):
            self.excluded += 1
            return FetchError.EXCLUDED
        if ip is None or (not self.allow_private and _special(ip)):
            self.blocked += 1
            return FetchError.BLOCKED
        return None

    def allowed(self, addresses: Iterable[str]) -> tuple[list[str], FetchError | None]:
        """The addresses that may be contacted, in order; when none, why (EXCLUDED if any was
        excluded, else BLOCKED; None for an empty input, which is the caller's NO_ADDRESS)."""
        ok: list[str] = []
        errors: set[FetchError] = set()
        for address in addresses:
            error = self.check(address)
            if error is None:
                ok.append(address)
            else:
                errors.add(error)
        if ok or not errors:
            return ok, None
        return ok, FetchError.EXCLUDED if FetchError.EXCLUDED in errors else FetchError.BLOCKED


# --- rate limits -------------------------------------------------------------------------------

class RateLimiter:
    """Global rate limit: GCRA (a token bucket without a refill task) on ``trio.current_time()``.

    Each caller reserves its slot on arrival by pushing the "theoretical arrival time" forward,
    then sleeps until the slot is due: callers are served in arrival order, nothing is queued
    but trio's own timers, and an uncontended call costs one checkpoint. Up to ``burst`` calls
    pass at once after an idle period (default: a tenth of a second's worth, at least 1), which
    also absorbs scheduling jitter without losing rate.
    """

    def __init__(self, rate: float, burst: int | None = None) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number, got {rate!r}")
        if burst is None:
            burst = max(1, math.ceil(rate / 10))
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = burst / rate
        self._tat = -math.inf

    async def acquire(self, n: int = 1) -> None:
        """Wait until ``n`` units may be spent. A cancelled waiter gives its slot back if it can."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n!r}")
        now = trio.current_time()
        tat = max(self._tat, now) + n * self._interval
        self._tat = tat
        due = tat - self._tolerance
        if due <= now:
            await trio.lowlevel.checkpoint()
            return
        try:
            await trio.sleep_until(due)
        except trio.Cancelled:
            if self._tat == tat:  # nobody reserved after us: hand the slot back
                self._tat -= n * self._interval
            raise


class _Destination:
    __slots__ = ("semaphore", "users")

    def __init__(self, limit: int) -> None:
        self.semaphore = trio.Semaphore(limit)
        self.users = 0  # holders plus waiters


def _destination_key(address: str) -> str:
    """One key per IP however it is written (``::FFFF:1.2.3.4`` and ``1.2.3.4`` are one host)."""
    ip = parse_address(address)
    if ip is None:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class DestinationLimiter:
    """At most ``per_destination`` concurrent holders per IP address (HTTPS and SMTP probes).

    Entries exist only while someone holds or waits for a slot, so memory follows the work in
    flight, not the number of addresses ever seen. Waiters are served first come, first served.
    """

    def __init__(self, per_destination: int) -> None:
        if per_destination < 1:
            raise ValueError(f"per_destination must be >= 1, got {per_destination!r}")
        self.per_destination = per_destination
        self._destinations: dict[str, _Destination] = {}

    def __len__(self) -> int:
        """Destinations with a holder or a waiter right now."""
        return len(self._destinations)

    def slot(self, address: str) -> AbstractAsyncContextManager[None]:
        return _Slot(self._destinations, _destination_key(address), self.per_destination)


class _Slot(AbstractAsyncContextManager[None]):
    """One use of a destination; a waiter cancelled before it got the slot still cleans up."""

    __slots__ = ("_destinations", "_entry", "_key", "_limit")

    def __init__(self, destinations: dict[str, _Destination], key: str, limit: int) -> None:
        self._destinations = destinations
        self._key = key
        self._limit = limit
        self._entry: _Destination | None = None

    async def __aenter__(self) -> None:
        entry = self._destinations.get(self._key)
        if entry is None:
            entry = self._destinations[self._key] = _Destination(self._limit)
        entry.users += 1
        self._entry = entry
        try:
            await entry.semaphore.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._entry is not None
        self._entry.semaphore.release()
        self._leave()

    def _leave(self) -> None:
        assert self._entry is not None
        self._entry.users -= 1
        if self._entry.users == 0:
            del self._destinations[self._key]
        self._entry = None
