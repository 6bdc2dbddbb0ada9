"""Export a ``World`` as RFC 1035 zone files plus an NSD configuration, to serve big worlds with
NSD (much faster than the Python server) for benchmarks.

One zone per top-level label (``test.``, ``example.``), each holding every name of the world
under it, so NSD follows in-zone CNAME chains itself and answers them whole, as the Python server
does. Records are the same as the Python server's (``build_zone``, same address plan).

DNS faults a static zone can express are written as such: ``NXDOMAIN`` (the owner's records are
left out), ``NODATA`` (the owner holds only an ``HINFO`` record, so other types get NOERROR and
no answer), ``CNAME_LOOP`` (the loop's CNAMEs). The others are left out and the owner serves its
records normally (``UNEXPRESSED_FAULTS``): ``SERVFAIL``, ``REFUSED``, ``TIMEOUT`` need a server
that misbehaves, and ``TRUNCATE`` needs one that truncates answers that fit. Differences from the
Python server: NSD is authoritative, so RA is not set; names outside the exported zones get
REFUSED rather than NXDOMAIN.
"""

from __future__ import annotations

import socket
import struct
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from survey.sim.dns_server import (
    TTL,
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    TYPE_MX,
    TYPE_TLSA,
    TYPE_TXT,
    AddressPlan,
    TlsaSource,
    Zone,
    build_zone,
)
from survey.sim.scenario import DnsFault, World

UNEXPRESSED_FAULTS = frozenset({DnsFault.SERVFAIL, DnsFault.REFUSED, DnsFault.TIMEOUT,
                                DnsFault.TRUNCATE})
_TYPE_NAMES = {TYPE_A: "A", TYPE_AAAA: "AAAA", TYPE_CNAME: "CNAME", TYPE_MX: "MX",
               TYPE_TXT: "TXT", TYPE_TLSA: "TLSA"}


def wire_to_text(wire: bytes, start: int = 0) -> str:
    """Absolute presentation form of an uncompressed wire name (as ``name_wire`` makes them)."""
    labels = []
    i = start
    while wire[i]:
        labels.append(wire[i + 1:i + 1 + wire[i]].decode("ascii"))
        i += 1 + wire[i]
    return ".".join(labels) + "."


def _quote(raw: bytes) -> str:
    out = []
    for byte in raw:
        if byte in (0x22, 0x5C):  # " and \
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def rdata_text(rdtype: int, rdata: bytes) -> str:
    """Presentation form of an rdata the sim's zone holds."""
    if rdtype == TYPE_A:
        return socket.inet_ntoa(rdata)
    if rdtype == TYPE_AAAA:
        return socket.inet_ntop(socket.AF_INET6, rdata)
    if rdtype == TYPE_CNAME:
        return wire_to_text(rdata)
    if rdtype == TYPE_MX:
        return f"{struct.unpack_from('!H', rdata)[0]} {wire_to_text(rdata, 2)}"
    if rdtype == TYPE_TXT:
        strings, i = [], 0
        while i < len(rdata):
            strings.append(_quote(rdata[i + 1:i + 1 + rdata[i]]))
            i += 1 + rdata[i]
        return " ".join(strings)
    if rdtype == TYPE_TLSA:
        return f"{rdata[0]} {rdata[1]} {rdata[2]} {rdata[3:].hex()}"
    raise ValueError(f"unexpected rdtype {rdtype}")


def _tld(wire: bytes) -> str:
    return wire_to_text(wire).rstrip(".").rsplit(".", 1)[-1]


def zone_lines(zone: Zone, tld: str, ns_address: str) -> Iterator[str]:
    """The zone file of ``tld`` (its SOA and NS, then every owner under it)."""
    yield f"$TTL {TTL}"
    yield f"{tld}. IN SOA ns.{tld}. hostmaster.{tld}. 1 3600 600 86400 {TTL}"
    yield f"{tld}. IN NS ns.{tld}."
    yield f"ns.{tld}. IN A {ns_address}"
    owners = {w for w in (*zone.records, *zone.faults) if _tld(w) == tld}
    yield from owner_lines(zone, sorted(owners))


def owner_lines(zone: Zone, owners: Iterable[bytes]) -> Iterator[str]:
    """The records of ``owners`` (wire names), faults expressed as the module says."""
    for owner in owners:
        name = wire_to_text(owner)
        fault = zone.faults.get(owner)
        if fault is DnsFault.NXDOMAIN:
            continue
        if fault is DnsFault.NODATA:
            yield f'{name} IN HINFO "sim" "nodata"'
            continue
        if fault is DnsFault.CNAME_LOOP:
            yield f"{name} IN CNAME {wire_to_text(zone.loops[owner])}"
            continue
        for rdtype, rdatas in zone.records.get(owner, {}).items():
            for rdata in rdatas:
                yield f"{name} IN {_TYPE_NAMES[rdtype]} {rdata_text(rdtype, rdata)}"


def nsd_conf(directory: Path, tlds: list[str], address: str, port: int) -> str:
    """An NSD configuration serving the zone files in ``directory`` on ``address@port``."""
    zones = "".join(f"zone:\n  name: {tld}.\n  zonefile: {tld}.zone\n" for tld in tlds)
    return (
        "server:\n"
        f"  ip-address: {address}@{port}\n"
        '  username: ""\n'
        f'  zonesdir: "{directory}"\n'
        f'  pidfile: "{directory}/nsd.pid"\n'
        f'  zonelistfile: "{directory}/zone.list"\n'
        f'  xfrdfile: "{directory}/xfrd.state"\n'
        '  database: ""\n'
        "  server-count: 1\n"
        "  verbosity: 0\n"
        "  rrl-ratelimit: 0\n"  # response rate limiting would answer a scan with TC
        "  rrl-whitelist-ratelimit: 0\n"
        "remote-control:\n"
        "  control-enable: no\n"
        + zones
    )


def export_world(world: World, directory: Path, *, address: str = "127.53.0.1",
                 port: int = 53, plan: AddressPlan | None = None,
                 tlsa: TlsaSource | None = None) -> Path:
    """Write ``<tld>.zone`` files and ``nsd.conf`` into ``directory``; returns the config path.

    Run with ``nsd -d -c <directory>/nsd.conf``.
    """
    zone = build_zone(world, plan or AddressPlan(), tlsa)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    by_tld: defaultdict[str, int] = defaultdict(int)
    for owner in (*zone.records, *zone.faults):
        by_tld[_tld(owner)] += 1
    tlds = sorted(by_tld)
    for tld in tlds:
        with (directory / f"{tld}.zone").open("w") as out:
            for line in zone_lines(zone, tld, address):
                out.write(line + "\n")
    config = directory / "nsd.conf"
    config.write_text(nsd_conf(directory, tlds, address, port))
    return config
