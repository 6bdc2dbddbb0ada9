"""The DNS wire codec the probe uses, apart from any I/O: query bytes from a template, the
checks a response must pass (id, QR/opcode, question), the answer section read with dnspython's
name and rdata parsers, and an accepted answer turned into a ``DnsResult`` (CNAMEs followed).

Pure functions of bytes (plus the OS's CSPRNG for query ids): fuzzed (``tests/fuzz``) and
tested without sockets. ``survey.probes.dns`` sends and receives.
"""

from __future__ import annotations

import os
import struct
from array import array
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.wire

from survey.core.observations import (
    DnsResult,
    Dnssec,
    DnsStatus,
    MxRecord,
    TlsaRecord,
)

#: EDNS0 UDP payload size advertised (the DNS Flag Day 2020 value).
EDNS_PAYLOAD = 1232
#: Longest CNAME chain followed before giving up (RFC 1034 leaves it to the resolver).
MAX_CNAME_CHAIN = 16
#: Largest DNS message over TCP (two-octet length prefix).
MAX_TCP_MESSAGE = 65535

# Query ids are the main defence against off-path spoofing when source ports are long-lived:
# they come from the OS's CSPRNG, read in blocks (one getrandom call per 2,048 ids, not per id).
_id_pool = array("H")

_QUESTION_TAILS: dict[str, bytes] = {}  # qtype text -> QTYPE + QCLASS octets
_RDTYPES: dict[str, int] = {}  # qtype text -> type code
#: (class, type) -> dnspython's rdata class and the two codes as its enums
_RDATA_CLASSES: dict[tuple[int, int], tuple[Any, Any, Any]] = {}
# untyped in dnspython
_rdata_class: Callable[[Any, Any], Any] = dns.rdata.get_rdata_class
_form_error: Callable[[str], Exception] = dns.exception.FormError
# Bytes that dnspython's ``Name.to_text`` writes as themselves (printable ASCII, no specials).
_PLAIN_BYTES = bytes(c for c in range(0x21, 0x7F) if c not in b'"().;\\@$')

RCODE_STATUS = {
    0: DnsStatus.NOERROR,
    1: DnsStatus.FORMERR,
    2: DnsStatus.SERVFAIL,
    3: DnsStatus.NXDOMAIN,
    4: DnsStatus.NOTIMP,
    5: DnsStatus.REFUSED,
}
SERVFAIL = 2
REFUSED = 5
_RD, _AD, _CD = 0x0100, 0x0020, 0x0010
# Header with RD and AD set, QDCOUNT=1 and ARCOUNT=1 (the OPT record); the id is patched per
# query. AD in a query asks a validating resolver to say whether it validated the answer,
# without DO's RRSIGs in the response (RFC 6840 §5.7): same query size, same answer sizes.
HEADER_TAIL = struct.pack("!HHHHH", _RD | _AD, 1, 0, 0, 1)
# The same with CD (checking disabled): asked once after a SERVFAIL to tell DNSSEC-bogus data
# (an answer arrives with CD) from a broken server (SERVFAIL again) (RFC 4035 §3.2.2).
HEADER_TAIL_CD = struct.pack("!HHHHH", _RD | _AD | _CD, 1, 0, 0, 1)
# OPT pseudo-RR: root owner, type 41, class = payload size, TTL 0 (no DO bit), no options.
OPT_RR = b"\x00" + struct.pack("!HHIH", 41, EDNS_PAYLOAD, 0, 0)
CLASS_IN = struct.pack("!H", 1)
_QR = 0x8000
_TC = 0x0200
_OPCODE_MASK = 0x7800


def encode_qname(qname: str) -> bytes:
    """Wire form of ``qname`` (absolute, lower case); ValueError for a name DNS cannot carry.

    ASCII names (the toplist is already in A-labels) are encoded directly, which is several
    times cheaper than ``dns.name.from_text``; anything else goes through dnspython (IDNA).
    """
    text = qname.lower().removesuffix(".")
    if not text:
        return b"\x00"
    if text.isascii() and "\\" not in text:
        out = bytearray()
        for label in text.split("."):
            raw = label.encode("ascii")
            if not raw or len(raw) > 63:
                raise ValueError(f"bad label in {qname!r}")
            out.append(len(raw))
            out += raw
        out.append(0)
        if len(out) > 255:
            raise ValueError(f"name too long: {qname!r}")
        return bytes(out)
    try:
        wire = dns.name.from_text(text).canonicalize().to_wire()
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise ValueError(f"bad name {qname!r}: {exc}") from exc
    assert wire is not None  # to_wire() without a file returns the bytes
    return wire


def random_id() -> int:
    """A uniformly random 16-bit query id from the OS's CSPRNG."""
    if not _id_pool:
        _id_pool.frombytes(os.urandom(4096))
    return _id_pool.pop()


def build_query(qid: int, qname_wire: bytes, qtype: int) -> bytes:
    """A recursive query (RD, EDNS0 payload 1232) for one question, as wire bytes."""
    return struct.pack("!H", qid) + HEADER_TAIL + qname_wire + struct.pack("!H", qtype) + (
        CLASS_IN + OPT_RR
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """A response that passed the checks: its rcode, TC flag and, when it has records, parsed."""

    rcode: int
    truncated: bool = False
    #: the answer section's IN records as (owner, type, rdata), in wire order
    records: tuple[tuple[dns.name.Name, int, dns.rdata.Rdata], ...] | None = None
    authentic: bool = False  # the AD bit: the resolver validated the data (RFC 4035 §3.2.3)


def check_response(data: bytes, qid: int, question: bytes) -> Answer | str:
    """Validate ``data`` as the response to query ``qid`` with ``question`` (name+type+class).

    Returns an ``Answer`` or the reason to ignore the datagram. Responses without answer
    records (NXDOMAIN, NODATA, SERVFAIL, ...) and truncated ones are decided from the header;
    the question and answer sections of any response with records are parsed by dnspython and
    the datagram is rejected if that fails. The rcode is the header's (the OPT record is not
    read, so extended rcodes above 15 appear as their low four bits).
    """
    if len(data) < 12:
        return "short message"
    rid, flags, qdcount, ancount = struct.unpack_from("!HHHH", data)
    if rid != qid:
        return "wrong id"
    if not flags & _QR or flags & _OPCODE_MASK:
        return "not a response to a query"
    end = 12 + len(question)
    if qdcount != 1 or len(data) < end:
        return "wrong question"
    name_end = end - 4
    if data[12:name_end].lower() != question[:-4] or data[name_end:end] != question[-4:]:
        return "wrong question"
    rcode = flags & 0x000F
    authentic = bool(flags & _AD)
    if flags & _TC:
        return Answer(rcode, truncated=True, authentic=authentic)
    if ancount == 0:
        return Answer(rcode, authentic=authentic)
    # Only the answer section is evidence: read its records with dnspython's name and rdata
    # parsers (strict: each rdata must fill its RDLENGTH exactly) and stop there. Skipping the
    # Message/RRset machinery and the authority/additional sections makes this ~3x cheaper than
    # ``dns.message.from_wire``.
    parser = dns.wire.Parser(data, end)
    records = []
    try:
        for _ in range(ancount):
            owner = parser.get_name(decompress=True)
            rdtype, rdclass, _ttl, rdlen = parser.get_struct("!HHIH")
            rdata = read_rdata(parser, rdclass, rdtype, rdlen)
            if rdclass == dns.rdataclass.IN:
                records.append((owner, rdtype, rdata))
    except Exception as exc:  # dnspython raises many types for malformed input
        return f"malformed response: {type(exc).__name__}: {exc}"
    return Answer(rcode, records=tuple(records), authentic=authentic)


def read_rdata(parser: dns.wire.Parser, rdclass: int, rdtype: int, rdlen: int
                ) -> dns.rdata.Rdata:
    """``dns.rdata.from_wire_parser`` inside ``parser.restrict_to(rdlen)`` with the same checks
    and errors (the rdata must fill RDLENGTH exactly), minus a generator context manager and
    the class lookup per record (the profile's largest avoidable cost in reading answers)."""
    if rdlen > parser.remaining():
        raise dns.exception.FormError
    found = _RDATA_CLASSES.get((rdclass, rdtype))
    if found is None:
        rdc, rdt = dns.rdataclass.RdataClass.make(rdclass), dns.rdatatype.RdataType.make(rdtype)
        found = _RDATA_CLASSES[(rdclass, rdtype)] = (_rdata_class(rdc, rdt), rdc, rdt)
    cls, rdc, rdt = found
    saved_end = parser.end
    parser.end = parser.current + rdlen
    try:
        try:
            rdata: dns.rdata.Rdata = cls.from_wire_parser(rdc, rdt, parser, None)
        except dns.exception.FormError:
            raise
        except Exception as exc:  # as dnspython's ExceptionWrapper(FormError) does
            raise _form_error(str(exc)) from exc
        if parser.current != parser.end:
            raise dns.exception.FormError
    finally:
        parser.end = saved_end
    return rdata


def host_text(name: dns.name.Name) -> str:
    """``name`` as text, lower case, no final dot (root: ""): what ``Name.to_text`` writes,
    built directly when no label needs an escape (nearly always)."""
    labels = name.labels
    if labels and not labels[-1]:
        plain = labels[:-1]
        if not b"".join(plain).translate(None, _PLAIN_BYTES):
            return b".".join(plain).decode("ascii").lower()
    return name.to_text(omit_final_dot=True).lower() if name != dns.name.root else ""


def name_key(name: dns.name.Name) -> tuple[bytes, ...]:
    """A name's labels in lower case: equal exactly when the names are equal (DNS compares
    ASCII case-insensitively, like ``Name.__eq__``) and hashed in C, unlike ``Name``."""
    return tuple(map(bytes.lower, name.labels))


def qname_key(qname: str) -> tuple[bytes, ...]:
    """``name_key(dns.name.from_text(qname))``, without building a Name for a plain ASCII name."""
    text = qname.lower().removesuffix(".")
    if text.isascii() and "\\" not in text and ".." not in text and not text.startswith("."):
        return (*text.encode("ascii").split(b"."), b"") if text else (b"",)
    return name_key(dns.name.from_text(qname))


def is_retried(rcode: int) -> bool:
    """Whether an accepted answer with ``rcode`` is asked again (on the next resolver).

    Only SERVFAIL: the resolver could not get an answer this time (RFC 2308 §7.1). FORMERR,
    NOTIMP and REFUSED judge the question or this client, which another attempt would repeat.
    """
    return rcode == SERVFAIL


def interpret(qname: str, qtype: str, answer: Answer, attempts: int) -> DnsResult:
    """Turn an accepted ``answer`` into a ``DnsResult``, following CNAMEs from ``qname``."""
    status = RCODE_STATUS.get(answer.rcode, DnsStatus.ERROR)
    error = None if status is not DnsStatus.ERROR else f"rcode {answer.rcode}"
    dnssec = Dnssec.ERROR if status.is_failure else (
        Dnssec.SECURE if answer.authentic else Dnssec.INSECURE)
    base = DnsResult(qname, qtype, status, rcode=answer.rcode, error=error, attempts=attempts,
                     dnssec=dnssec)
    if answer.records is None:
        return base
    rdtype = _RDTYPES.get(qtype)
    if rdtype is None:
        rdtype = _RDTYPES[qtype] = dns.rdatatype.from_text(qtype)
    index: dict[tuple[tuple[bytes, ...], int], list[Any]] = {}
    for owner, rrtype, rdata in answer.records:
        index.setdefault((name_key(owner), rrtype), []).append(rdata)
    current = qname_key(qname)
    seen = {current}
    chain: list[str] = []
    while (rdatas := index.get((current, rdtype))) is None:
        cname = index.get((current, dns.rdatatype.CNAME))
        if cname is None:
            return replace(base, cname_chain=tuple(chain))
        target: dns.name.Name = cname[0].target
        target_key = name_key(target)
        if target_key in seen or len(chain) >= MAX_CNAME_CHAIN:
            return replace(base, status=DnsStatus.ERROR, cname_chain=tuple(chain),
                           error="cname loop", dnssec=Dnssec.ERROR)
        chain.append(host_text(target))
        seen.add(target_key)
        current = target_key
    txt: tuple[tuple[str, ...], ...] = ()
    mx: tuple[MxRecord, ...] = ()
    addresses: tuple[str, ...] = ()
    tlsa: tuple[TlsaRecord, ...] = ()
    if rdtype == dns.rdatatype.TXT:
        txt = tuple(tuple(s.decode("latin-1") for s in rd.strings) for rd in rdatas)
    elif rdtype == dns.rdatatype.MX:
        mx = tuple(MxRecord(rd.preference, host_text(rd.exchange)) for rd in rdatas)
    elif rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        addresses = tuple(rd.address for rd in rdatas)
    elif rdtype == dns.rdatatype.TLSA:  # dnspython's TLSA rdata type parsed it
        tlsa = tuple(TlsaRecord(rd.usage, rd.selector, rd.mtype, rd.cert) for rd in rdatas)
    return DnsResult(
        qname,
        qtype,
        status,
        rcode=answer.rcode,
        txt=txt,
        mx=mx,
        addresses=addresses,
        cname_chain=tuple(chain),
        error=error,
        attempts=attempts,
        dnssec=dnssec,
        tlsa=tlsa,
    )


def question_tail(qtype: str) -> bytes:
    """QTYPE + QCLASS octets of ``qtype`` (cached)."""
    tail = _QUESTION_TAILS.get(qtype)
    if tail is None:
        tail = struct.pack("!H", dns.rdatatype.from_text(qtype)) + CLASS_IN
        _QUESTION_TAILS[qtype] = tail
    return tail
