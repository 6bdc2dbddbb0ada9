"""RFC 8461 (MTA-STS) and RFC 8460 (TLS-RPT) parsers: pure text in, typed results out.

Public API, stable: ``parse_sts_record``, ``select_sts_record``, ``parse_policy``,
``mx_matches``, ``parse_tlsrpt_record``, ``select_tlsrpt_record``. Bad input never raises: every
problem becomes a ``ParseError`` in the result's ``errors`` list (empty when clean).

Parsing follows the RFCs' letter (ABNF and prose), every function in linear time (no
backtracking regexes). Each error code has a severity (``*_ERROR_SEVERITY``): ``fatal`` when a
sender following the RFC to the letter does not use the record or policy, ``warning`` when the
RFC tells it to carry on (a duplicated field: "all entries except for the first SHALL be
ignored", RFC 8461 §3.2). ``valid`` means: no fatal error. The record and policy parsers take a
``SenderProfile`` (``survey.core.senders``; default: the RFC's letter): it decides, per
construct where deployed senders part ways, how values are read (first or last duplicate,
indented lines trimmed, ...) and whether the error is fatal for that sender (``ParseError.fatal``:
True, False, or None when the profile's behaviour is unknown). The codes found do not depend on
the profile (but for the two listed last, and ``mx_missing``/``max_age_out_of_range`` for a
profile that wants ``mx`` in mode none or rejects ``max_age: 0``), only their ``fatal`` flag
and the values read. docs/classification.md "Decisions"
cites the clause behind each choice.

Error codes (a public contract: add codes, never rename them). F = fatal, W = warning (RFC).

``parse_sts_record`` (RFC 8461 §3.1) and ``parse_tlsrpt_record`` (RFC 8460 §3):
    ``non_ascii``         F  a character outside printable ASCII, SP and HTAB (control or 8-bit)
    ``version_missing``   F  no version field (``v=STSv1`` / ``v=TLSRPTv1``) anywhere
    ``version_invalid``   F  the first field is ``v=`` with another value (``v=STSv10``)
    ``version_not_first`` F  the version field is present, but not at the very start
    ``syntax``            F  bad delimiting: an empty field (``;;``), text after the version
                             without ``;``, whitespace before the version
    ``trailing_whitespace`` F  WSP at the end of the record not followed by ``;`` (the ABNF
                             allows WSP only around a ``;``)
    ``space_before_semicolon`` W  WSP between a field and its ``;`` (``v=STSv1 ;``): the ABNF's
                             ``*WSP ";"`` allows it (erratum 6285); some senders do not
    ``field_invalid``     F  a field that is not ``name=value`` with a valid extension name/value
STS only:
    ``id_missing``        F  no ``id=`` field
    ``id_invalid``        F  ``id`` is not 1-32 ALPHA/DIGIT
    ``id_duplicate``      W  more than one ``id=`` field (the first is used)
TLS-RPT only:
    ``rua_missing``       F  no ``rua=`` field
    ``rua_duplicate``     W  more than one ``rua=`` field: the ABNF lets ``tlsrpt-field``
                             repeat; the URIs of all of them are joined, in order
    ``rua_invalid_uri``   F  an empty or malformed URI, a mailto without ``local@domain``, an
                             https URI without a host (or with a malformed ``[IP-literal]``, or
                             a port that is not digits)
    ``rua_scheme``        F  a well-formed URI whose scheme is neither ``mailto`` nor ``https``

``select_sts_record`` / ``select_tlsrpt_record`` reasons: ``no_record``, ``multiple_records``;
``other_records`` only for a profile that refuses a name holding other TXT records too.

``parse_policy`` (RFC 8461 §3.2):
    ``empty``                F  the body has no field at all (empty or blank lines only)
    ``too_large``            F  over ``POLICY_MAX_BYTES``; the first ``POLICY_MAX_BYTES`` are
                                still parsed, cut after their last line break
    ``not_utf8``             F  not valid UTF-8 (the rest is parsed with U+FFFD replacements)
    ``bom``                  F  a leading UTF-8 BOM (the rest is parsed without it)
    ``syntax``               F  a line without ``:``, or an invalid field name (empty, over 32
                                characters, whitespace or characters outside the ABNF)
    ``field_name_invalid``   F  a field name of ABNF characters not starting with ALPHA/DIGIT
                                (``_x: 1``)
    ``extension_value_invalid`` F  an unknown field's value empty (``x:``) or with control
                                characters
    ``blank_line``           F  an empty or whitespace-only line (the ABNF has none; the one
                                optional line break at the end is not a blank line)
    ``indented_line``        F  a line starting with SP or HTAB (read trimmed)
    ``lone_cr``              F  a CR not followed by LF (read as a line break)
    ``duplicate_key``        W  a field other than ``mx`` given twice (the first is kept)
    ``version_missing`` / ``version_invalid``   F  no ``version`` / not exactly ``STSv1``
    ``mode_missing`` / ``mode_invalid``         F  no ``mode`` / not enforce, testing, none
    ``max_age_missing``      F  no ``max_age``
    ``max_age_out_of_range`` F  not 1-10 ASCII digits, or over ``MAX_AGE_LIMIT``
    ``mx_missing``           F  mode ``enforce`` or ``testing`` without any ``mx`` line
    ``mx_invalid``           F  an ``mx`` value that is not ``[*.]`` followed by LDH labels
    ``mx_trailing_dot``      F  an ``mx`` value that would be valid without its trailing dot
    ``body_html`` / ``body_rtf`` / ``body_dns_record`` / ``body_prose``   F  the body is no
                                policy at all (no ``version``, ``mode``, ``max_age`` or ``mx``
                                field): an HTML/XML page, an RTF document, a pasted DNS record
                                (``v=STSv1; id=...``, a zone-file line), or other text
Only in a parse for a profile that objects (never under the RFC, which allows them):
    ``non_ascii``            a byte outside ASCII, for a sender that reads the body as ASCII
    ``colon_in_value``       a ``:`` inside a value, for a sender that splits lines on every ``:``
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from survey.core.names import a_labels
from survey.core.senders import RFC8461, SenderProfile

#: Senders read at most this much of a policy body (RFC 8461 §3.3 leaves the cap to the
#: implementation; 64 KiB is what Postfix's and Exim's resolvers use).
POLICY_MAX_BYTES = 64 * 1024
MAX_AGE_LIMIT = 31_557_600


class ParseSeverity(StrEnum):
    FATAL = "fatal"  # a sender following the RFC to the letter does not use the record/policy
    WARNING = "warning"  # the RFC tells senders to carry on: the record/policy still applies


@dataclass(frozen=True, slots=True)
class ParseError:
    code: str  # stable, snake_case (e.g. "max_age_out_of_range")
    message: str  # human text, with the offending value where useful
    #: whether the sender profile the parse was made for rejects the record or policy for it;
    #: None when that profile's behaviour is unknown. Under the RFC profile: the code's severity.
    fatal: bool | None = True


def _usable(errors: Sequence[ParseError]) -> bool:
    return all(e.fatal is False for e in errors)


@dataclass(frozen=True, slots=True)
class StsRecord:
    raw: str
    id: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """No fatal error: the sender (profile) the parse was made for uses the record."""
        return _usable(self.errors)


@dataclass(frozen=True, slots=True)
class TlsRptRecord:
    raw: str
    rua: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return _usable(self.errors)


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
        """No fatal error: the sender (profile) the parse was made for applies the policy."""
        return _usable(self.errors)


R = TypeVar("R", StsRecord, TlsRptRecord)


@dataclass(frozen=True, slots=True)
class RecordSelection(Generic[R]):
    """Result of the §3.1 selection among the TXT records at one name."""

    record: R | None  # the one record left after discarding, parsed; None if not exactly one
    candidates: int  # records starting with the version tag
    discarded: int  # records not starting with it (ignored by senders)
    reason: str | None  # why there is no usable record: "no_record" or "multiple_records"


TxtStrings = Sequence[str | bytes]

_F, _W = ParseSeverity.FATAL, ParseSeverity.WARNING
_RECORD_SEVERITY = {
    "non_ascii": _F, "version_missing": _F, "version_invalid": _F, "version_not_first": _F,
    "syntax": _F, "trailing_whitespace": _F, "space_before_semicolon": _W, "field_invalid": _F}
#: Every ``ParseError.code`` each parser can give, with its severity under the RFC's letter.
STS_RECORD_ERROR_SEVERITY: Mapping[str, ParseSeverity] = {
    **_RECORD_SEVERITY, "id_missing": _F, "id_invalid": _F, "id_duplicate": _W}
TLSRPT_RECORD_ERROR_SEVERITY: Mapping[str, ParseSeverity] = {
    **_RECORD_SEVERITY, "rua_missing": _F, "rua_duplicate": _W, "rua_invalid_uri": _F,
    "rua_scheme": _F}
POLICY_ERROR_SEVERITY: Mapping[str, ParseSeverity] = {
    "empty": _F, "too_large": _F, "not_utf8": _F, "bom": _F, "syntax": _F,
    "field_name_invalid": _F, "extension_value_invalid": _F, "blank_line": _F,
    "indented_line": _F, "lone_cr": _F, "duplicate_key": _W, "version_missing": _F,
    "version_invalid": _F, "mode_missing": _F, "mode_invalid": _F, "max_age_missing": _F,
    "max_age_out_of_range": _F, "mx_missing": _F, "mx_invalid": _F, "mx_trailing_dot": _F,
    "body_html": _F, "body_rtf": _F, "body_dns_record": _F, "body_prose": _F,
    # only in parses for a profile that objects (the RFC does not): see the module docstring
    "non_ascii": _W, "colon_in_value": _W}
#: Policy codes saying the body is no policy at all (``body_*``).
NOT_A_POLICY_CODES = frozenset({"body_html", "body_rtf", "body_dns_record", "body_prose"})

#: Keys every policy has exactly once (RFC 8461 §3.2); ``mx`` is repeatable.
REQUIRED_POLICY_KEYS = ("version", "mode", "max_age")
STS_RECORD_ERROR_CODES = frozenset(STS_RECORD_ERROR_SEVERITY)
TLSRPT_RECORD_ERROR_CODES = frozenset(TLSRPT_RECORD_ERROR_SEVERITY)
POLICY_ERROR_CODES = frozenset(POLICY_ERROR_SEVERITY)
#: ``RecordSelection.reason`` values.
SELECTION_REASONS = frozenset({"no_record", "multiple_records", "other_records"})
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
_IPVFUTURE_REST = _ALNUM | frozenset("-._~!$&'()*+,;=:")  # unreserved, sub-delims, ":"
_LDH = _ALNUM | frozenset("-")
_POLICY_KEY = _ALNUM | frozenset("_-.")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_BOM = b"\xef\xbb\xbf"


def _fatal(knob: object, *tolerated: object) -> bool | None:
    """Whether a profile whose knob has value ``knob`` rejects the construct (None: unknown)."""
    return None if knob == "unknown" else knob not in tolerated


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


def _record_fields(text: str, tag: str, errors: list[ParseError],
                   profile: SenderProfile) -> list[tuple[str, str]]:
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
        errors.append(ParseError("syntax", "whitespace before the version field",
                                 _fatal(profile.txt_leading_wsp, "accept")))
        first = first.lstrip(_WSP)
    cut = next((i for i, c in enumerate(first) if c in _WSP), len(first))
    version, rest = first[:cut], first[cut:].strip(_WSP)
    if (version != tag and profile.txt_version_case != "sensitive"
            and version.translate(_ASCII_LOWER) == tag.translate(_ASCII_LOWER)):
        errors.append(ParseError("version_invalid", f"version {_show(version)} is not {tag!r} "
                                 "(letter case)", _fatal(profile.txt_version_case, "insensitive")))
        version = tag
    delimiter = _fatal(profile.txt_version_delimiter, "abnf")
    if (version == tag and delimiter is not False
            and not text.lstrip(_WSP).startswith(first[:len(tag)] + ";")):
        errors.append(ParseError("syntax", f"{tag!r} not followed at once by ';'", delimiter))
    if version == tag:
        if rest:
            errors.append(ParseError("syntax", f"missing ';' after {tag!r}: {_show(first)}"))
        elif len(segments) == 1 and cut < len(first):
            errors.append(ParseError("trailing_whitespace", f"whitespace without ';' after {tag!r}",
                                     _fatal(profile.txt_trailing_wsp, "accept")))
    elif version.startswith("v="):
        errors.append(ParseError("version_invalid", f"version {_show(version)} is not {tag!r}"))
    elif any(s.strip(_WSP) == tag for s in segments[1:]):
        errors.append(ParseError("version_not_first", f"{tag!r} is not the first field",
                                 _fatal(profile.txt_version_position, "anywhere")))
        segments.insert(1, first)  # parse the displaced first field as an ordinary field
    else:
        errors.append(ParseError("version_missing", f"no {tag!r} field"))
        segments.insert(1, first)
    fields: list[tuple[str, str]] = []
    last = len(segments) - 1
    spaced = len(segments) > 1 and segments[0] != segments[0].rstrip(_WSP) and version == tag
    for i, segment in enumerate(segments[1:], start=1):
        item = segment.strip(_WSP)
        if not item:
            if i != last:
                errors.append(ParseError("syntax", "empty field (';;')",
                                         _fatal(profile.txt_empty_field, "skip")))
            continue
        if i == last and item != segment.lstrip(_WSP):
            errors.append(ParseError("trailing_whitespace", f"whitespace without ';' after "
                                     f"{_show(item)}", _fatal(profile.txt_trailing_wsp, "accept")))
        elif i != last and segment != segment.rstrip(_WSP):
            spaced = True
        if item == tag and version != tag:
            continue  # the displaced version field, already reported
        name, eq, value = item.partition("=")
        if not eq:
            errors.append(ParseError("field_invalid", f"field {_show(item)} is not name=value",
                                     _fatal(profile.txt_extension_abnf, "ignore")))
            continue
        fields.append((name, value))
    if spaced:
        errors.append(ParseError("space_before_semicolon", "whitespace before a ';'",
                                 _fatal(profile.txt_space_before_semicolon, "accept")))
    return fields


def _extension(name: str, value: str, extensions: dict[str, str],
               errors: list[ParseError], profile: SenderProfile) -> None:
    """Keep a valid extension field (the first of a name wins), or report it."""
    if _is_ext_name(name) and _is_ext_value(value):
        extensions.setdefault(name, value)
    else:
        shaped = ("shape",) if not any(c in _WSP for c in name) else ()
        errors.append(ParseError("field_invalid", f"invalid field {_show(name + '=' + value)}",
                                 _fatal(profile.txt_extension_abnf, "ignore", *shaped)))


def parse_sts_record(txt_strings: TxtStrings, profile: SenderProfile = RFC8461) -> StsRecord:
    """Parse one ``_mta-sts`` TXT record (RFC 8461 §3.1) given as its character-strings.

    ``id`` is the ``id=`` value the profile uses (the RFC: the first), as written even when
    invalid (the errors say so), so that snapshots can still compare ids. Extensions are kept,
    the first value of a name winning.
    """
    raw = _text(txt_strings)
    errors: list[ParseError] = []
    extensions: dict[str, str] = {}
    ids: list[str] = []
    fields = _record_fields(raw, STS_VERSION, errors, profile)
    for name, value in fields:
        if name == "id":
            ids.append(value)
            if not (0 < len(value) <= 32 and all(c in _ALNUM for c in value)):
                tolerated = ("any", "not_required") + (("any_nonempty",) if value else ())
                errors.append(ParseError("id_invalid", f"id {_show(value)}: not 1-32 ALPHA/DIGIT",
                                         _fatal(profile.txt_id_syntax, *tolerated)))
            if len(ids) == 2:
                errors.append(ParseError("id_duplicate", f"second id {_show(value)}",
                                         _fatal(profile.txt_duplicate_id, "first", "last")))
        else:
            _extension(name, value, extensions, errors, profile)
    if not ids:
        errors.append(ParseError("id_missing", "no id= field",
                                 _fatal(profile.txt_id_syntax, "not_required")))
    spaced = [v for _, v in fields if any(c in " \t=" for c in v)]
    value_wsp = _fatal(profile.txt_value_wsp, "accept")
    if spaced and value_wsp is not False and not any(e.fatal for e in errors):
        # only said where nothing else rejects the record (the RFC's id and extension ABNF do)
        errors.append(ParseError("field_invalid", f"whitespace or '=' in the value "
                                 f"{_show(spaced[0])}", value_wsp))
    chosen = ids[-1] if ids and profile.txt_duplicate_id == "last" else ids[0] if ids else None
    return StsRecord(raw=raw, id=chosen, extensions=extensions, errors=errors)


def _select(records: Sequence[TxtStrings], tag: str, parse: Callable[[TxtStrings], R],
            profile: SenderProfile = RFC8461) -> RecordSelection[R]:
    """RFC 8461 §3.1 / RFC 8460 §3: discard records not starting with ``tag``; one must remain.

    A profile may count a record with ``tag`` anywhere, after leading whitespace or in another
    letter case, take the first valid of several, or refuse a name that holds other records too
    (``txt_version_position``, ``txt_leading_wsp``, ``txt_multiple_records``,
    ``txt_other_records``).
    """
    anywhere = profile.txt_version_position == "anywhere"
    trim = _WSP if profile.txt_leading_wsp == "accept" else ""
    fold = _ASCII_LOWER if profile.txt_version_case == "insensitive" else {}
    candidates = [r for r in records
                  if _has_version(_text(r).lstrip(trim).translate(fold), tag.translate(fold))
                  or (anywhere and any(f.strip(_WSP) == tag for f in _text(r).split(";")))]
    discarded = len(records) - len(candidates)
    if candidates and discarded and profile.txt_other_records == "no_policy":
        return RecordSelection(None, len(candidates), discarded, "other_records")
    if len(candidates) == 1:
        return RecordSelection(parse(candidates[0]), 1, discarded, None)
    if candidates and profile.txt_multiple_records == "first_valid":
        parsed = [parse(r) for r in candidates]
        chosen = next((r for r in parsed if r.valid), parsed[0])
        return RecordSelection(chosen, len(candidates), discarded, None)
    reason = "no_record" if not candidates else "multiple_records"
    return RecordSelection(None, len(candidates), discarded, reason)


def select_sts_record(records: Sequence[TxtStrings],
                      profile: SenderProfile = RFC8461) -> RecordSelection[StsRecord]:
    """Select the STS record among the TXT records at ``_mta-sts.<domain>`` (RFC 8461 §3.1).

    A record is a candidate when its concatenated text starts with the version field
    ``v=STSv1`` ended by ``;``, SP/HTAB or the end of the text: ``v=STSv1;...`` and ``v=STSv1 ;``
    count, ``v=STSv10``, ``v=STSv1x``, `` v=STSv1`` (leading space) and ``V=STSv1`` do not. The
    RFC writes "begin with v=STSv1;", and the space before ``;`` is accepted (docs/classification.md
    "Decisions"). A single candidate is returned parsed (for ``profile``), even with errors.
    """
    return _select(records, STS_VERSION, lambda r: parse_sts_record(r, profile), profile)


def _is_ip_literal(text: str) -> bool:
    """What RFC 3986 allows between ``[`` and ``]``: an IPv6 address or IPvFuture (``v1.x``)."""
    if text[:1] in ("v", "V"):
        version, dot, rest = text[1:].partition(".")
        return (bool(version and dot and rest) and all(c in string.hexdigits for c in version)
                and all(c in _IPVFUTURE_REST for c in rest))
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_port(text: str) -> bool:
    """What may follow a host: nothing, or ``":" *DIGIT`` (RFC 3986 §3.2.3)."""
    return not text or (text[0] == ":" and all(c in string.digits for c in text[1:]))


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
        if host.startswith("["):  # IP-literal, then nothing or ":" port (RFC 3986 §3.2.2)
            literal, close, port = host[1:].partition("]")
            host = literal if close and _is_ip_literal(literal) and _is_port(port) else ""
        else:  # reg-name or IPv4address, then nothing or ":" port
            name, colon, port = host.partition(":")
            host = name if _is_port(colon + port) else ""
        if not host:
            return ParseError("rua_invalid_uri", f"{_show(uri)}: https URI without a host")
        return None
    return ParseError("rua_scheme", f"{_show(uri)}: scheme {_show(scheme)} is not mailto or https")


def parse_tlsrpt_record(txt_strings: TxtStrings) -> TlsRptRecord:
    """Parse one ``_smtp._tls`` TXT record (RFC 8460 §3) given as its character-strings.

    ``rua`` lists the URIs of every ``rua=`` field, in order (the ABNF lets ``tlsrpt-field``
    repeat; a repeat is ``rua_duplicate``, a warning), as written, invalid ones included (the
    errors name them), split on ``,`` with WSP around commas tolerated as the ABNF allows.
    """
    raw = _text(txt_strings)
    errors: list[ParseError] = []
    extensions: dict[str, str] = {}
    rua: list[str] | None = None
    for name, value in _record_fields(raw, TLSRPT_VERSION, errors, RFC8461):
        if name != "rua":
            _extension(name, value, extensions, errors, RFC8461)
            continue
        if rua is not None:
            errors.append(ParseError("rua_duplicate", "more than one rua= field (joined)", False))
        uris = [uri.strip(_WSP) for uri in value.split(",")]
        errors.extend(e for e in map(_uri_error, uris) if e is not None)
        rua = (rua or []) + uris
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
    if len(domain) > 253:  # an empty one is one empty label, refused below
        return False
    return all(0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"
               and all(c in _LDH for c in label) for label in domain.split("."))


def _decode_policy(body: bytes, errors: list[ParseError],
                   profile: SenderProfile = RFC8461) -> str:
    """Bytes to text: cap, BOM and UTF-8 checks, each reported, the rest still decoded.

    """
    if len(body) > POLICY_MAX_BYTES:
        errors.append(ParseError("too_large", f"{len(body)} bytes, over {POLICY_MAX_BYTES}"))
        body = body[:POLICY_MAX_BYTES]
        cut = body.rfind(b"\n")
        body = body[:cut + 1] if cut >= 0 else body
    if body.startswith(_BOM):
        errors.append(ParseError("bom", "the body starts with a UTF-8 byte order mark",
                                 _fatal(profile.bom, "strip", "first_field_lost")))
        body = body[len(_BOM):]
    if profile.charset == "ascii" and not body.isascii():
        errors.append(ParseError("non_ascii", "a byte outside ASCII (read as ASCII)"))
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        errors.append(ParseError("not_utf8", f"not UTF-8 at byte {e.start}"))
        return body.decode("utf-8", errors="replace")


def _is_ext_policy_value(value: str) -> bool:
    """sts-policy-ext-value: visible characters (UTF-8 allowed) and inner SP; not empty."""
    return bool(value) and all(c == " " or (c > " " and c != "\x7f") for c in value)


def _dropped_line(line: str, number: int, errors: list[ParseError],
                  profile: SenderProfile) -> None:
    """An indented line a profile reads as the unknown field ``' name'``: it is still a line,
    so a missing ``:`` or a second one is what that profile says of any line."""
    _, colon, value = line.partition(":")
    if not colon:
        errors.append(ParseError("syntax", f"line {number}: no ':' in {_show(line)}",
                                 _fatal(profile.line_without_colon, "skip", "swallow_next")))
    elif ":" in value and profile.colon_in_value != "accept":
        errors.append(ParseError("colon_in_value", f"line {number}: ':' in the value",
                                 _fatal(profile.colon_in_value, "accept")))


def _policy_lines(text: str, errors: list[ParseError],
                  profile: SenderProfile) -> list[tuple[str, str]]:
    """Split a policy into ``(key, value)`` pairs; lines end in LF or CRLF; trailing WSP ok.

    Blank lines, indented lines and lone CRs are reported (the ABNF has none of them); for the
    record of what is written they are read the lenient way (skipped, trimmed, a line break).
    """
    if "\r" in text.replace("\r\n", ""):
        errors.append(ParseError("lone_cr", "a CR not followed by LF ends a line",
                                 _fatal(profile.lone_cr, "line_end")))
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the one optional line break at the end
    pairs: list[tuple[str, str]] = []
    blank: list[int] = []
    swallow = False
    for number, line in enumerate(lines, start=1):
        line = line.removesuffix("\r").rstrip(_WSP)
        if not line:
            blank.append(number)
            continue
        if line[0] in _WSP:
            errors.append(ParseError("indented_line", f"line {number} starts with whitespace",
                                     _fatal(profile.indented_lines, "trim", "drop")))
            if profile.indented_lines == "drop":
                _dropped_line(line, number, errors, profile)
                continue  # read as the unknown field ' name': the field is lost
            line = line.lstrip(_WSP)
        key, colon, value = line.partition(":")
        value = value.lstrip(_WSP)
        if profile.field_name_case == "insensitive":
            key = key.translate(_ASCII_LOWER)
        if swallow:
            swallow = False
            if colon:
                continue  # the previous line without ':' took this field's name with it
        if not colon:
            errors.append(ParseError("syntax", f"line {number}: no ':' in {_show(line)}",
                                     _fatal(profile.line_without_colon, "skip", "swallow_next")))
            swallow = profile.line_without_colon == "swallow_next"
        elif not (0 < len(key) <= 32 and all(c in _POLICY_KEY for c in key)):
            errors.append(ParseError("syntax", f"line {number}: invalid field name {_show(key)}",
                                     _fatal(profile.field_name_abnf, "ignore")))
        elif key[0] not in _ALNUM:
            errors.append(ParseError("field_name_invalid", f"line {number}: field name "
                                     f"{_show(key)} does not start with a letter or digit",
                                     _fatal(profile.field_name_abnf, "ignore")))
        else:
            pairs.append((key, value))
    if blank:
        errors.append(ParseError("blank_line", f"{len(blank)} blank line(s), the first is line "
                                 f"{blank[0]}", _fatal(profile.blank_lines, "skip")))
    if profile.bom == "first_field_lost" and any(e.code == "bom" for e in errors) and pairs:
        pairs.pop(0)  # the first name is read with the BOM in front: an unknown field
    return pairs


#: What a profile with ``max_age_number: default`` (or ``missing_max_age: default``) uses.
DEFAULT_MAX_AGE = 86_400


def _lenient_int(value: str) -> int | None:
    """A signed decimal integer as Atoi/int() read one (``+1``), else None; SP and HTAB
    around it are trimmed (`` 1``, as int() does), other whitespace (VT, NBSP) is not WSP."""
    text = value.strip(_WSP)
    digits = text[1:] if text[:1] in ("+", "-") else text
    return int(text) if digits and digits.isascii() and digits.isdigit() else None


def _max_age(value: str, errors: list[ParseError], profile: SenderProfile) -> int | None:
    """sts-policy-max-age-value: 1*10 DIGIT, at most MAX_AGE_LIMIT; the number even if over."""
    if not (0 < len(value) <= 10 and all(c in string.digits for c in value)):
        lenient = _lenient_int(value)
        knob = profile.max_age_number
        tolerated = ("default",) + (("lenient",) if lenient is not None and lenient >= 0 else ())
        errors.append(ParseError("max_age_out_of_range",
                                 f"max_age {_show(value)} is not 1-10 digits",
                                 _fatal(knob, *tolerated)))
        if knob == "lenient" and lenient is not None and lenient >= 0:
            return lenient
        return DEFAULT_MAX_AGE if knob == "default" else None
    seconds = int(value)
    if seconds == 0 and profile.max_age_zero not in ("accept",):
        errors.append(ParseError("max_age_out_of_range", "max_age 0",
                                 _fatal(profile.max_age_zero, "accept")))
    if seconds > MAX_AGE_LIMIT:
        errors.append(ParseError("max_age_out_of_range",
                                 f"max_age {seconds} is over {MAX_AGE_LIMIT}",
                                 _fatal(profile.max_age_over_limit, "clamp", "accept")))
        if profile.max_age_over_limit == "clamp":
            return MAX_AGE_LIMIT
    return seconds


def _mx_error(value: str, profile: SenderProfile) -> ParseError | None:
    if _is_host_pattern(value):
        return None
    if value.endswith(".") and _is_host_pattern(value[:-1]):
        return ParseError("mx_trailing_dot", f"mx {_show(value)} ends with a dot",
                          _fatal(profile.mx_trailing_dot, "strip", "no_match", "kept"))
    return ParseError("mx_invalid", f"mx {_show(value)} is not a host pattern",
                      _fatal(profile.invalid_mx_pattern, "kept"))


def _not_a_policy(text: str) -> ParseError:
    """What a body without any policy field is: HTML, RTF, a pasted DNS record, or prose."""
    start = text.lstrip(" \t\n\f\r").lower()  # HTML's ASCII whitespace
    if start.startswith("<"):
        return ParseError("body_html", "the body is an HTML or XML document, not a policy")
    if start.startswith("{\\rtf"):
        return ParseError("body_rtf", "the body is an RTF document, not a policy")
    words = start.replace('"', " ").split()
    if start.lstrip('"').startswith(("v=stsv1", "v=tlsrptv1")) or any(
            w in ("txt", "mx") and i and words[i - 1] == "in" for i, w in enumerate(words)):
        return ParseError("body_dns_record", "the body is a DNS record, not a policy")
    return ParseError("body_prose", "the body has no policy field (text, not a policy)")


def parse_policy(body: bytes, profile: SenderProfile = RFC8461) -> Policy:
    """Parse a policy body (RFC 8461 §3.2) as fetched; a body over the cap is ``too_large``.

    Values are recorded as written even when invalid (``version``, ``mode``; ``max_age`` when it
    is 1-10 digits, even over the limit), the first one of a repeated singleton key winning (the
    last for a profile that keeps the last), so that rows still show what a domain publishes.
    Unknown keys go to ``extensions`` (first value wins) and are otherwise ignored.
    """
    errors: list[ParseError] = []
    text = _decode_policy(body, errors, profile)
    pairs = _policy_lines(text, errors, profile)
    if not pairs and not any(e.code == "syntax" for e in errors):
        errors = [e for e in errors if e.code != "blank_line"]
        errors.append(ParseError("empty", "the policy has no field"))
        return Policy(errors=errors)
    singles: dict[str, str] = {}
    mx: list[str] = []
    extensions: dict[str, str] = {}
    duplicate_fatal = _fatal(profile.duplicate_fields, "first", "last")
    repeated: set[str] = set()
    for key, value in pairs:
        if ":" in value and profile.colon_in_value != "accept":
            errors.append(ParseError("colon_in_value", f"field {key!r}: ':' in the value",
                                     _fatal(profile.colon_in_value, "accept")))
        if key == "mx":
            if value in ("", "*.") and profile.mx_empty_value == "dropped":
                continue  # not an mx at all for this sender (Stalwart's Policy::parse)
            mx.append(value)
            error = _mx_error(value, profile)
            if error is not None:
                errors.append(error)
            continue
        if key not in REQUIRED_POLICY_KEYS and not _is_ext_policy_value(value):
            errors.append(ParseError("extension_value_invalid",
                                     f"field {key!r}: value {_show(value)} is empty or has "
                                     "control characters",
                                     _fatal(profile.extension_value_abnf, "ignore")))
        if key in singles or key in extensions:
            if key not in repeated:
                repeated.add(key)
                errors.append(ParseError("duplicate_key", f"{key} given more than once",
                                         duplicate_fatal))
            if profile.duplicate_fields != "last":
                continue
        if key in REQUIRED_POLICY_KEYS:
            singles[key] = value
        else:
            extensions[key] = value
    if not any(k in singles for k in REQUIRED_POLICY_KEYS) and not mx:
        errors.append(_not_a_policy(text))
    version, mode, max_age = (singles.get(k) for k in REQUIRED_POLICY_KEYS)
    if version is None:
        errors.append(ParseError("version_missing", "no version field",
                                 _fatal(profile.missing_version, "accept")))
    elif version != "STSv1":
        case_only = version.translate(_ASCII_LOWER) == "stsv1"
        errors.append(ParseError("version_invalid", f"version {_show(version)} is not 'STSv1'",
                                 _fatal(profile.version_value_case, "insensitive")
                                 if case_only else True))
    if mode is None:
        errors.append(ParseError("mode_missing", "no mode field",
                                 _fatal(profile.missing_mode, "none")))
        mode = "none" if profile.missing_mode == "none" else None
    elif mode not in POLICY_MODES:
        folded = mode.translate(_ASCII_LOWER)
        case_only = folded in POLICY_MODES
        errors.append(ParseError("mode_invalid", f"mode {_show(mode)} is not one of "
                                                 "enforce, testing, none",
                                 _fatal(profile.mode_value_case, "insensitive")
                                 if case_only else True))
        mode = folded if case_only and profile.mode_value_case == "insensitive" else mode
    if max_age is None:
        errors.append(ParseError("max_age_missing", "no max_age field",
                                 _fatal(profile.missing_max_age, "default")))
        seconds = DEFAULT_MAX_AGE if profile.missing_max_age == "default" else None
    else:
        seconds = _max_age(max_age, errors, profile)
    if not mx and (mode in ("enforce", "testing")
                   or (mode == "none" and profile.mx_required_in_none != "no")):
        errors.append(ParseError("mx_missing", f"mode {mode} requires at least one mx",
                                 True if mode != "none" else _fatal(
                                     profile.mx_required_in_none, "no")))
    return Policy(version=version, mode=mode, max_age=seconds, mx=mx, extensions=extensions,
                  errors=errors)


def _host_labels(name: str) -> list[str] | None:
    """ASCII-lowercased labels without the root's trailing dot; None if any label is empty."""
    labels = name.translate(_ASCII_LOWER).removesuffix(".").split(".")
    return None if "" in labels else labels


def mx_matches(pattern: str, host: str, profile: SenderProfile = RFC8461) -> bool:
    """Whether MX host ``host`` matches policy ``mx`` pattern ``pattern`` (RFC 8461 §4.1).

    Case-insensitive (ASCII), one trailing dot on the host ignored (DNS names are absolute).
    A pattern ``parse_policy`` rejects (``mx_invalid``, ``mx_trailing_dot``) matches nothing,
    unless ``profile`` strips a trailing dot, or keeps invalid patterns (``invalid_mx_pattern``
    ``kept``: go-mtasts, chasquid, mailauth compare them as names, so ``mail_1.example.com``
    matches itself). ``*.`` at the start matches exactly one non-empty leftmost label:
    ``*.example.com`` matches ``a.example.com``, neither ``example.com`` nor
    ``a.b.example.com`` (any depth for a profile whose ``wildcard_depth`` says so). U-labels
    match nothing unless the profile's ``idna`` converts them to A-labels (the host only, or
    both sides). MX matching is per profile here; ``sender_outcomes`` does not use it.
    """
    if profile.mx_trailing_dot == "strip" and pattern.endswith("."):
        pattern = pattern[:-1]
    if profile.idna in ("host_a_labels", "a_labels") and not host.isascii():
        host = a_labels(host) or ""
    if profile.idna == "a_labels" and not pattern.isascii():
        pattern = a_labels(pattern) or ""
    if not _is_host_pattern(pattern) and (pattern.endswith(".")
                                          or profile.invalid_mx_pattern != "kept"):
        return False
    p, h = _host_labels(pattern), _host_labels(host)
    if p is None or h is None:
        return False
    if p[0] == "*" and len(p) > 1:
        if profile.wildcard_depth == "any_depth":  # mailauth: a suffix match on ".example.com"
            return len(h) >= len(p) and h[len(h) - len(p) + 1:] == p[1:]
        return len(h) == len(p) and h[1:] == p[1:]
    return p == h
