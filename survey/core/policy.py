"""RFC 8461 (MTA-STS) and RFC 8460 (TLS-RPT) parsers: pure text in, typed results out.

Public API, stable: ``parse_sts_record``, ``select_sts_record``, ``parse_policy``,
``mx_matches``, ``parse_tlsrpt_record``, ``select_tlsrpt_record``. Bad input never raises: every
problem becomes a ``ParseError`` in the result's ``errors`` list (empty when valid).

Parsing follows the RFCs' ABNF strictly, every function in linear time (no backtracking regexes).
Choices where the RFCs leave room (see also docs/classification.md "Decisions"):
- records: ``v=STSv1 ;`` is accepted (the ABNF's ``*WSP ";"``); trailing WSP not followed by ``;``
  is ``syntax``; ``v=STSv10`` is another version, not ``STSv1`` followed by junk;
- policies: blank lines are tolerated (senders skip them); an ``mx`` with a trailing dot is
  ``mx_invalid`` (RFC 5321 ``Domain`` has none); after an error, parsing goes on so that the
  fields a domain publishes are still recorded, as written.

Error codes (a public contract: add codes, never rename them).

``parse_sts_record`` (RFC 8461 §3.1) and ``parse_tlsrpt_record`` (RFC 8460 §3):
    ``non_ascii``         a character outside printable ASCII, SP and HTAB (control or 8-bit)
    ``version_missing``   no version field (``v=STSv1`` / ``v=TLSRPTv1``) anywhere
    ``version_invalid``   the first field is ``v=`` with another value (``v=STSv10``, ``v=stsv1``)
    ``version_not_first`` the version field is present, but not at the very start
    ``syntax``            bad delimiting: an empty field (``;;``), text after the version without
                          ``;``, whitespace at the start or at the end without a ``;``
    ``field_invalid``     a field that is not ``name=value`` with a valid extension name/value
STS only:
    ``id_missing``        no ``id=`` field
    ``id_invalid``        ``id`` is not 1-32 ALPHA/DIGIT
    ``id_duplicate``      more than one ``id=`` field
TLS-RPT only:
    ``rua_missing``       no ``rua=`` field
    ``rua_duplicate``     more than one ``rua=`` field
    ``rua_invalid_uri``   an empty or malformed URI, a mailto without ``local@domain``, an https
                          URI without a host
    ``rua_scheme``        a well-formed URI whose scheme is neither ``mailto`` nor ``https``

``select_sts_record`` / ``select_tlsrpt_record`` reasons: ``no_record``, ``multiple_records``.

``parse_policy`` (RFC 8461 §3.2):
    ``empty``                the body has no field at all (empty or blank lines only)
    ``too_large``            over ``POLICY_MAX_BYTES``; the first ``POLICY_MAX_BYTES`` are still
                             parsed, cut after their last line break
    ``not_utf8``             not valid UTF-8 (the rest is parsed with U+FFFD replacements)
    ``bom``                  a leading UTF-8 BOM (the rest is parsed without it)
    ``syntax``               a line without ``:``, or an invalid field name (empty, over 32
                             characters, whitespace or other characters outside the ABNF)
    ``duplicate_key``        ``version``, ``mode`` or ``max_age`` given twice (the first is kept)
    ``version_missing`` / ``version_invalid``   no ``version`` / not exactly ``STSv1``
    ``mode_missing`` / ``mode_invalid``         no ``mode`` / not ``enforce``/``testing``/``none``
    ``max_age_missing``      no ``max_age``
    ``max_age_out_of_range`` not 1-10 ASCII digits, or over ``MAX_AGE_LIMIT``
    ``mx_missing``           mode ``enforce`` or ``testing`` without any ``mx`` line
    ``mx_invalid``           an ``mx`` value that is not ``[*.]`` followed by LDH labels
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

#: Senders read at most this much of a policy body (RFC 8461 §3.3 leaves the cap to the
#: implementation; 64 KiB is what Postfix's and Exim's resolvers use).
POLICY_MAX_BYTES = 64 * 1024
MAX_AGE_LIMIT = 31_557_600


@dataclass(frozen=True, slots=True)
class ParseError:
    code: str  # stable, snake_case (e.g. "max_age_out_of_range")
    message: str  # human text, with the offending value where useful


@dataclass(frozen=True, slots=True)
class StsRecord:
    raw: str
    id: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class TlsRptRecord:
    raw: str
    rua: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class Policy:
    version: str | None = None
    mode: str | None = None
    max_age: int | None = None
    mx: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


R = TypeVar("R", StsRecord, TlsRptRecord)


@dataclass(frozen=True, slots=True)
class RecordSelection(Generic[R]):
    """Result of the §3.1 selection among the TXT records at one name."""

    record: R | None  # the one record left after discarding, parsed; None if not exactly one
    candidates: int  # records starting with the version tag
    discarded: int  # records not starting with it (ignored by senders)
    reason: str | None  # why there is no usable record: "no_record" or "multiple_records"


TxtStrings = Sequence[str | bytes]


#: Keys every policy has exactly once (RFC 8461 §3.2); ``mx`` is repeatable.
REQUIRED_POLICY_KEYS = ("version", "mode", "max_age")
#: Every ``ParseError.code`` each parser can give (the module docstring says what each means).
STS_RECORD_ERROR_CODES = frozenset({
    "non_ascii", "version_missing", "version_invalid", "version_not_first", "syntax",
    "field_invalid", "id_missing", "id_invalid", "id_duplicate"})
TLSRPT_RECORD_ERROR_CODES = frozenset({
    "non_ascii", "version_missing", "version_invalid", "version_not_first", "syntax",
    "field_invalid", "rua_missing", "rua_duplicate", "rua_invalid_uri", "rua_scheme"})
POLICY_ERROR_CODES = frozenset({
    "empty", "too_large", "not_utf8", "bom", "syntax", "duplicate_key", "version_missing",
    "version_invalid", "mode_missing", "mode_invalid", "max_age_missing", "max_age_out_of_range",
    "mx_missing", "mx_invalid"})
#: ``RecordSelection.reason`` values.
SELECTION_REASONS = frozenset({"no_record", "multiple_records"})
POLICY_MODES = ("enforce", "testing", "none")
STS_VERSION = "v=STSv1"
TLSRPT_VERSION = "v=TLSRPTv1"

_WSP = " \t"
_ALNUM = frozenset(string.ascii_letters + string.digits)
_EXT_NAME_REST = _ALNUM | frozenset("_-.")
# sts-ext-value / tlsrpt-ext-value: %x21-3A / %x3C / %x3E-7E (no SP, ";", "=" or controls).
_EXT_VALUE = frozenset(chr(c) for c in range(0x21, 0x7F)) - frozenset(";=")
_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F)) | frozenset("\t")
# RFC 3986 characters (unreserved, reserved, "%"), minus "!" which RFC 8460 says MUST be encoded
# (and "," and ";", the record's own delimiters, which never reach a URI).
_URI_CHARS = _ALNUM | frozenset("-._~:/?#[]@$&'()*+=%")
_SCHEME_REST = _ALNUM | frozenset("+-.")
_LDH = _ALNUM | frozenset("-")
_POLICY_KEY = _ALNUM | frozenset("_-.")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_BOM = b"\xef\xbb\xbf"


def _show(text: str) -> str:
    """``repr`` of input quoted in an error message, shortened: inputs can be 64 KiB long."""
    return repr(text) if len(text) <= 80 else repr(text[:80]) + "..."


def _text(txt_strings: TxtStrings) -> str:
    """Concatenate one TXT record's character-strings without separator (RFC 8461 §3.1)."""
    return "".join(s.decode("latin-1") if isinstance(s, bytes) else s for s in txt_strings)


def _has_version(text: str, tag: str) -> bool:
    """Whether ``text`` begins with the version field ``tag``, ended by ``;``, WSP or the end.

    So ``v=STSv10`` and ``v=STSv1x`` are not versions ``STSv1``, while ``v=STSv1 ;`` is (see
    docs/classification.md "Decisions").
    """
    return text.startswith(tag) and (len(text) == len(tag) or text[len(tag)] in ";" + _WSP)


def _is_ext_name(name: str) -> bool:
    """sts-ext-name / tlsrpt-ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")."""
    return (0 < len(name) <= 32 and name[0] in _ALNUM
            and all(c in _EXT_NAME_REST for c in name))


def _is_ext_value(value: str) -> bool:
    return bool(value) and all(c in _EXT_VALUE for c in value)


def _record_fields(text: str, tag: str, errors: list[ParseError]) -> list[tuple[str, str]]:
    """Check the version and delimiters of a ``v=...; name=value; ...`` record; list its fields.

    Appends the version, character and delimiter errors; returns the ``(name, value)`` pairs of the
    other fields, in order (a field without ``=`` is reported as ``field_invalid`` and left out).
    """
    bad = next((c for c in text if c not in _PRINTABLE), None)
    if bad is not None:
        errors.append(ParseError("non_ascii", f"character {bad!r} is not printable ASCII"))
    segments = text.split(";")
    first = segments[0]
    if first != first.lstrip(_WSP):
        errors.append(ParseError("syntax", "whitespace before the version field"))
        first = first.lstrip(_WSP)
    cut = next((i for i, c in enumerate(first) if c in _WSP), len(first))
    version, rest = first[:cut], first[cut:].strip(_WSP)
    if version == tag:
        if rest:
            errors.append(ParseError("syntax", f"missing ';' after {tag!r}: {_show(first)}"))
    elif version.startswith("v="):
        errors.append(ParseError("version_invalid", f"version {_show(version)} is not {tag!r}"))
    elif any(s.strip(_WSP) == tag for s in segments[1:]):
        errors.append(ParseError("version_not_first", f"{tag!r} is not the first field"))
        segments.insert(1, first)  # parse the displaced first field as an ordinary field
    else:
        errors.append(ParseError("version_missing", f"no {tag!r} field"))
        segments.insert(1, first)
    fields: list[tuple[str, str]] = []
    last = len(segments) - 1
    for i, segment in enumerate(segments[1:], start=1):
        item = segment.strip(_WSP)
        if not item:
            if i != last:
                errors.append(ParseError("syntax", "empty field (';;')"))
            continue
        if i == last and item != segment.lstrip(_WSP):
            errors.append(ParseError("syntax", f"whitespace without ';' after {_show(item)}"))
        if item == tag and version != tag:
            continue  # the displaced version field, already reported
        name, eq, value = item.partition("=")
        if not eq:
            errors.append(ParseError("field_invalid", f"field {_show(item)} is not name=value"))
            continue
        fields.append((name, value))
    return fields


def _extension(name: str, value: str, extensions: dict[str, str],
               errors: list[ParseError]) -> None:
    """Keep a valid extension field (the first of a name wins), or report it."""
    if _is_ext_name(name) and _is_ext_value(value):
        extensions.setdefault(name, value)
    else:
        errors.append(ParseError("field_invalid", f"invalid field {_show(name + '=' + value)}"))


def parse_sts_record(txt_strings: TxtStrings) -> StsRecord:
    """Parse one ``_mta-sts`` TXT record (RFC 8461 §3.1) given as its character-strings.

    ``id`` is the first ``id=`` value as written, even when invalid (the errors say so), so that
    snapshots can still compare ids. Extensions are kept, the first value of a name winning.
    """
    raw = _text(txt_strings)
    errors: list[ParseError] = []
    extensions: dict[str, str] = {}
    ids: list[str] = []
    for name, value in _record_fields(raw, STS_VERSION, errors):
        if name == "id":
            ids.append(value)
            if not (0 < len(value) <= 32 and all(c in _ALNUM for c in value)):
                errors.append(ParseError("id_invalid", f"id {_show(value)}: not 1-32 ALPHA/DIGIT"))
            if len(ids) == 2:
                errors.append(ParseError("id_duplicate", f"second id {_show(value)}"))
        else:
            _extension(name, value, extensions, errors)
    if not ids:
        errors.append(ParseError("id_missing", "no id= field"))
    return StsRecord(raw=raw, id=ids[0] if ids else None, extensions=extensions, errors=errors)


def _select(records: Sequence[TxtStrings], tag: str,
            parse: Callable[[TxtStrings], R]) -> RecordSelection[R]:
    """RFC 8461 §3.1 / RFC 8460 §3: discard records not starting with ``tag``; one must remain."""
    candidates = [r for r in records if _has_version(_text(r), tag)]
    discarded = len(records) - len(candidates)
    if len(candidates) == 1:
        return RecordSelection(parse(candidates[0]), 1, discarded, None)
    reason = "no_record" if not candidates else "multiple_records"
    return RecordSelection(None, len(candidates), discarded, reason)


def select_sts_record(records: Sequence[TxtStrings]) -> RecordSelection[StsRecord]:
    """Select the STS record among the TXT records at ``_mta-sts.<domain>`` (RFC 8461 §3.1).

    A record is a candidate when its concatenated text starts with the version field
    ``v=STSv1`` ended by ``;``, SP/HTAB or the end of the text: ``v=STSv1;...`` and ``v=STSv1 ;``
    count, ``v=STSv10``, ``v=STSv1x``, `` v=STSv1`` (leading space) and ``V=STSv1`` do not. The
    RFC writes "begin with v=STSv1;", and the space before ``;`` is accepted (docs/classification.md
    "Decisions"). A single candidate is returned parsed, even with errors.
    """
    return _select(records, STS_VERSION, parse_sts_record)


def _uri_error(uri: str) -> ParseError | None:
    """One rua URI: RFC 3986 characters; ``mailto`` with local@domain or ``https`` with a host."""
    if not uri or any(c not in _URI_CHARS for c in uri):
        return ParseError("rua_invalid_uri", f"{_show(uri)} is not a URI (empty, or characters "
                                             "outside RFC 3986, or an unencoded '!')")
    scheme, colon, rest = uri.partition(":")
    if not (colon and scheme and scheme[0] in string.ascii_letters
            and all(c in _SCHEME_REST for c in scheme)):
        return ParseError("rua_invalid_uri", f"{_show(uri)} has no URI scheme")
    scheme = scheme.translate(_ASCII_LOWER)
    if scheme == "mailto":
        local, at, domain = rest.partition("?")[0].rpartition("@")
        if not (at and local and domain):
            return ParseError("rua_invalid_uri", f"{_show(uri)}: mailto without local@domain")
        return None
    if scheme == "https":
        if not rest.startswith("//"):
            return ParseError("rua_invalid_uri", f"{_show(uri)}: https URI without '//' authority")
        host = rest[2:]
        for end in "/?#":
            host = host.partition(end)[0]
        host = host.rpartition("@")[2]
        if host.startswith("["):
            host = host[1:host.find("]")] if "]" in host else ""
        else:
            host = host.partition(":")[0]
        if not host:
            return ParseError("rua_invalid_uri", f"{_show(uri)}: https URI without a host")
        return None
    return ParseError("rua_scheme", f"{_show(uri)}: scheme {_show(scheme)} is not mailto or https")


def parse_tlsrpt_record(txt_strings: TxtStrings) -> TlsRptRecord:
    """Parse one ``_smtp._tls`` TXT record (RFC 8460 §3) given as its character-strings.

    ``rua`` lists the URIs of the first ``rua=`` field as written (invalid ones included; the
    errors name them), split on ``,`` with WSP around commas tolerated as the ABNF allows.
    """
    raw = _text(txt_strings)
    errors: list[ParseError] = []
    extensions: dict[str, str] = {}
    rua: list[str] | None = None
    for name, value in _record_fields(raw, TLSRPT_VERSION, errors):
        if name != "rua":
            _extension(name, value, extensions, errors)
        elif rua is not None:
            errors.append(ParseError("rua_duplicate", "more than one rua= field"))
        else:
            rua = [uri.strip(_WSP) for uri in value.split(",")]
            errors.extend(e for e in map(_uri_error, rua) if e is not None)
    if rua is None:
        errors.append(ParseError("rua_missing", "no rua= field"))
    return TlsRptRecord(raw=raw, rua=rua or [], extensions=extensions, errors=errors)


def select_tlsrpt_record(records: Sequence[TxtStrings]) -> RecordSelection[TlsRptRecord]:
    """Select the TLS-RPT record among the TXT records at ``_smtp._tls.<domain>`` (RFC 8460 §3).

    Same rule as ``select_sts_record`` with the version field ``v=TLSRPTv1`` (``v=TLSRPTv10`` is
    not a candidate).
    """
    return _select(records, TLSRPT_VERSION, parse_tlsrpt_record)


def _is_host_pattern(value: str) -> bool:
    """sts-policy-mx-value: ``["*."] Domain``, Domain being LDH labels (RFC 5321 §4.1.2).

    Labels are 1-63 characters, letters, digits and inner hyphens; at most 253 characters in all;
    no trailing dot (the ABNF has none).
    """
    domain = value[2:] if value.startswith("*.") else value
    if not 0 < len(domain) <= 253:
        return False
    return all(0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"
               and all(c in _LDH for c in label) for label in domain.split("."))


def _decode_policy(body: bytes, errors: list[ParseError]) -> str:
    """Bytes to text: cap, BOM and UTF-8 checks, each reported, the rest still decoded."""
    if len(body) > POLICY_MAX_BYTES:
        errors.append(ParseError("too_large", f"{len(body)} bytes, over {POLICY_MAX_BYTES}"))
        body = body[:POLICY_MAX_BYTES]
        cut = body.rfind(b"\n")
        body = body[:cut + 1] if cut >= 0 else body
    if body.startswith(_BOM):
        errors.append(ParseError("bom", "the body starts with a UTF-8 byte order mark"))
        body = body[len(_BOM):]
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        errors.append(ParseError("not_utf8", f"not UTF-8 at byte {e.start}"))
        return body.decode("utf-8", errors="replace")


def _policy_lines(text: str, errors: list[ParseError]) -> list[tuple[str, str]]:
    """Split a policy into ``(key, value)`` pairs; LF or CRLF; trailing WSP and blank lines ok.

    Blank lines are tolerated anywhere (the ABNF has none, but senders skip them and a trailing
    empty line is common); no whitespace is allowed before the colon or at the start of a line.
    """
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r").rstrip(_WSP)
        if not line:
            continue
        key, colon, value = line.partition(":")
        if not colon:
            errors.append(ParseError("syntax", f"line {number}: no ':' in {_show(line)}"))
        elif not (0 < len(key) <= 32 and all(c in _POLICY_KEY for c in key)):
            errors.append(ParseError("syntax", f"line {number}: invalid field name {_show(key)}"))
        else:
            pairs.append((key, value.lstrip(_WSP)))
    return pairs


def _max_age(value: str, errors: list[ParseError]) -> int | None:
    """sts-policy-max-age-value: 1*10 DIGIT, at most MAX_AGE_LIMIT; the number even if over."""
    if not (0 < len(value) <= 10 and all(c in string.digits for c in value)):
        errors.append(ParseError("max_age_out_of_range",
                                 f"max_age {_show(value)} is not 1-10 digits"))
        return None
    seconds = int(value)
    if seconds > MAX_AGE_LIMIT:
        errors.append(ParseError("max_age_out_of_range",
                                 f"max_age {seconds} is over {MAX_AGE_LIMIT}"))
    return seconds


def parse_policy(body: bytes) -> Policy:
    """Parse a policy body (RFC 8461 §3.2) as fetched; a body over the cap is ``too_large``.

    Values are recorded as written even when invalid (``version``, ``mode``; ``max_age`` when it
    is 1-10 digits, even over the limit), the first one of a repeated singleton key winning, so
    that rows still show what a domain publishes. Unknown keys go to ``extensions`` (first value
    wins) and are otherwise ignored, whatever their value.
    """
    errors: list[ParseError] = []
    pairs = _policy_lines(_decode_policy(body, errors), errors)
    if not pairs and not any(e.code == "syntax" for e in errors):
        errors.append(ParseError("empty", "the policy has no field"))
        return Policy(errors=errors)
    singles: dict[str, str] = {}
    mx: list[str] = []
    extensions: dict[str, str] = {}
    for key, value in pairs:
        if key == "mx":
            mx.append(value)
            if not _is_host_pattern(value):
                errors.append(ParseError("mx_invalid", f"mx {_show(value)} is not a host pattern"))
        elif key in REQUIRED_POLICY_KEYS:
            if key in singles:
                errors.append(ParseError("duplicate_key", f"{key} given more than once"))
            else:
                singles[key] = value
        else:
            extensions.setdefault(key, value)
    version, mode, max_age = (singles.get(k) for k in REQUIRED_POLICY_KEYS)
    if version is None:
        errors.append(ParseError("version_missing", "no version field"))
    elif version != "STSv1":
        errors.append(ParseError("version_invalid", f"version {_show(version)} is not 'STSv1'"))
    if mode is None:
        errors.append(ParseError("mode_missing", "no mode field"))
    elif mode not in POLICY_MODES:
        errors.append(ParseError("mode_invalid", f"mode {_show(mode)} is not one of "
                                                 "enforce, testing, none"))
    seconds = None
    if max_age is None:
        errors.append(ParseError("max_age_missing", "no max_age field"))
    else:
        seconds = _max_age(max_age, errors)
    if not mx and mode in ("enforce", "testing"):
        errors.append(ParseError("mx_missing", f"mode {mode} requires at least one mx"))
    return Policy(version=version, mode=mode, max_age=seconds, mx=mx, extensions=extensions,
                  errors=errors)


def _host_labels(name: str) -> list[str] | None:
    """ASCII-lowercased labels without the root's trailing dot; None if any label is empty."""
    labels = name.translate(_ASCII_LOWER).removesuffix(".").split(".")
    return None if "" in labels else labels


def mx_matches(pattern: str, host: str) -> bool:
    """Whether MX host ``host`` matches policy ``mx`` pattern ``pattern`` (RFC 8461 §4.1).

    Case-insensitive (ASCII), one trailing dot on either ignored. ``*.`` at the start matches
    exactly one non-empty leftmost label: ``*.example.com`` matches ``a.example.com``, neither
    ``example.com`` nor ``a.b.example.com``. A ``*`` anywhere else is literal text. A name with an
    empty label (``a..b``, ``""``, ``.``) matches nothing.
    """
    p, h = _host_labels(pattern), _host_labels(host)
    if p is None or h is None:
        return False
    if p[0] == "*" and len(p) > 1:
        return len(h) == len(p) and h[1:] == p[1:]
    return p == h
