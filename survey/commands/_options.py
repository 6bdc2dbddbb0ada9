"""The options `scan` and `check` share (network, DNSSEC/DANE), their argument types, and the
one-line usage error: parsing only. Defaults come from the option table
(``survey.dataset.manifest.OPTIONS``), like everything else about an option."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from survey.dataset.manifest import PROBE_DEFAULTS


class UsageError(Exception):
    """A bad option: printed as one line, exit status 2, nothing sent."""


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {text!r}")
    return value


def port_number(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}")
    return value


def parse_resolver(text: str) -> tuple[str, int]:
    """``HOST[:PORT]``, ``[V6]:PORT`` or a bare IPv6 address; HOST must be an IP address."""
    import ipaddress

    host, port = text, 53
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise argparse.ArgumentTypeError(f"bad resolver {text!r}")
        if rest:
            port = port_number(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = port_number(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad resolver {text!r}: give an IP address, optionally with :PORT") from None
    return host, port


#: --tlsa: which domains' MX hosts get TLSA lookups (issue 16).
TLSA_CHOICES = ("secure", "all")


def add_probe_options(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """The network options `scan` and `check` share; ``defaults=False`` leaves unset options
    None (``PROBE_DEFAULTS`` are applied later), so that a value given on the command line can
    be told from one taken from a manifest."""
    d = PROBE_DEFAULTS if defaults else {}
    net = parser.add_argument_group("network")
    net.add_argument("--resolver", action="append", type=parse_resolver, metavar="HOST[:PORT]",
                     help="recursive resolver (repeatable; default: the system's)")
    net.add_argument("--timeout", type=positive_float, default=d.get("timeout"), metavar="S",
                     help="deadline of each HTTPS and SMTP probe (default 10)")
    net.add_argument("--dns-timeout", type=positive_float, default=d.get("dns_timeout"),
                     metavar="S", help="deadline of each DNS attempt (default 2)")
    net.add_argument("--retries", type=non_negative_int, default=d.get("retries"), metavar="N",
                     help="extra DNS attempts on timeout or SERVFAIL (default 2)")
    net.add_argument("--https-port", type=port_number, default=d.get("https_port"), metavar="P")
    net.add_argument("--smtp-port", type=port_number, default=d.get("smtp_port"), metavar="P")
    net.add_argument("--ca-bundle", type=Path, metavar="PEM",
                     help="also trust these CAs (PEM), on top of the system's store")
    net.add_argument("--allow-private", action="store_true", default=d.get("allow_private"),
                     help="allow connections to private and special-purpose addresses")
    net.add_argument("--smtp", action="store_true", default=d.get("smtp"),
                     help="also probe the MX hosts with STARTTLS on port 25")
    net.add_argument("--ehlo-name", metavar="NAME", help="name sent in EHLO")
    net.add_argument("--contact", metavar="URL",
                     help="URL shown in the User-Agent so that operators can reach you")
    net.add_argument("--per-destination", type=positive_int, default=d.get("per_destination"),
                     metavar="N", help="concurrent connections per IP address (default 4)")
    net.add_argument("--rate", type=positive_float, default=d.get("rate"), metavar="QPS",
                     help="DNS queries per second (default 1000)")
    net.add_argument("--exclude", type=Path, metavar="FILE",
                     help="exclusion list: domains (with subdomains) and IP prefixes")
    dane = parser.add_argument_group("DNSSEC and DANE")
    dane.add_argument("--tlsa", choices=TLSA_CHOICES, default=d.get("tlsa"),
                      help="look up the MX hosts' TLSA records for domains whose MX answer is "
                      "DNSSEC-secure (default), or for all domains")
    dane.add_argument("--dnssec-check", metavar="NAME",
                      help="a name known to be DNSSEC-signed: asked once to tell whether the "
                      "resolver validates (recorded in the manifest; without validation the "
                      "DNSSEC and DANE columns mean nothing)")


def resolvers_from_args(args: argparse.Namespace) -> tuple[tuple[str, int], ...]:
    if args.resolver:
        return tuple(args.resolver)
    from survey.probes.dns import system_resolvers

    try:
        found = system_resolvers()
    except Exception as exc:  # an unreadable resolv.conf is a usage problem, not a crash
        raise UsageError(f"cannot read the system's resolvers ({exc}); use --resolver") from exc
    if not found:
        raise UsageError("no system resolver found; use --resolver HOST[:PORT]")
    return tuple(found)


def exclusions_from_args(args: argparse.Namespace) -> Any:
    """The exclusion list (``survey.probes.net.Exclusions``) or None; bad lines are reported."""
    if args.exclude is None:
        return None
    from survey.probes.net import Exclusions

    try:
        exclusions = Exclusions.from_file(args.exclude)
    except OSError as exc:
        raise UsageError(f"--exclude {args.exclude}: {exc.strerror or exc}") from exc
    for number, text in exclusions.bad_lines[:10]:
        print(f"warning: {args.exclude}:{number}: ignored bad entry {text!r}", file=sys.stderr)
    return exclusions


def check_probe_args(args: argparse.Namespace) -> None:
    if args.ca_bundle is not None and not args.ca_bundle.is_file():
        raise UsageError(f"--ca-bundle {args.ca_bundle}: no such file")
    if args.contact is not None and not args.contact.strip():
        raise UsageError("--contact must not be empty")
