"""The test internet's DNS server: answers a stub resolver's queries for a ``World``, on trio.

The scanner sends recursive (RD) queries straight here (it is the scan's ``--resolver``), so the
server answers as a recursive resolver would: CNAME chains are followed and returned whole in the
answer section, RA is set, and names outside the world are NXDOMAIN. The records are built once
from the scenarios (``build_zone``); each distinct question's response is encoded once, by hand
rather than with ``dns.message`` (several times cheaper), and cached; a query is answered by
cutting its question out of the datagram with a cheap parse and pasting it between the cached
header and answer. UDP is drained without a trio checkpoint per datagram, which is where a
per-packet trio server spends most of its time.

Per-owner ``DnsFault``s apply to every query type at that owner, including when the owner is
reached through a CNAME. ``TRUNCATE`` answers UDP with TC set and no records, TCP in full;
``TIMEOUT`` drops the query on both transports; ``CNAME_LOOP`` answers
``owner -> loop1.<d> -> loop2.<d> -> loop1.<d>`` (NOERROR, the loop left for the client to see).

DNSSEC: the server answers as a validating resolver would, without signatures (the scanner trusts
its resolver's AD bit, RFC 6840 §5.7). Each owner has a status from the scenarios (``Dnssec``;
a name without one takes its closest ancestor's, else ``insecure``); an answer is as secure as
the least secure owner on its CNAME chain. AD is set on ``secure`` answers (NXDOMAIN and NODATA
too: authenticated denial) when the query set AD or DO (RFC 6840 §5.8); ``bogus`` answers are
SERVFAIL unless the query set CD, which gets the data without AD (RFC 4035 §3.2.2); CD is
echoed. ``validating=False`` plays a resolver that does not validate: never AD, bogus data
returned. No OPT record is returned and no RRSIG is ever sent. ``dnssec-check.test`` is
``secure`` in every world, for the scan's resolver check. TLSA records (type 52) at
``_25._tcp.<mx host>`` come from the scenarios; ``"auto"`` data is computed by a ``TlsaSource``
(the world's ``TestCA``) from the certificate that host's SMTP server presents.
"""

from __future__ import annotations

import errno
import socket
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import trio

from survey.sim.scenario import (
    DNSSEC_CHECK_NAME,
    TLSA_AUTO,
    CertKind,
    DnsFault,
    Dnssec,
    HttpsFault,
    MxHost,
    PolicyHost,
    Scenario,
    SmtpBehaviour,
    Tlsa,
    World,
)

TTL = 300
TYPE_A, TYPE_CNAME, TYPE_MX, TYPE_TXT, TYPE_AAAA, TYPE_TLSA = 1, 5, 15, 16, 28, 52
_CLASS_IN = 1
_QR, _AA, _TC, _RD, _RA, _AD, _CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020, 0x0010
_NOERROR, _SERVFAIL, _NXDOMAIN, _REFUSED = 0, 2, 3, 5
#: Largest UDP response: 512 without EDNS (RFC 1035), else the DNS-flag-day 1232 bytes. The OPT
#: record is not parsed: any additional record counts as EDNS.
UDP_LIMIT, EDNS_UDP_LIMIT = 512, 1232
#: Datagrams handled per wake-up before yielding to other trio tasks.
_UDP_BATCH = 256
#: Prepared responses kept; past it the cache starts afresh (a scan asks most questions once,
#: the cache is for retries and repeated runs, and must not grow with a 1M-domain world).
CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class AddressPlan:
    """Which loopback address each behaviour class answers on (identity is chosen by SNI)."""

    https_pool: int = 8  # 127.1.0.1 .. 127.1.0.N
    smtp_pool: int = 8  # 127.3.0.1 .. 127.3.0.N
    dns: str = "127.53.0.1"
    https_refused: str = "127.2.0.1"  # nothing listens
    https_tarpit: str = "127.2.0.2"
    smtp_no_starttls: str = "127.4.0.1"
    smtp_refused: str = "127.4.0.2"  # nothing listens
    smtp_tarpit: str = "127.4.0.3"

    def https_addresses(self) -> tuple[str, ...]:
        return tuple(f"127.1.0.{i}" for i in range(1, self.https_pool + 1))

    def smtp_addresses(self) -> tuple[str, ...]:
        return tuple(f"127.3.0.{i}" for i in range(1, self.smtp_pool + 1))

    def policy_address(self, domain: str, fault: HttpsFault | None,
                       override: str | None = None) -> str:
        """Address of ``mta-sts.<domain>``: spread by a stable hash, as providers share IPs."""
        if override is not None:
            return override
        if fault is HttpsFault.REFUSED:
            return self.https_refused
        if fault is HttpsFault.TARPIT:
            return self.https_tarpit
        return _pick(self.https_addresses(), f"mta-sts.{domain}")

    def policy_addresses(self, domain: str, host: PolicyHost) -> tuple[str, ...]:
        """Every address record of ``mta-sts.<domain>``: the scenario's own, else the plan's."""
        return host.addresses or (self.policy_address(domain, host.fault, host.address_override),)

    def mx_addresses(self, host: MxHost) -> tuple[str, ...]:
        """Every address record of an MX host: the scenario's own, else ``mx_address``'s."""
        return host.addresses or (self.mx_address(host),)

    def mx_address(self, host: MxHost) -> str:
        match host.smtp:
            case SmtpBehaviour.STARTTLS:
                return _pick(self.smtp_addresses(), host.name)
            case SmtpBehaviour.NO_STARTTLS:
                return self.smtp_no_starttls
            case SmtpBehaviour.REFUSED:
                return self.smtp_refused
            case SmtpBehaviour.TARPIT:
                return self.smtp_tarpit


class TlsaSource(Protocol):
    """Computes ``"auto"`` TLSA data: what ``name``'s SMTP server presents (``TestCA``)."""

    def tlsa_data(self, name: str, kind: CertKind, usage: int, selector: int,
                  mtype: int) -> bytes: ...


def tlsa_rdata(record: Tlsa, host: MxHost, source: TlsaSource | None) -> bytes:
    """Wire form of one TLSA record (RFC 6698 §2.1) of ``host``."""
    if record.data == TLSA_AUTO:
        if source is None:
            raise ValueError(f"TLSA {record} of {host.name} needs the world's CA to compute")
        data = source.tlsa_data(host.name, host.cert, record.usage, record.selector,
                                record.mtype)
    else:
        data = bytes.fromhex(record.data)
    return bytes((record.usage, record.selector, record.mtype)) + data


def tlsa_owner(host: str) -> str:
    """Where the TLSA records of an MX host live (RFC 7672 §2.2: port 25, TCP)."""
    return f"_25._tcp.{host}"


def _pick(pool: tuple[str, ...], name: str) -> str:
    return pool[zlib.crc32(name.lower().encode()) % len(pool)]


def name_wire(name: str) -> bytes:
    """Wire form of an ASCII host name (lower case, absolute); ``""`` is the root."""
    text = name.lower().removesuffix(".")
    if not text:
        return b"\x00"
    out = bytearray()
    for label in text.split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def address_rdata(address: str) -> tuple[int, bytes]:
    """``(TYPE_A, 4 octets)`` for an IPv4 literal, ``(TYPE_AAAA, 16 octets)`` for IPv6 (mapped
    ``::ffff:a.b.c.d`` stays AAAA, as a zone would hold it); ValueError for anything else.
    ``inet_pton`` rather than ``ipaddress``: a million-domain world calls this millions of times."""
    try:
        return TYPE_A, socket.inet_pton(socket.AF_INET, address)
    except OSError:
        pass
    try:
        return TYPE_AAAA, socket.inet_pton(socket.AF_INET6, address)
    except OSError:
        raise ValueError(f"not an IP address: {address!r}") from None


def txt_rdata(strings: Iterable[str]) -> bytes:
    """One TXT record; strings over 255 bytes are split, as zone compilers do."""
    out = bytearray()
    for text in strings:
        raw = text.encode("utf-8")
        chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
        for chunk in chunks:
            out.append(len(chunk))
            out += chunk
    return bytes(out)


@dataclass(slots=True)
class Zone:
    """All records of a world: owner wire name -> rdtype -> rdata (wire) list, plus faults."""

    records: dict[bytes, dict[int, list[bytes]]] = field(default_factory=dict)
    faults: dict[bytes, DnsFault] = field(default_factory=dict)
    #: Owners that exist without records of their own (empty non-terminals): NODATA, not NXDOMAIN.
    empty: set[bytes] = field(default_factory=set)
    #: ``DnsFault.CNAME_LOOP`` owners -> the loop's first name.
    loops: dict[bytes, bytes] = field(default_factory=dict)
    #: Zone apexes (a scenario's domain, an MX host with a status of its own) -> the DNSSEC
    #: status of every name under them; names under none are insecure.
    dnssec: dict[bytes, Dnssec] = field(default_factory=dict)
    #: Owners whose own RRsets have another status than their zone's (``dnssec_names``, the
    #: TLSA RRset of ``MxHost.tlsa_dnssec``): not inherited by the names under them.
    dnssec_owners: dict[bytes, Dnssec] = field(default_factory=dict)

    def add(self, owner: str, rdtype: int, rdata: bytes) -> None:
        rdatas = self.records.setdefault(name_wire(owner), {}).setdefault(rdtype, [])
        if rdata not in rdatas:
            rdatas.append(rdata)

    def exists(self, wire: bytes) -> bool:
        return wire in self.records or wire in self.empty

    def add_addresses(self, owner: str, addresses: Iterable[str]) -> None:
        """A and AAAA records of ``owner``, each address in the type its family calls for."""
        for address in addresses:
            self.add(owner, *address_rdata(address))

    def has_address(self, owner: str) -> bool:
        node = self.records.get(name_wire(owner), {})
        return TYPE_A in node or TYPE_AAAA in node

    def status(self, wire: bytes) -> Dnssec:
        """DNSSEC status of ``wire``'s answers: its own, else its closest zone apex's."""
        status = self.dnssec_owners.get(wire) or self.dnssec.get(wire)
        while status is None and wire != b"\x00":
            wire = wire[1 + wire[0]:]
            status = self.dnssec.get(wire)
        return status or Dnssec.INSECURE


def build_zone(world: World, plan: AddressPlan, tlsa: TlsaSource | None = None) -> Zone:
    """The records every scenario of ``world`` declares, with addresses from ``plan``; ``tlsa``
    computes ``"auto"`` TLSA data (required when a scenario has such records)."""
    zone = Zone()
    zone.add(DNSSEC_CHECK_NAME, TYPE_A, socket.inet_aton("127.0.0.1"))
    zone.add(DNSSEC_CHECK_NAME, TYPE_TXT, txt_rdata(("signed",)))
    zone.dnssec[name_wire(DNSSEC_CHECK_NAME)] = Dnssec.SECURE
    for scenario in world.scenarios:
        _add_scenario(zone, scenario, plan, tlsa)
    for wire in list(zone.records) + list(zone.faults):
        _add_ancestors(zone, wire)
    return zone


def _add_scenario(zone: Zone, s: Scenario, plan: AddressPlan, tlsa: TlsaSource | None) -> None:
    d = s.domain.lower()
    if name_wire(d) == name_wire(DNSSEC_CHECK_NAME):
        raise ValueError(f"{DNSSEC_CHECK_NAME} is the sim's own name")
    if s.dnssec is not Dnssec.INSECURE:
        zone.dnssec[name_wire(d)] = s.dnssec
    for owner, status in s.dnssec_names:
        zone.dnssec_owners[name_wire(owner)] = status
    sts_owner = f"_mta-sts.{d}"
    if s.sts_cname:
        zone.add(sts_owner, TYPE_CNAME, name_wire(s.sts_cname))
        sts_owner = s.sts_cname
    for record in s.sts_txt:
        zone.add(sts_owner, TYPE_TXT, txt_rdata(record))
    for record in s.tlsrpt_txt:
        zone.add(f"_smtp._tls.{d}", TYPE_TXT, txt_rdata(record))
    for mx in s.mx:
        zone.add(d, TYPE_MX, struct.pack("!H", mx.preference) + name_wire(mx.name))
        if mx.name and not zone.has_address(mx.name):  # the first scenario naming it decides
            zone.add_addresses(mx.name, plan.mx_addresses(mx))
            for association in mx.tlsa:
                zone.add(tlsa_owner(mx.name), TYPE_TLSA, tlsa_rdata(association, mx, tlsa))
            if mx.dnssec is not None:
                zone.dnssec[name_wire(mx.name)] = mx.dnssec
            if mx.tlsa_dnssec is not None:
                zone.dnssec_owners[name_wire(tlsa_owner(mx.name))] = mx.tlsa_dnssec
    if name_wire(d) not in zone.records:
        zone.empty.add(name_wire(d))
    host = s.policy_host
    if host is not None:
        owner = f"mta-sts.{d}"
        for target in host.cname_chain:
            zone.add(owner, TYPE_CNAME, name_wire(target))
            owner = target
        zone.add_addresses(owner, plan.policy_addresses(d, host))
    for owner, fault in s.dns_faults:
        zone.faults[name_wire(owner)] = fault
        if fault is DnsFault.CNAME_LOOP:
            zone.loops[name_wire(owner)] = name_wire(f"loop1.{d}")
            zone.add(f"loop1.{d}", TYPE_CNAME, name_wire(f"loop2.{d}"))
            zone.add(f"loop2.{d}", TYPE_CNAME, name_wire(f"loop1.{d}"))


def _add_ancestors(zone: Zone, wire: bytes) -> None:
    """Mark the parents of ``wire`` up to (not including) its last two labels as existing."""
    labels = _labels(wire)
    for i in range(1, max(len(labels) - 1, 1)):
        parent = b"".join(bytes([len(x)]) + x for x in labels[i:]) + b"\x00"
        if parent not in zone.records:
            zone.empty.add(parent)


def _labels(wire: bytes) -> list[bytes]:
    labels, i = [], 0
    while wire[i]:
        labels.append(wire[i + 1:i + 1 + wire[i]])
        i += 1 + wire[i]
    return labels


@dataclass(frozen=True, slots=True)
class Reply:
    """A question's prepared response: header flags (no RD), answer count and records."""

    flags: int
    ancount: int
    answer: bytes
    truncate_udp: bool = False  # DnsFault.TRUNCATE: TC and no records over UDP
    drop: bool = False  # DnsFault.TIMEOUT
    dnssec: Dnssec = Dnssec.INSECURE  # of the least secure owner on the way


_DROP = Reply(0, 0, b"", drop=True)
#: What a validating resolver answers for bogus data (RFC 4035 §5.5).
_BOGUS = Reply(_QR | _RA | _SERVFAIL, 0, b"")
_RANK = {Dnssec.SECURE: 0, Dnssec.INSECURE: 1, Dnssec.BOGUS: 2}


def _worse(a: Dnssec, b: Dnssec) -> Dnssec:
    return a if _RANK[a] >= _RANK[b] else b


def resolve(zone: Zone, qname: bytes, qtype: int) -> Reply:
    """Answer ``qname``/``qtype`` as a recursive resolver would, following CNAMEs."""
    visited: list[bytes] = []
    reply = _walk(zone, qname, qtype, visited)
    if reply.drop or reply.flags & 0xF not in (_NOERROR, _NXDOMAIN) or not zone.dnssec:
        return reply
    status = Dnssec.SECURE
    for owner in visited:
        status = _worse(status, zone.status(owner))
    return Reply(reply.flags, reply.ancount, reply.answer, reply.truncate_udp, dnssec=status)


def _walk(zone: Zone, qname: bytes, qtype: int, visited: list[bytes]) -> Reply:
    """``resolve`` without DNSSEC; ``visited`` receives every owner on the way."""
    flags = _QR | _AA | _RA
    rrs: list[bytes] = []
    truncate = False
    seen: set[bytes] = set()
    current = qname
    while True:
        visited.append(current)
        fault = zone.faults.get(current)
        if fault is DnsFault.TIMEOUT:
            return _DROP
        if fault is DnsFault.SERVFAIL:
            return Reply(_QR | _RA | _SERVFAIL, 0, b"")
        if fault is DnsFault.REFUSED:
            return Reply(_QR | _RA | _REFUSED, 0, b"")
        if fault is DnsFault.NXDOMAIN:
            return _reply(flags | _NXDOMAIN, rrs, qname, truncate)
        if fault is DnsFault.NODATA:
            return _reply(flags, rrs, qname, truncate)
        truncate = truncate or fault is DnsFault.TRUNCATE
        if fault is DnsFault.CNAME_LOOP:
            target = zone.loops[current]
            rrs.append(_rr(current, TYPE_CNAME, target))
            seen.add(current)
            current = target
            continue
        node = zone.records.get(current)
        if node is None:
            rcode = _NOERROR if zone.exists(current) else _NXDOMAIN
            return _reply(flags | rcode, rrs, qname, truncate)
        if qtype in node or qtype == TYPE_CNAME:
            rrs.extend(_rr(current, qtype, rd) for rd in node.get(qtype, ()))
            return _reply(flags, rrs, qname, truncate)
        cname = node.get(TYPE_CNAME)
        if not cname:
            return _reply(flags, rrs, qname, truncate)
        rrs.append(_rr(current, TYPE_CNAME, cname[0]))
        seen.add(current)
        current = cname[0]
        if current in seen:
            return _reply(flags, rrs, qname, truncate)


def _rr(owner: bytes, rdtype: int, rdata: bytes) -> bytes:
    return owner + struct.pack("!HHIH", rdtype, _CLASS_IN, TTL, len(rdata)) + rdata


def _reply(flags: int, rrs: list[bytes], qname: bytes, truncate: bool) -> Reply:
    # The first owner is the question's name: point at it (offset 12) like real servers do.
    answer = b"".join(rrs)
    if answer.startswith(qname):
        answer = b"\xc0\x0c" + answer[len(qname):]
    return Reply(flags, len(rrs), answer, truncate_udp=truncate)


def parse_question(query: bytes) -> tuple[int, int, int] | None:
    """``(end of question name, qtype, end of question)`` of a plain query, or None to drop it."""
    if len(query) < 17:
        return None
    flags, qdcount = struct.unpack_from("!HH", query, 2)
    if flags & 0xF800 or qdcount != 1:  # a response, or an opcode other than QUERY
        return None
    i = 12
    end = len(query)
    while i < end:
        length = query[i]
        if length == 0:
            break
        if length > 63:  # compression pointers have no place in a question
            return None
        i += 1 + length
    else:
        return None
    name_end = i + 1
    if name_end + 4 > end:
        return None
    qtype, qclass = struct.unpack_from("!HH", query, name_end)
    if qclass != _CLASS_IN:
        return None
    return name_end, qtype, name_end + 4


def _dnssec_ok(query: bytes, q_end: int) -> bool:
    """Whether the query's first additional record is an OPT with the DO bit (RFC 3225)."""
    return (query[10:12] != b"\x00\x00" and len(query) >= q_end + 11
            and query[q_end] == 0 and query[q_end + 1:q_end + 3] == b"\x00\x29"
            and bool(query[q_end + 7] & 0x80))


class DnsServer:
    """Serves one ``Zone`` over UDP and TCP; ``query_count`` counts the queries received."""

    def __init__(self, zone: Zone, *, validating: bool = True) -> None:
        self.zone = zone
        self.validating = validating  # False: a resolver that ignores DNSSEC (no AD, no SERVFAIL)
        self.query_count = 0
        self._cache: dict[tuple[bytes, int], Reply] = {}

    def respond(self, query: bytes, *, tcp: bool) -> bytes | None:
        """The response datagram/message to ``query``, or None to stay silent."""
        self.query_count += 1
        parsed = parse_question(query)
        if parsed is None:
            return None
        name_end, qtype, q_end = parsed
        key = (query[12:name_end].lower(), qtype)
        reply = self._cache.get(key)
        if reply is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            reply = self._cache[key] = resolve(self.zone, *key)
        if reply.drop:
            return None
        flags = reply.flags | (query[2] << 8 & _RD) | (query[3] & _CD)
        if reply.dnssec is not Dnssec.INSECURE and self.validating:
            if reply.dnssec is Dnssec.BOGUS and not query[3] & _CD:
                reply = _BOGUS
                flags = reply.flags | (query[2] << 8 & _RD)
            elif reply.dnssec is Dnssec.SECURE and (query[3] & _AD or _dnssec_ok(query, q_end)):
                flags |= _AD
        head = query[:2]
        question = query[12:q_end]
        if not tcp:
            limit = EDNS_UDP_LIMIT if query[10:12] != b"\x00\x00" else UDP_LIMIT
            if reply.truncate_udp or 12 + len(question) + len(reply.answer) > limit:
                return head + struct.pack("!HHHHH", flags | _TC, 1, 0, 0, 0) + question
        return head + struct.pack("!HHHHH", flags, 1, reply.ancount, 0, 0) + question + (
            reply.answer
        )

    async def serve(self, address: str, port: int, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve UDP and TCP on ``address``:``port`` (0: a free port, the same for both).

        ``task_status.started(port)`` once both listen; runs until cancelled.
        """
        udp, tcp = _bind_pair(address, port)
        with udp, tcp:
            tcp.listen(128)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._serve_udp, udp)
                nursery.start_soon(self._serve_tcp, tcp, nursery)
                task_status.started(udp.getsockname()[1])

    async def _serve_udp(self, sock: socket.socket) -> None:
        while True:
            await trio.lowlevel.wait_readable(sock)
            for _ in range(_UDP_BATCH):
                try:
                    data, peer = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionRefusedError:  # ICMP error from an earlier send
                    continue
                response = self.respond(data, tcp=False)
                if response is not None:
                    try:  # noqa: SIM105 (hot loop: a context manager per datagram costs)
                        sock.sendto(response, peer)
                    except OSError:
                        pass  # a full send buffer loses the datagram, as on a real network

    async def _serve_tcp(self, listener: socket.socket, nursery: trio.Nursery) -> None:
        while True:
            await trio.lowlevel.wait_readable(listener)
            try:
                raw, _ = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            stream = trio.SocketStream(trio.socket.from_stdlib_socket(raw))
            nursery.start_soon(self._tcp_connection, stream)

    async def _tcp_connection(self, stream: trio.SocketStream) -> None:
        buffer = b""
        async with stream:
            with trio.move_on_after(30):
                while True:
                    try:
                        chunk = await stream.receive_some(65536)
                    except (trio.BrokenResourceError, OSError):
                        return
                    if not chunk:
                        return
                    buffer += chunk
                    while len(buffer) >= 2 and len(buffer) >= 2 + (n := int.from_bytes(
                            buffer[:2], "big")):
                        query, buffer = buffer[2:2 + n], buffer[2 + n:]
                        response = self.respond(query, tcp=True)
                        if response is not None:
                            try:
                                await stream.send_all(len(response).to_bytes(2, "big") + response)
                            except (trio.BrokenResourceError, OSError):
                                return


#: Socket buffer asked for: a scan's burst of hundreds of queries overflows the default (~200 KB
#: holds ~270 small datagrams), and every lost query costs the scanner a DNS deadline.
SOCKET_BUFFER = 8 * 1024 * 1024


def _grow_buffers(sock: socket.socket) -> None:
    """Large receive/send buffers: forced past ``rmem_max`` when privileged, else capped by it."""
    for force, plain in ((getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF),
                         (getattr(socket, "SO_SNDBUFFORCE", None), socket.SO_SNDBUF)):
        try:
            if force is None:
                raise PermissionError
            sock.setsockopt(socket.SOL_SOCKET, force, SOCKET_BUFFER)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, plain, SOCKET_BUFFER)


def _bind_pair(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to the same port; retried when port 0 clashes for TCP."""
    for _ in range(20):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setblocking(False)
        _grow_buffers(udp)
        udp.bind((address, port))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setblocking(False)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((address, udp.getsockname()[1]))
        except OSError as exc:
            udp.close()
            tcp.close()
            if port or exc.errno != errno.EADDRINUSE:
                raise
            continue
        return udp, tcp
    raise OSError(errno.EADDRINUSE, f"no free port pair on {address}")
