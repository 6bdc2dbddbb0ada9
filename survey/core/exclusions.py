"""A ZMap-style opt-out list (``Exclusions``), by domain suffix and by IP prefix after resolution.

Pure: the toplist reader drops excluded names with it, the address guard refuses excluded
addresses with it (``survey.probes.net``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

from survey.core.names import InvalidName, normalise_domain

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(address: str) -> IPAddress | None:
    """An address from DNS or a user: brackets and a zone (``%eth0``) allowed; None if invalid."""
    text = address.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None



# --- exclusions --------------------------------------------------------------------------------

class Exclusions:
    """A ZMap-style blocklist: domains (with their subdomains) and IPv4/IPv6 addresses or CIDRs.

    One entry a line; ``#`` starts a comment; ``*.example.com`` and ``.example.com`` mean the
    same as ``example.com``; a bare TLD is allowed. Unparseable lines are kept in ``bad_lines``
    (line number, text) for the caller to report: a typo must not stop a scan, nor go unnoticed.
    """

    def __init__(self) -> None:
        self.domains: set[str] = set()
        # (version, prefix length) -> set of network numbers shifted right by the host bits
        self._prefixes: dict[tuple[int, int], set[int]] = {}
        self.bad_lines: list[tuple[int, str]] = []

    @classmethod
    def from_file(cls, path: Path) -> Exclusions:
        with path.open("rb") as f:
            return cls.from_lines(line.decode("utf-8", "replace") for line in f)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Exclusions:
        exclusions = cls()
        for number, line in enumerate(lines, 1):
            entry = line.split("#", 1)[0].strip()
            if entry and not exclusions.add(entry):
                exclusions.bad_lines.append((number, line.rstrip("\r\n")))
        return exclusions

    def add(self, entry: str) -> bool:
        """Add one entry; False (and nothing added) when it is neither a network nor a domain."""
        try:
            network = ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            pass
        else:
            mapped = network.network_address
            if (isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped is not None
                    and network.prefixlen >= 96):  # ::ffff:a.b.c.d/n is a.b.c.d/(n - 96)
                network = ipaddress.IPv4Network((mapped.ipv4_mapped, network.prefixlen - 96))
            shift = network.max_prefixlen - network.prefixlen
            key = (network.version, network.prefixlen)
            self._prefixes.setdefault(key, set()).add(int(network.network_address) >> shift)
            return True
        name = normalise_domain(entry.removeprefix("*.").removeprefix("."),
                                allow_single_label=True)
        if isinstance(name, InvalidName):
            return False
        self.domains.add(name)
        return True

    def __len__(self) -> int:
        return len(self.domains) + sum(len(v) for v in self._prefixes.values())

    def excludes_domain(self, domain: str) -> bool:
        """``domain`` or one of its parents (at a label boundary) is listed."""
        if not self.domains:
            return False
        name = domain.lower().rstrip(".")
        while True:
            if name in self.domains:
                return True
            _, dot, name = name.partition(".")
            if not dot:
                return False

    def excludes_address(self, address: str) -> bool:
        """The address, or the IPv4 address inside an IPv4-mapped one, is in a listed prefix
        (``::ffff:a.b.c.d/n`` entries with n >= 96 are stored as IPv4 prefixes)."""
        ip = parse_address(address)
        return ip is not None and self.excludes_ip(ip)

    def excludes_ip(self, ip: IPAddress) -> bool:
        if not self._prefixes:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return self._listed(ip) or self._listed(ip.ipv4_mapped)
        return self._listed(ip)

    def _listed(self, ip: IPAddress) -> bool:
        value, bits = int(ip), ip.max_prefixlen
        return any(
            value >> (bits - length) in numbers
            for (version, length), numbers in self._prefixes.items()
            if version == ip.version
        )
