"""A ``World`` as real DNSSEC: zones signed with Debian's ldns tools, served by NSD, validated by
Unbound with the world's own trust anchor. The real counterpart of the sim DNS server's
``Dnssec`` statuses, for the test that scans through a validating resolver.

Each top-level label (``test.``) is a signed zone whose DS is the trust anchor. Each scenario's
domain is a zone of its own, delegated from it: ``secure`` signed with its DS in the parent,
``insecure`` unsigned and delegated without DS (the parent's NSEC proves it), ``bogus`` signed,
with its DS, and every signature but the DNSKEY RRset's corrupted. Declarations that differ from
their zone's become zone cuts the same way (an MX host of another status, an owner declared
``insecure`` in a signed zone), except an owner declared ``bogus`` in a secure zone, which keeps
its zone and gets its own signatures corrupted (``plan_zones``). What no zone cut can make (a
secure name under an unsigned or bogus zone) is refused with ``ValueError``. Names of the world
outside every scenario's domain (shared MX hosts, ``dnssec-check.test``) are in the signed
top-level zone, so secure here (the Python server calls them insecure, but for the check name).

Unbound knows only the anchor and where NSD listens (a stub zone per zone: Unbound would ask
delegated servers on port 53); every other name is refused locally, its root hints point at
loopback and its queries leave from a loopback address, so nothing is ever sent off the machine.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone

from survey.sim.dns_server import (
    TTL,
    AddressPlan,
    TlsaSource,
    Zone,
    build_zone,
    name_wire,
    tlsa_owner,
)
from survey.sim.scenario import Dnssec, World
from survey.sim.zonefile import nsd_conf, owner_lines

#: Debian packages providing the tools (``make test`` installs them through .ci/apt-install).
PACKAGES = {"ldns-keygen": "ldnsutils", "ldns-signzone": "ldnsutils", "nsd": "nsd",
            "unbound": "unbound"}
ALGORITHM = "ECDSAP256SHA256"  # RFC 8624: MUST implement, and its keys are made in milliseconds
#: How long NSD and Unbound may take to answer after being started.
START_DEADLINE = 10.0


@dataclass(frozen=True, slots=True)
class SignedZone:
    origin: str  # without the trailing dot
    status: Dnssec
    bogus_owners: frozenset[bytes] = frozenset()


@dataclass(frozen=True, slots=True)
class SignedExport:
    directory: Path
    nsd_conf: Path
    unbound_conf: Path
    zones: tuple[SignedZone, ...]
    trust_anchors: tuple[str, ...]  # DS records of the top-level zones, presentation form


def tool(name: str) -> str:
    """Path of a Debian tool this module runs; FileNotFoundError naming its package if absent."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin")
    if path is None:
        raise FileNotFoundError(f"{name} is missing: apt-get install {PACKAGES[name]} "
                                "(make test installs it)")
    return path


def plan_zones(world: World) -> tuple[dict[str, SignedZone], dict[str, str]]:
    """The zones to make (origin -> zone) and each one's parent zone (absent for top-level ones).

    A scenario's domain is a zone; so is an MX host under it whose status differs from the
    domain's, and an owner declared ``insecure`` inside a signed zone (an unsigned zone cut: the
    names under it are insecure too). An owner declared ``bogus`` inside a secure zone keeps its
    zone and gets broken signatures. What no zone cut can make is refused: a secure name under an
    insecure or bogus zone (no chain of trust reaches it), a status on a name outside the
    scenario's domain."""
    zones: dict[str, SignedZone] = {}
    bogus: dict[str, set[bytes]] = {}
    for s in world.scenarios:
        d = s.domain.lower()
        zones[d] = SignedZone(d, s.dnssec)
        owned: list[tuple[str, Dnssec]] = list(s.dnssec_names)
        for mx in s.mx:
            name = mx.name.lower()
            if mx.dnssec is None and mx.tlsa_dnssec is None:
                continue
            if not name.endswith(f".{d}"):
                raise ValueError(f"{mx.name}: DNSSEC declared outside its scenario's zone")
            if mx.dnssec is not None and mx.dnssec is not s.dnssec:
                zones.setdefault(name, SignedZone(name, _cut(d, s.dnssec, name, mx.dnssec)))
            if mx.tlsa_dnssec is not None:
                owned.append((tlsa_owner(name), mx.tlsa_dnssec))
        for owner, status in owned:
            owner = owner.lower()
            zone = zones[_enclosing(zones, owner)]
            if status is zone.status:
                continue
            if status is Dnssec.BOGUS and zone.status is Dnssec.SECURE:
                bogus.setdefault(zone.origin, set()).add(name_wire(owner))
            else:
                zones[owner] = SignedZone(owner, _cut(zone.origin, zone.status, owner, status))
    for origin in list(zones):
        top = origin.rsplit(".", 1)[-1]
        zones.setdefault(top, SignedZone(top, Dnssec.SECURE))
    parents = {origin: _enclosing(zones, origin, proper=True) for origin in zones
               if "." in origin}
    return ({o: SignedZone(o, z.status, frozenset(bogus.get(o, ()))) for o, z in zones.items()},
            parents)


def _enclosing(zones: dict[str, SignedZone], name: str, *, proper: bool = False) -> str:
    """The deepest zone of ``zones`` holding ``name`` (above it when ``proper``)."""
    labels = name.split(".")
    for i in range(1 if proper else 0, len(labels)):
        if ".".join(labels[i:]) in zones:
            return ".".join(labels[i:])
    raise ValueError(f"{name}: no zone holds it")


def _cut(parent: str, parent_status: Dnssec, name: str, status: Dnssec) -> Dnssec:
    """The status of a zone cut at ``name`` under ``parent``, when one can make it."""
    if status is Dnssec.SECURE or parent_status is not Dnssec.SECURE:
        raise ValueError(f"{name}: {status} under the {parent_status} zone {parent} cannot be "
                         "made (no chain of trust reaches a secure name there)")
    return status


def export_signed(world: World, directory: Path, *, nsd: tuple[str, int],
                  unbound: tuple[str, int], plan: AddressPlan | None = None,
                  tlsa: TlsaSource | None = None) -> SignedExport:
    """Write, sign and configure every zone of ``world`` in ``directory`` (NSD at ``nsd``,
    Unbound at ``unbound``, each an (address, port) on 127/8)."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    zone = build_zone(world, plan or AddressPlan(), tlsa)
    zones, parents = plan_zones(world)
    owners = _owners_by_zone(zone, zones)
    children: defaultdict[str, list[str]] = defaultdict(list)
    for child, parent in parents.items():
        children[parent].append(child)
    ds: dict[str, list[str]] = {}
    for origin in sorted(zones, key=lambda o: -o.count(".")):  # children before parents
        lines = _zone_lines(zone, origin, owners[origin], nsd[0])
        for child in sorted(children.get(origin, ())):
            lines += [f"{child}. IN NS ns.{child}.", f"ns.{child}. IN A {nsd[0]}"]  # and glue
            lines.extend(ds.get(child, ()))
        ds[origin] = _write_zone(directory, zones[origin], lines)
    anchors = tuple(line for origin in sorted(zones) if origin not in parents
                    for line in ds[origin])
    (directory / "trust-anchors").write_text("".join(f"{a}\n" for a in anchors))
    nsd_path = directory / "nsd.conf"
    nsd_path.write_text(nsd_conf(directory, sorted(zones), *nsd))
    unbound_path = directory / "unbound.conf"
    unbound_path.write_text(unbound_conf(directory, sorted(zones), nsd=nsd, listen=unbound))
    return SignedExport(directory, nsd_path, unbound_path, tuple(zones.values()), anchors)


def _owners_by_zone(zone: Zone, zones: dict[str, SignedZone]) -> dict[str, list[bytes]]:
    """Each owner of ``zone`` under the deepest zone that holds it; others are left out."""
    by_wire = {name_wire(origin): origin for origin in zones}
    owners: dict[str, list[bytes]] = {origin: [] for origin in zones}
    for owner in sorted({*zone.records, *zone.faults}):
        wire = owner
        while wire != b"\x00" and wire not in by_wire:
            wire = wire[1 + wire[0]:]
        if wire in by_wire:
            owners[by_wire[wire]].append(owner)
    return owners


def _zone_lines(zone: Zone, origin: str, owners: list[bytes], ns_address: str) -> list[str]:
    head = [f"$TTL {TTL}", f"{origin}. IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 "
            f"86400 {TTL}", f"{origin}. IN NS ns.{origin}.", f"ns.{origin}. IN A {ns_address}"]
    return head + list(owner_lines(zone, owners))


def _write_zone(directory: Path, zone: SignedZone, lines: list[str]) -> list[str]:
    """Write ``<origin>.zone`` (signed unless insecure); returns the zone's DS records."""
    path = directory / f"{zone.origin}.zone"
    path.write_text("".join(f"{line}\n" for line in lines))
    if zone.status is Dnssec.INSECURE:
        return []
    keys = [_keygen(directory, zone.origin, ksk) for ksk in (True, False)]
    signed = directory / f"{zone.origin}.signed"
    subprocess.run([tool("ldns-signzone"), "-o", f"{zone.origin}.", "-f", str(signed),
                    str(path), *keys], check=True, capture_output=True, cwd=directory,
                   timeout=60)
    if zone.status is Dnssec.BOGUS or zone.bogus_owners:
        _corrupt(signed, zone)
    signed.replace(path)
    return [line for line in (directory / f"{keys[0]}.ds").read_text().splitlines() if line]


def _keygen(directory: Path, origin: str, ksk: bool) -> str:
    done = subprocess.run([tool("ldns-keygen"), "-a", ALGORITHM, *(["-k"] if ksk else []),
                           f"{origin}."], check=True, capture_output=True, text=True,
                          cwd=directory, timeout=60)
    return done.stdout.strip()


#: Signatures a bogus owner keeps: its zone's keys, and what proves denial of existence (so
#: that, as in the sim, only the owner's own data is bogus, not NXDOMAIN answers next to it).
_KEPT_OWNER = frozenset({dns.rdatatype.DNSKEY, dns.rdatatype.NSEC, dns.rdatatype.SOA})


def _corrupt(signed: Path, zone: SignedZone) -> None:
    """Flip a bit of the signatures of a bogus zone (all but its DNSKEY RRset's) or of a bogus
    owner's data."""
    parsed = dns.zone.from_file(str(signed), origin=f"{zone.origin}.", relativize=False)
    whole = zone.status is Dnssec.BOGUS
    for name, node in parsed.nodes.items():
        if not whole and name.to_wire() not in zone.bogus_owners:
            continue
        kept_types = {dns.rdatatype.DNSKEY} if whole else _KEPT_OWNER
        for rdataset in node.rdatasets:
            if rdataset.rdtype != dns.rdatatype.RRSIG:
                continue
            kept = [rd for rd in rdataset if rd.type_covered in kept_types]
            broken = [rd.replace(signature=bytes([rd.signature[0] ^ 1]) + rd.signature[1:])
                      for rd in rdataset if rd.type_covered not in kept_types]
            rdataset.clear()
            for rd in kept + broken:
                rdataset.add(rd)
    parsed.to_file(str(signed), relativize=False)


def validation(directory: Path) -> tuple[tuple[str, str], ...]:
    """The server options that make Unbound validate with the world's trust anchor: all a real
    survey's resolver needs too, with the root's anchor instead (README)."""
    return (("module-config", '"validator iterator"'),
            ("trust-anchor-file", f'"{directory}/trust-anchors"'))


def unbound_conf(directory: Path, zones: list[str], *, nsd: tuple[str, int],
                 listen: tuple[str, int],
                 options: tuple[tuple[str, str], ...] | None = None) -> str:
    """An Unbound answering on ``listen`` for the zones NSD serves, nothing else; ``options``
    (default ``validation``) are the server options that decide whether and how it validates."""
    chosen = validation(directory) if options is None else options
    stubs = "".join(f'stub-zone:\n  name: "{z}."\n  stub-addr: {nsd[0]}@{nsd[1]}\n'
                    for z in zones)
    tops = sorted({z.rsplit(".", 1)[-1] for z in zones})
    transparent = "".join(f'  local-zone: "{t}." transparent\n' for t in tops)
    (directory / "root.hints").write_text(f". {TTL} IN NS ns.root.invalid.\n"
                                          f"ns.root.invalid. {TTL} IN A {nsd[0]}\n")
    return (
        "server:\n"
        f"  interface: {listen[0]}\n"
        f"  port: {listen[1]}\n"
        f"  outgoing-interface: {listen[0]}\n"
        "  do-ip6: no\n"
        "  do-daemonize: no\n"
        '  username: ""\n'
        '  chroot: ""\n'
        f'  directory: "{directory}"\n'
        f'  pidfile: "{directory}/unbound.pid"\n'
        '  logfile: ""\n'
        "  use-syslog: no\n"
        "  verbosity: 0\n"
        "  num-threads: 1\n"
        "  outgoing-range: 64\n"
        "  so-reuseport: no\n"
        "  access-control: 127.0.0.0/8 allow\n"
        "  do-not-query-localhost: no\n"
        + "".join(f"  {key}: {value}\n" for key, value in chosen)
        + f'  root-hints: "{directory}/root.hints"\n'
        "  qname-minimisation: no\n"
        "  val-log-level: 2\n"
        '  local-zone: "." refuse\n'
        + transparent
        + "remote-control:\n"
        "  control-enable: no\n"
        + stubs
    )


@contextlib.contextmanager
def serve_signed(export: SignedExport, *, nsd: tuple[str, int],
                 unbound: tuple[str, int]) -> Iterator[tuple[str, int]]:
    """Run NSD and Unbound on ``export`` for the ``with`` block; yields Unbound's address.

    Both are stopped (terminated, then waited for) on exit; a server that dies or stays silent
    while starting raises RuntimeError with its output.
    """
    log = export.directory / "servers.log"
    with log.open("ab") as out, contextlib.ExitStack() as stack:
        for command, address, probe in (
                ([tool("nsd"), "-d", "-c", str(export.nsd_conf)], nsd, export.zones[0].origin),
                ([tool("unbound"), "-d", "-c", str(export.unbound_conf)], unbound,
                 export.zones[0].origin)):
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
            stack.callback(_stop, proc)
            _wait_ready(proc, address, probe, log)
        yield unbound


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], address: tuple[str, int], name: str,
                log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE
    query = dns.message.make_query(f"{name}.", "SOA")
    while True:
        try:
            response = dns.query.udp(query, address[0], port=address[1], timeout=0.2)
            if response.rcode() == dns.rcode.NOERROR:
                return
        except (dns.exception.Timeout, ConnectionRefusedError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args!r} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
