"""A scan's configuration: one small config per probe (dns, https, smtp, tlsa), the guard shared
by the connecting probes, and the pool, instead of twenty flat fields.

``ScanConfig.from_options`` builds it from the one option table (``dataset.manifest.OPTIONS``:
each row names the config fields it sets), so an option is not written out again here. The
old flat keywords still construct it (``ScanConfig(context=..., resolvers=..., rate=...,
smtp=True)``): scripts and notebooks written against the flat config keep working; a flat
keyword overrides the same field of a nested config given with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from survey import __version__
from survey.dataset.manifest import OPTIONS, SCAN_DEFAULTS
from survey.dataset.schema import RunContext
from survey.probes.net import Exclusions

#: At most this many MX hosts (lowest preference first) get an SMTP probe per domain.
MAX_MX_PROBED = 10
#: The connect deadline of a TLS probe: its overall deadline, at most this.
MAX_CONNECT_TIMEOUT = 5.0


def user_agent(contact: str | None) -> str:
    """``mta-sts-survey/<version> (+<contact>)``: operators can find who scans them."""
    base = f"mta-sts-survey/{__version__}"
    return f"{base} (+{contact})" if contact else base


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _at_least_one(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1")


@dataclass(frozen=True, slots=True)
class DnsOptions:
    """The resolvers and how they are asked (``probes.dns.DnsConfig``) and paced."""

    resolvers: tuple[tuple[str, int], ...]
    rate: float = SCAN_DEFAULTS["rate"]  # queries per second, all resolvers together
    timeout: float = SCAN_DEFAULTS["dns_timeout"]  # per attempt
    retries: int = SCAN_DEFAULTS["retries"]
    backoff: float = SCAN_DEFAULTS["dns_backoff"]  # before the first retry, doubled each retry
    sockets: int = SCAN_DEFAULTS["dns_sockets"]  # long-lived UDP sockets per resolver

    def __post_init__(self) -> None:
        _positive("rate", self.rate)
        if not (math.isfinite(self.backoff) and self.backoff >= 0):
            raise ValueError(f"dns_backoff must be >= 0, got {self.backoff!r}")
        _at_least_one("dns_sockets", self.sockets)
        if not self.resolvers:
            raise ValueError("no resolver")


@dataclass(frozen=True, slots=True)
class HttpsOptions:
    """The policy fetch (``probes.https.HttpsConfig``)."""

    port: int = SCAN_DEFAULTS["https_port"]
    timeout: float = SCAN_DEFAULTS["timeout"]  # overall deadline per fetch
    connect_timeout: float = MAX_CONNECT_TIMEOUT
    ca_bundle: Path | None = None  # extra trust anchors
    contact: str | None = None  # in the User-Agent

    @property
    def user_agent(self) -> str:
        return user_agent(self.contact)


@dataclass(frozen=True, slots=True)
class SmtpOptions:
    """STARTTLS to the MX hosts (``probes.smtp.SmtpConfig``); ``enabled``: ``--smtp``.
    True in a boolean context when enabled (as the flat ``smtp`` flag was)."""

    enabled: bool = SCAN_DEFAULTS["smtp"]
    port: int = SCAN_DEFAULTS["smtp_port"]
    timeout: float = SCAN_DEFAULTS["timeout"]  # overall deadline per probe
    connect_timeout: float = MAX_CONNECT_TIMEOUT
    ca_bundle: Path | None = None
    ehlo_name: str | None = None  # None: the SMTP probe's default

    def __bool__(self) -> bool:
        return self.enabled


@dataclass(frozen=True, slots=True)
class TlsaOptions:
    """DANE: whose MX hosts get TLSA lookups: ``secure`` (a secure MX answer) or ``all``."""

    mode: str = SCAN_DEFAULTS["tlsa"]

    def __post_init__(self) -> None:
        if self.mode not in ("secure", "all"):
            raise ValueError(f"tlsa must be 'secure' or 'all', got {self.mode!r}")


@dataclass(frozen=True, slots=True)
class GuardOptions:
    """What the connecting probes (HTTPS, SMTP) share: which addresses they may contact and
    how many connections each destination gets at once."""

    allow_private: bool = SCAN_DEFAULTS["allow_private"]
    exclusions: Exclusions | None = None
    per_destination: int = SCAN_DEFAULTS["per_destination"]

    def __post_init__(self) -> None:
        _at_least_one("per_destination", self.per_destination)


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """How many domains are in flight (``survey.scan.inflight``) and who handles signals."""

    concurrency: int = SCAN_DEFAULTS["concurrency"]  # at the start, and at least
    #: raised up to this while the latency calls for more; None or at most ``concurrency``
    #: keeps the number fixed (the ``scan`` command's default: 10,000)
    max_concurrency: int | None = None
    handle_signals: bool = True  # off when not on trio's main thread

    def __post_init__(self) -> None:
        _at_least_one("concurrency", self.concurrency)


#: The nested configs by their field name in ``ScanConfig`` (the first part of an option
#: row's ``config`` path).
SECTIONS: dict[str, type[Any]] = {"dns": DnsOptions, "https": HttpsOptions, "smtp": SmtpOptions,
                                  "tlsa": TlsaOptions, "guard": GuardOptions,
                                  "pool": PoolOptions}

#: The flat keywords of the former ``ScanConfig`` and the nested fields each sets.
FLAT: dict[str, tuple[str, ...]] = {
    "resolvers": ("dns.resolvers",), "rate": ("dns.rate",), "dns_timeout": ("dns.timeout",),
    "retries": ("dns.retries",), "dns_backoff": ("dns.backoff",),
    "dns_sockets": ("dns.sockets",), "https_port": ("https.port",),
    "timeout": ("https.timeout", "smtp.timeout"),
    "connect_timeout": ("https.connect_timeout", "smtp.connect_timeout"),
    "ca_bundle": ("https.ca_bundle", "smtp.ca_bundle"), "contact": ("https.contact",),
    "smtp_port": ("smtp.port",), "ehlo_name": ("smtp.ehlo_name",),
    "allow_private": ("guard.allow_private",), "exclusions": ("guard.exclusions",),
    "per_destination": ("guard.per_destination",), "concurrency": ("pool.concurrency",),
    "max_concurrency": ("pool.max_concurrency",), "handle_signals": ("pool.handle_signals",),
}


@dataclass(frozen=True, slots=True, init=False)
class ScanConfig:
    """Every option of a scan (the command line, minus input and output), per probe."""

    context: RunContext
    dns: DnsOptions
    https: HttpsOptions = field(default_factory=HttpsOptions)
    smtp: SmtpOptions = field(default_factory=SmtpOptions)
    tlsa: TlsaOptions = field(default_factory=TlsaOptions)
    guard: GuardOptions = field(default_factory=GuardOptions)
    pool: PoolOptions = field(default_factory=PoolOptions)
    max_mx: int = MAX_MX_PROBED  # MX hosts probed per domain (SMTP and TLSA)

    def __init__(
        self,
        context: RunContext,
        resolvers: tuple[tuple[str, int], ...] | None = None,
        *,
        dns: DnsOptions | None = None,
        https: HttpsOptions | None = None,
        smtp: SmtpOptions | bool | None = None,
        tlsa: TlsaOptions | str | None = None,
        guard: GuardOptions | None = None,
        pool: PoolOptions | None = None,
        max_mx: int = MAX_MX_PROBED,
        # the flat keywords of the former config (None: not given)
        rate: float | None = None,
        concurrency: int | None = None,
        max_concurrency: int | None = None,
        per_destination: int | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        dns_timeout: float | None = None,
        retries: int | None = None,
        dns_backoff: float | None = None,
        dns_sockets: int | None = None,
        https_port: int | None = None,
        smtp_port: int | None = None,
        ca_bundle: Path | None = None,
        allow_private: bool | None = None,
        ehlo_name: str | None = None,
        contact: str | None = None,
        exclusions: Exclusions | None = None,
        handle_signals: bool | None = None,
    ) -> None:
        flat = {"resolvers": resolvers, "rate": rate, "concurrency": concurrency,
                "max_concurrency": max_concurrency, "per_destination": per_destination,
                "timeout": timeout, "connect_timeout": connect_timeout,
                "dns_timeout": dns_timeout, "retries": retries, "dns_backoff": dns_backoff,
                "dns_sockets": dns_sockets, "https_port": https_port, "smtp_port": smtp_port,
                "ca_bundle": ca_bundle, "allow_private": allow_private, "ehlo_name": ehlo_name,
                "contact": contact, "exclusions": exclusions, "handle_signals": handle_signals}
        values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for name, value in flat.items():
            if value is not None:
                for path in FLAT[name]:
                    section, _, attribute = path.partition(".")
                    values[section][attribute] = value
        if isinstance(smtp, bool):
            values["smtp"]["enabled"], smtp = smtp, None
        if isinstance(tlsa, str):
            values["tlsa"]["mode"], tlsa = tlsa, None
        given = {"dns": dns, "https": https, "smtp": smtp, "tlsa": tlsa, "guard": guard,
                 "pool": pool}
        for name, kind in SECTIONS.items():
            base = given[name]
            if base is None:
                if name == "dns" and "resolvers" not in values[name]:
                    raise TypeError("ScanConfig needs dns=DnsOptions(...) or resolvers=...")
                built = kind(**values[name])
            else:
                built = replace(base, **values[name]) if values[name] else base
            object.__setattr__(self, name, built)
        _at_least_one("max_mx", max_mx)
        object.__setattr__(self, "context", context)
        object.__setattr__(self, "max_mx", max_mx)

    # The former flat fields, read-only: scripts that read ``config.rate`` keep working. Where
    # one flat name set two probes (``timeout``), the HTTPS probe's value is the one read.
    @property
    def resolvers(self) -> tuple[tuple[str, int], ...]:
        return self.dns.resolvers

    @property
    def rate(self) -> float:
        return self.dns.rate

    @property
    def dns_timeout(self) -> float:
        return self.dns.timeout

    @property
    def retries(self) -> int:
        return self.dns.retries

    @property
    def dns_backoff(self) -> float:
        return self.dns.backoff

    @property
    def dns_sockets(self) -> int:
        return self.dns.sockets

    @property
    def https_port(self) -> int:
        return self.https.port

    @property
    def timeout(self) -> float:
        return self.https.timeout

    @property
    def connect_timeout(self) -> float:
        return self.https.connect_timeout

    @property
    def ca_bundle(self) -> Path | None:
        return self.https.ca_bundle

    @property
    def contact(self) -> str | None:
        return self.https.contact

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    @property
    def ehlo_name(self) -> str | None:
        return self.smtp.ehlo_name

    @property
    def allow_private(self) -> bool:
        return self.guard.allow_private

    @property
    def exclusions(self) -> Exclusions | None:
        return self.guard.exclusions

    @property
    def per_destination(self) -> int:
        return self.guard.per_destination

    @property
    def concurrency(self) -> int:
        return self.pool.concurrency

    @property
    def max_concurrency(self) -> int | None:
        return self.pool.max_concurrency

    @property
    def handle_signals(self) -> bool:
        return self.pool.handle_signals

    @classmethod
    def from_options(cls, values: Mapping[str, Any], *, context: RunContext,
                     handle_signals: bool = True) -> ScanConfig:
        """The config of a scan whose options (argparse dests, as ``OPTIONS`` names them) are
        ``values``: each table row with a ``config`` path sets it; a value that is None or
        absent keeps the default. ``resolver`` and ``exclude`` must already be resolved (the
        resolver addresses, the ``Exclusions``). The TLS probes' connect deadline is their
        deadline, at most ``MAX_CONNECT_TIMEOUT``."""
        nested: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for option in OPTIONS:
            value = values.get(option.dest) if option.dest else None
            if value is None:
                continue
            for path in option.config:
                section, _, attribute = path.partition(".")
                nested[section][attribute] = value
        for section in ("https", "smtp"):
            deadline = nested[section].get("timeout", SCAN_DEFAULTS["timeout"])
            nested[section]["connect_timeout"] = min(deadline, MAX_CONNECT_TIMEOUT)
        if "resolvers" in nested["dns"]:
            nested["dns"]["resolvers"] = tuple(nested["dns"]["resolvers"])
        nested["pool"]["handle_signals"] = handle_signals
        if "resolvers" not in nested["dns"]:
            raise ValueError("no resolver")
        return cls(context, **{name: kind(**nested[name]) for name, kind in SECTIONS.items()})


def config_paths() -> set[str]:
    """Every ``section.field`` an option row may name."""
    return {f"{name}.{f.name}" for name, kind in SECTIONS.items() for f in fields(kind)}
