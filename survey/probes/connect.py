"""Where and for how long a connecting probe may talk to a host (the HTTPS fetch, SMTP).

Both probes take the addresses the scanner resolved itself and contact the first one the guard
allows: private, special-purpose and excluded addresses are never contacted, and when none is
left the row says why. The session then waits for a slot of the per-destination limit and runs
under one deadline that starts once the slot is ours (waiting for a busy IP is the scanner's
politeness, not the server's slowness). A deadline that passes becomes a timeout row (of the
connection or of the I/O, by how far the session got) and an unexpected exception an
``unknown-error`` row: a probe returns a row, it never raises.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import trio

from survey.core.observations import FetchError
from survey.probes import tls
from survey.probes.net import AddressGuard, DestinationLimiter


class SessionRecord(Protocol):
    """What a session has recorded so far; a deadline may cut it anywhere."""

    error: FetchError | None
    detail: str | None

    @property
    def connected(self) -> bool:
        """Whether the TCP connection was established (timeouts are classified by it)."""


@dataclass(frozen=True, slots=True)
class NoAddress:
    """No resolved address may be contacted: the row's error and why."""

    error: FetchError
    detail: str | None


def choose_address(guard: AddressGuard, addresses: Sequence[str]) -> str | NoAddress:
    """The first address the guard allows, or why there is none (blocked, excluded, none)."""
    allowed, refused = guard.allowed(addresses)
    if allowed:
        return allowed[0]
    text = f"{len(addresses)} address(es), none allowed" if addresses else None
    return NoAddress(refused or FetchError.NO_ADDRESS, text)


def is_refused(exc: BaseException) -> bool:
    """Whether the host refused the TCP connection (httpx and trio wrap the OSError)."""
    return any(isinstance(e, ConnectionRefusedError) for e in tls.cause_chain(exc))


class Connector:
    """The bounds of one connecting probe: the address guard and the per-destination limit (both
    shared by all probes of a scan), the deadline per session, and the TLS contexts (verifying,
    and unverified for reading a certificate that failed)."""

    def __init__(self, guard: AddressGuard, destinations: DestinationLimiter, *,
                 deadline: float, ca_bundle: Path | None) -> None:
        self.guard = guard
        self.destinations = destinations
        self.deadline = deadline
        self.verifying: ssl.SSLContext = tls.verifying_context(ca_bundle)
        self.unverified: ssl.SSLContext = tls.unverified_context()

    async def bounded(self, address: str, record: SessionRecord,
                      session: Callable[[], Awaitable[None]]) -> float:
        """Run ``session`` against ``address`` within a destination slot and the deadline.

        Fills ``record.error``/``detail`` when the deadline passes or the session raises;
        returns the milliseconds from the slot (or from the call, if the slot failed).
        """
        started = time.perf_counter()
        try:
            async with self.destinations.slot(address):
                started = time.perf_counter()
                with trio.move_on_after(self.deadline) as scope:
                    await session()
            if scope.cancelled_caught and record.error is None:
                record.error = FetchError.IO_TIMEOUT if record.connected \
                    else FetchError.CONNECTION_TIMEOUT
                record.detail = f"deadline of {self.deadline:g} s passed"
        except Exception as exc:  # a bug or an unexpected library error: a row, not a crash
            record.error, record.detail = FetchError.UNKNOWN_ERROR, tls.detail(exc)
        return (time.perf_counter() - started) * 1000.0
