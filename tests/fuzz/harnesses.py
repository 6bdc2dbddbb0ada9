"""The fuzzed properties, one ``check_<target>(data: bytes)`` per target, without atheris.

Each check feeds ``data`` to a parser and raises ``AssertionError`` when a property is broken;
any other exception escaping a parser is a bug too. ``make fuzz`` runs them under atheris
(tests/fuzz/run.py) and tests/test_fuzz_corpus.py replays the corpus through them in
``make test``, so that every input that once found something stays a regression test.

Input formats (chosen so that seed files stay readable):
- ``sts_record`` / ``tlsrpt_record``: TXT records separated by LF, each record's
  character-strings separated by NUL (both are outside the records' alphabet anyway).
- ``policy``: the policy body as fetched.
- ``dns_response``: a DNS message as received; the query it is checked against takes its id
  from the message and its question from the message's first (uncompressed) question when
  there is one, so that most inputs get past the cheap checks into the record parsing.
"""

from __future__ import annotations

import string
import struct
from collections.abc import Callable, Sequence

import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype

from survey.core.observations import DnsStatus
from survey.core.policy import (
    MAX_AGE_LIMIT,
    POLICY_ERROR_CODES,
    POLICY_MODES,
    SELECTION_REASONS,
    STS_RECORD_ERROR_CODES,
    TLSRPT_RECORD_ERROR_CODES,
    Policy,
    RecordSelection,
    StsRecord,
    TlsRptRecord,
    mx_matches,
    parse_policy,
    parse_sts_record,
    parse_tlsrpt_record,
    select_sts_record,
    select_tlsrpt_record,
)
from survey.probes.dns import MAX_CNAME_CHAIN, Answer, check_response, interpret

#: At most this many records per input (selection is linear; more only slows the fuzzer).
MAX_RECORDS = 16
_ALNUM = frozenset(string.ascii_letters + string.digits)
# The question used when the message has none that the fast path could match.
_FALLBACK_QUESTION = b"\x08_mta-sts\x07example\x03com\x00\x00\x10\x00\x01"
# Reasons the fast path gives before reading any record (the rest are "malformed response").
_CHEAP_REASONS = frozenset({"short message", "wrong id", "not a response to a query",
                            "wrong question"})


def _require(condition: bool, message: str) -> None:
    """``assert`` that survives ``python -O``: a broken property is a crash for the fuzzer."""
    if not condition:
        raise AssertionError(message)


def split_records(data: bytes) -> list[list[bytes]]:
    """LF-separated records of NUL-separated character-strings (at most ``MAX_RECORDS``)."""
    return [record.split(b"\x00") for record in data.split(b"\n")[:MAX_RECORDS]]


def _latin1(strings: Sequence[bytes]) -> str:
    return "".join(s.decode("latin-1") for s in strings)


def _check_record_common(rec: StsRecord | TlsRptRecord, again: StsRecord | TlsRptRecord,
                         strings: Sequence[bytes], codes: frozenset[str], tag: str) -> None:
    _require(rec.raw == _latin1(strings), f"raw {rec.raw!r} is not the concatenation")
    _require(rec == again, f"bytes and str strings parse differently: {rec!r} != {again!r}")
    unknown = {e.code for e in rec.errors} - codes
    _require(not unknown, f"undocumented error codes {unknown}")
    _require(rec.valid is all(e.fatal is False for e in rec.errors),
             "valid disagrees with the errors' severity")
    _require(all(e.message for e in rec.errors), "an error without a message")
    if rec.valid:
        _require(rec.raw.startswith(tag), f"valid record not starting with {tag}: {rec.raw!r}")
        _require(all(c in string.printable for c in rec.raw), "valid record with control chars")


def _check_selection(sel: RecordSelection[StsRecord] | RecordSelection[TlsRptRecord],
                     records: Sequence[Sequence[bytes]], tag: str) -> None:
    _require(sel.candidates + sel.discarded == len(records), "candidates+discarded != records")
    starting = sum(_latin1(r).startswith(tag) for r in records)
    _require(sel.candidates <= starting, "a candidate that does not start with the tag")
    _require((sel.record is None) is (sel.candidates != 1), "record iff exactly one candidate")
    _require((sel.reason is None) is (sel.candidates == 1), "reason iff no single candidate")
    _require(sel.reason is None or sel.reason in SELECTION_REASONS, f"reason {sel.reason!r}")
    if sel.record is not None:
        _require(sel.record.raw.startswith(tag), "selected record without the tag")


def check_sts_record(data: bytes) -> None:
    """``parse_sts_record`` on each record and ``select_sts_record`` on all of them."""
    records = split_records(data)
    for strings in records:
        rec = parse_sts_record(strings)
        text_rec = parse_sts_record([s.decode("latin-1") for s in strings])
        _check_record_common(rec, text_rec, strings, STS_RECORD_ERROR_CODES, "v=STSv1")
        if rec.valid:
            _require(rec.id is not None and 0 < len(rec.id) <= 32
                     and set(rec.id) <= _ALNUM, f"valid record with id {rec.id!r}")
        if rec.id is None:
            _require(any(e.code == "id_missing" for e in rec.errors), "no id, no id_missing")
    _check_selection(select_sts_record(records), records, "v=STSv1")


def check_tlsrpt_record(data: bytes) -> None:
    """``parse_tlsrpt_record`` on each record and ``select_tlsrpt_record`` on all of them."""
    records = split_records(data)
    for strings in records:
        rec = parse_tlsrpt_record(strings)
        text_rec = parse_tlsrpt_record([s.decode("latin-1") for s in strings])
        _check_record_common(rec, text_rec, strings, TLSRPT_RECORD_ERROR_CODES, "v=TLSRPTv1")
        if rec.valid:
            _require(bool(rec.rua), "valid record without rua")
            _require(all(u.split(":", 1)[0].lower() in ("mailto", "https") for u in rec.rua),
                     f"valid record with rua {rec.rua!r}")
    _check_selection(select_tlsrpt_record(records), records, "v=TLSRPTv1")


def _check_policy(pol: Policy) -> None:
    unknown = {e.code for e in pol.errors} - POLICY_ERROR_CODES
    _require(not unknown, f"undocumented error codes {unknown}")
    _require(pol.valid is all(e.fatal is False for e in pol.errors),
             "valid disagrees with the errors' severity")
    _require(pol.max_age is None or pol.max_age >= 0, f"negative max_age {pol.max_age}")
    if pol.max_age is not None and pol.max_age > MAX_AGE_LIMIT:
        _require(any(e.code == "max_age_out_of_range" for e in pol.errors),
                 f"max_age {pol.max_age} over the limit without an error")
    if pol.valid:
        _require(pol.version == "STSv1", f"valid policy with version {pol.version!r}")
        _require(pol.mode in POLICY_MODES, f"valid policy with mode {pol.mode!r}")
        _require(pol.max_age is not None, "valid policy without max_age")
        _require(pol.mode == "none" or bool(pol.mx), "valid enforce/testing policy without mx")
        for pattern in pol.mx:
            host = "a" + pattern[1:] if pattern.startswith("*.") else pattern
            _require(mx_matches(pattern, host), f"valid mx {pattern!r} does not match {host!r}")
            _require(mx_matches(pattern, host.upper() + "."), f"mx {pattern!r}: case or dot")


def check_policy(data: bytes) -> None:
    """``parse_policy``: documented codes, valid policies obey RFC 8461 §3.2, CRLF == LF."""
    pol = parse_policy(data)
    _check_policy(pol)
    _require(parse_policy(data) == pol, "parse_policy is not deterministic")
    if b"\r" not in data and b"\n" in data:
        crlf = parse_policy(data.replace(b"\n", b"\r\n"))
        if not any(e.code == "too_large" for e in pol.errors + crlf.errors):
            same = (crlf.version, crlf.mode, crlf.max_age, crlf.mx, crlf.extensions,
                    [e.code for e in crlf.errors])
            _require(same == (pol.version, pol.mode, pol.max_age, pol.mx, pol.extensions,
                              [e.code for e in pol.errors]), "CRLF and LF bodies differ")


def _question_of(data: bytes) -> bytes:
    """The message's first question as wire bytes when uncompressed and complete, else a default.

    Names are lower-cased and at most 255 octets, as ``encode_qname`` makes them for real queries.
    """
    pos = 12
    while pos < len(data):
        length = data[pos]
        if length == 0:
            end = pos + 5
            if end <= len(data) and pos + 1 - 12 <= 255:  # encode_qname's limit for names
                return data[12:pos + 1].lower() + data[pos + 1:end]
            break
        if length > 63:
            break
        pos += 1 + length
    return _FALLBACK_QUESTION


def _from_wire(data: bytes) -> dns.message.Message | None:
    try:
        return dns.message.from_wire(data, ignore_trailing=True, one_rr_per_rrset=True)
    except Exception:  # dnspython raises many types for malformed input
        return None


def _check_agreement(data: bytes, qid: int, question: bytes, result: Answer | str) -> None:
    """Whenever dnspython parses ``data``, the fast path agrees with it."""
    message = _from_wire(data)
    if message is None:
        return
    if isinstance(result, str):
        # Rejecting as malformed what dnspython reads would drop real answers.
        _require(result in _CHEAP_REASONS, f"dnspython parses what the fast path calls {result!r}")
        return
    _require(message.id == qid, f"accepted id {message.id} for query {qid}")
    _require(message.opcode() == dns.opcode.QUERY and bool(message.flags & 0x8000),
             "accepted a message that is not a response to a query")
    _require(len(message.question) == 1, f"accepted {len(message.question)} questions")
    asked = dns.name.from_wire(question, 0)[0]
    qtype, qclass = struct.unpack("!HH", question[-4:])
    got = message.question[0]
    _require((got.name, got.rdtype, got.rdclass) == (asked, qtype, qclass),
             f"accepted question {got} for {asked} {qtype} {qclass}")
    _require(result.rcode == message.rcode() & 0xF, f"rcode {result.rcode} != {message.rcode()}")
    _require(result.truncated is bool(message.flags & 0x0200), "TC flag disagrees")
    if result.records is not None:
        theirs = [(rrset.name, rrset.rdtype, rd) for rrset in message.answer
                  if rrset.rdclass == dns.rdataclass.IN for rd in rrset]
        _require(list(result.records) == theirs, "answer records differ from dnspython's")


def check_dns_response(data: bytes) -> None:
    """``check_response``: never raises, accepts only its own id and question, agrees with
    ``dns.message.from_wire`` on id, rcode and question whenever that parses the bytes; then
    ``interpret`` of what it accepts never raises either."""
    qid = int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
    question = _question_of(data)
    result = check_response(data, qid, question)
    _require(isinstance(result, (Answer, str)), f"unexpected result {result!r}")
    _require(check_response(data, qid ^ 0x5A5A, question) == "wrong id" or len(data) < 12,
             "a response accepted or judged for another id")
    if isinstance(result, Answer):
        other = b"\x01x" + question
        _require(isinstance(check_response(data, qid, other), str),
                 "a response accepted for another question")
    _check_agreement(data, qid, question, result)
    if isinstance(result, Answer) and not result.truncated:
        _check_interpret(question, result)


def _check_interpret(question: bytes, answer: Answer) -> None:
    """``interpret`` of an accepted answer: never raises, fills only the asked type's field."""
    qname = dns.name.from_wire(question, 0)[0].to_text()
    qtype = dns.rdatatype.to_text(struct.unpack("!H", question[-4:-2])[0])
    result = interpret(qname, qtype, answer, 1)
    _require(result.rcode == answer.rcode and result.attempts == 1, f"{result!r}")
    _require(result.status is not DnsStatus.TIMEOUT, "an answer read as a timeout")
    _require(len(result.cname_chain) <= MAX_CNAME_CHAIN, "CNAME chain over the limit")
    _require(not result.txt or qtype == "TXT", f"txt filled for {qtype}")
    _require(not result.mx or qtype == "MX", f"mx filled for {qtype}")
    _require(not result.addresses or qtype in ("A", "AAAA"), f"addresses filled for {qtype}")
    if answer.records is None:
        _require(not (result.txt or result.mx or result.addresses or result.cname_chain),
                 "data from an answer without records")


#: Fuzz targets by name: the corpus of each lives in tests/fuzz/corpus/<name>/.
TARGETS: dict[str, Callable[[bytes], None]] = {
    "sts_record": check_sts_record,
    "tlsrpt_record": check_tlsrpt_record,
    "policy": check_policy,
    "dns_response": check_dns_response,
}

__all__ = ["TARGETS", "check_dns_response", "check_policy", "check_sts_record",
           "check_tlsrpt_record", "split_records"]
