"""Sender profiles: how deployed MTA-STS implementations treat the constructs where they part ways.

Data only. Each ``SenderProfile`` sets one knob per construct on which implementations differ
(RFC 8461/8460 leave room, or an implementation departs from the letter), and names for every knob
the code or test that shows the behaviour (``sources``: ``"owner/repo path: function or test"``).
``"unknown"`` is a legal knob value and source: closed implementations (Gmail, Microsoft) are
never guessed. ``survey.core.outcomes`` applies a profile to a domain's evidence; ``rfc8461``, the
RFC's letter, is first and is the profile behind ``status``.

Knob values (``"unknown"`` everywhere means: not established, the outcome then is unknown when
the construct occurs):

``_mta-sts`` TXT record (RFC 8461 §3.1)
    txt_trailing_wsp        ``"v=STSv1; id=1 "``: WSP at the end, no ``;`` (the ABNF has no
                            such WSP): accept | reject
    txt_space_before_semicolon  ``"v=STSv1 ;id=1"`` (erratum 6285): accept | reject
    txt_duplicate_id        two ``id=`` fields: first | last | reject
    txt_extension_abnf      a malformed extension field (``"x"``, ``"_x=1"``, ``"x="``):
                            enforce (reject the record) | ignore | shape (only a field that is
                            not name=value, or has WSP in its name, rejects the record; names
                            and values are not checked against the ABNF)
Policy fetch (§3.3)
    content_type            a policy not served as ``text/plain``: ignore | reject
    redirects               a 3xx answer: reject | follow
    body_cap                bytes read at most; a longer body is rejected (an int, or None
                            for no cap, or ``"unknown"``)
Policy text (§3.2)
    duplicate_fields        a non-``mx`` field given twice: first | last | reject
    blank_lines             an empty line (the ABNF has none): skip | reject
    indented_lines          a line starting with SP/HTAB: trim | reject | drop (read as an
                            unknown field ``' mode'``: the field is lost)
    lone_cr                 a CR not followed by LF: line_end (a line break) | reject
    missing_max_age         no ``max_age`` line: reject | default (a built-in max_age)
    max_age_over_limit      ``max_age`` over 31557600: reject | clamp | accept
    mx_trailing_dot         ``mx: mail.example.com.``: reject | strip (then it matches) |
                            no_match (the policy applies, the pattern is compared verbatim) |
                            kept (the policy applies; the pattern goes on as written to a
                            matcher that is not the sender's own: Postfix for pmsr)
    field_name_abnf         a field name not starting with ALPHA/DIGIT (``_x: 1``): enforce
                            (reject the policy) | ignore (an unknown field)
    extension_value_abnf    an unknown field's value empty or outside the ABNF (``x:``):
                            enforce (reject the policy) | ignore
Found by research (/work/notes/senders_research.md "NEW KNOBS"):
    txt_multiple_records    several ``v=STSv1`` records: no_policy | first_valid
    txt_other_records       another TXT record beside the STS one: ignored | no_policy
    txt_version_position    ``id=1; v=STSv1``: first (not a record) | anywhere
    txt_empty_field         ``v=STSv1;; id=1``: reject | skip
    txt_id_syntax           the id: abnf | any_nonempty | any | not_required
    http_status             statuses whose body is parsed: 200_only | any_2xx | any
    body_overflow           a body over ``body_cap``: reject | truncate (the start is parsed)
    line_without_colon      a line without ``:``: reject | skip | swallow_next (the next field is
                            lost with it)
    colon_in_value          ``ext: https://x``: accept | reject
    field_name_case         ``Mode: enforce``: sensitive | insensitive
    mode_value_case         ``mode: Enforce``: sensitive | insensitive
    version_value_case      ``version: stsv1``: sensitive | insensitive
    missing_version         no ``version`` line: reject | accept
    missing_mode            no ``mode`` line: reject | none (applied as mode none)
    mx_required_in_none     mode none without ``mx``: no | yes (rejected)
    max_age_zero            ``max_age: 0``: accept | reject
    max_age_number          ``+86400``, ``1e5``, empty: abnf (reject) | lenient (signed
                            integers) | default (a built-in max_age)
    invalid_mx_pattern      ``mx: *.*.example``: reject_policy | kept (the policy applies;
                            ``mx_matches`` compares such a pattern as a name)
    wildcard_depth          ``*.example.com`` vs ``a.b.example.com``: one_label | any_depth
                            (``mx_matches`` per profile; MX matching is not part of
                            ``sender_outcomes``)
    charset                 non-ASCII bytes: utf8 | ascii (any non-ASCII byte rejects)
    bom                     a leading UTF-8 BOM: reject | strip | first_field_lost
    txt_value_wsp           ``v=STSv1; id=foo include=x``: WSP or a second ``=`` inside a TXT
                            field's value: accept | reject (only asked where the id and
                            extension rules let the record through)
    idna                    U-labels in MX matching (``ñaca.com``, ``x.xn--aca-6ma.com`` vs
                            ``x.ñaca.com``): ascii (names compared as ASCII: a U-label on either
                            side matches nothing) | host_a_labels (a U-label host is converted
                            to A-labels; patterns are compared as written) | a_labels (both
                            converted to one IDNA form, Unicode case folded)
    txt_leading_wsp         `` v=STSv1; id=1`` (whitespace before the version): reject (not a
                            record) | accept (trimmed)
    txt_version_case        ``V=STSv1``, ``v=stsv1``: sensitive (not a record) | insensitive
    txt_version_delimiter   what must follow ``v=STSv1``: abnf (``*WSP ";"``, as the other knobs
                            say) | exact (the record must begin ``v=STSv1;``: chasquid reads
                            nothing else)
    mx_empty_value          ``mx:`` with an empty value (or ``mx: *.``): kept (an mx field, judged
                            by invalid_mx_pattern) | dropped (not counted: a policy whose only mx
                            is empty has no mx)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

Unknown = Literal["unknown"]
AcceptReject = Literal["accept", "reject", "unknown"]
Duplicates = Literal["first", "last", "reject", "unknown"]
Abnf = Literal["enforce", "ignore", "unknown"]
Case = Literal["sensitive", "insensitive", "unknown"]

#: The knob fields of ``SenderProfile``, in the order the docs list them.
KNOBS: tuple[str, ...] = (
    "txt_trailing_wsp", "txt_space_before_semicolon", "txt_duplicate_id", "txt_extension_abnf",
    "content_type", "redirects", "body_cap",
    "duplicate_fields", "blank_lines", "indented_lines", "lone_cr", "missing_max_age",
    "max_age_over_limit", "mx_trailing_dot", "field_name_abnf", "extension_value_abnf",
    "txt_multiple_records", "txt_other_records", "txt_version_position", "txt_empty_field",
    "txt_id_syntax", "http_status", "body_overflow", "line_without_colon", "colon_in_value",
    "field_name_case", "mode_value_case", "version_value_case", "missing_version",
    "missing_mode", "mx_required_in_none", "max_age_zero", "max_age_number",
    "invalid_mx_pattern", "wildcard_depth", "charset", "bom", "txt_value_wsp",
    "idna", "mx_empty_value", "txt_leading_wsp", "txt_version_case", "txt_version_delimiter",
)


@dataclass(frozen=True, slots=True)
class SenderProfile:
    """One sender implementation's behaviour on each contested construct (module docstring)."""

    name: str  # "rfc8461", "mox", "postfix-mta-sts-resolver", ...
    txt_trailing_wsp: AcceptReject
    txt_space_before_semicolon: AcceptReject
    txt_duplicate_id: Duplicates
    txt_extension_abnf: Literal["enforce", "ignore", "shape", "unknown"]
    content_type: Literal["ignore", "reject", "unknown"]
    redirects: Literal["reject", "follow", "unknown"]
    body_cap: int | Unknown | None
    duplicate_fields: Duplicates
    blank_lines: Literal["skip", "reject", "unknown"]
    indented_lines: Literal["trim", "reject", "drop", "unknown"]
    lone_cr: Literal["line_end", "reject", "unknown"]
    missing_max_age: Literal["reject", "default", "unknown"]
    max_age_over_limit: Literal["reject", "clamp", "accept", "unknown"]
    mx_trailing_dot: Literal["reject", "strip", "no_match", "kept", "unknown"]
    field_name_abnf: Abnf
    extension_value_abnf: Abnf
    txt_multiple_records: Literal["no_policy", "first_valid", "unknown"]
    txt_other_records: Literal["ignored", "no_policy", "unknown"]
    txt_version_position: Literal["first", "anywhere", "unknown"]
    txt_empty_field: Literal["reject", "skip", "unknown"]
    txt_id_syntax: Literal["abnf", "any_nonempty", "any", "not_required", "unknown"]
    http_status: Literal["200_only", "any_2xx", "any", "unknown"]
    body_overflow: Literal["reject", "truncate", "unknown"]
    line_without_colon: Literal["reject", "skip", "swallow_next", "unknown"]
    colon_in_value: AcceptReject
    field_name_case: Case
    mode_value_case: Case
    version_value_case: Case
    missing_version: AcceptReject
    missing_mode: Literal["reject", "none", "unknown"]
    mx_required_in_none: Literal["no", "yes", "unknown"]
    max_age_zero: AcceptReject
    max_age_number: Literal["abnf", "lenient", "default", "unknown"]
    invalid_mx_pattern: Literal["reject_policy", "kept", "unknown"]
    wildcard_depth: Literal["one_label", "any_depth", "unknown"]
    charset: Literal["utf8", "ascii", "unknown"]
    bom: Literal["reject", "strip", "first_field_lost", "unknown"]
    txt_value_wsp: AcceptReject
    idna: Literal["ascii", "host_a_labels", "a_labels", "unknown"]
    mx_empty_value: Literal["kept", "dropped", "unknown"]
    txt_leading_wsp: AcceptReject
    txt_version_case: Case
    txt_version_delimiter: Literal["abnf", "exact", "unknown"]
    #: knob -> where the behaviour is shown ("owner/repo path: function or test"), or "unknown"
    sources: Mapping[str, str]
    #: free text: version or commit read, caveats
    notes: str = ""

    def knob(self, name: str) -> object:
        """The value of knob ``name`` (one of ``KNOBS``)."""
        if name not in KNOBS:
            raise KeyError(name)
        return getattr(self, name)


def knob_names() -> tuple[str, ...]:
    """The knob fields as the dataclass declares them (a test holds ``KNOBS`` to it)."""
    meta = ("name", "sources", "notes")
    return tuple(f.name for f in fields(SenderProfile) if f.name not in meta)


_RFC = "RFC 8461"

#: The RFC's letter: what a sender following RFC 8461 (with errata 6253 and 6285) to the letter
#: does. ``status`` is this profile's verdict.
RFC8461 = SenderProfile(
    name="rfc8461",
    txt_trailing_wsp="reject",
    txt_space_before_semicolon="accept",
    txt_duplicate_id="first",
    txt_extension_abnf="enforce",
    content_type="ignore",
    redirects="reject",
    body_cap=64 * 1024,
    duplicate_fields="first",
    blank_lines="reject",
    indented_lines="reject",
    lone_cr="reject",
    missing_max_age="reject",
    max_age_over_limit="reject",
    mx_trailing_dot="reject",
    field_name_abnf="enforce",
    extension_value_abnf="enforce",
    txt_multiple_records="no_policy",
    txt_other_records="ignored",
    txt_version_position="first",
    txt_empty_field="reject",
    txt_id_syntax="abnf",
    http_status="200_only",
    body_overflow="reject",
    line_without_colon="reject",
    colon_in_value="accept",
    field_name_case="sensitive",
    mode_value_case="sensitive",
    version_value_case="sensitive",
    missing_version="reject",
    missing_mode="reject",
    mx_required_in_none="no",
    max_age_zero="accept",
    max_age_number="abnf",
    invalid_mx_pattern="reject_policy",
    wildcard_depth="one_label",
    charset="utf8",
    bom="reject",
    txt_value_wsp="reject",
    idna="ascii",
    mx_empty_value="kept",
    txt_leading_wsp="reject",
    txt_version_case="sensitive",
    txt_version_delimiter="abnf",
    sources={
        "txt_trailing_wsp": f"{_RFC} §3.1: sts-text-record ABNF ends in [sts-field-delim]",
        "txt_space_before_semicolon": f"{_RFC} §3.1: sts-field-delim = *WSP \";\" *WSP "
                                      "(erratum 6285)",
        "txt_duplicate_id": f"{_RFC} §3.2: \"all entries except for the first SHALL be ignored\"",
        "txt_extension_abnf": f"{_RFC} §3.1: sts-ext-name, sts-ext-value",
        "content_type": f"{_RFC} §3.2: the policy is text/plain (SHOULD for the server; no "
                        "MUST for the sender to check)",
        "redirects": f"{_RFC} §3.3: \"MUST NOT follow HTTP redirects\"",
        "body_cap": f"{_RFC} §3.3 leaves the cap to the sender; 64 KiB (POLICY_MAX_BYTES)",
        "duplicate_fields": f"{_RFC} §3.2: \"all entries except for the first SHALL be ignored\"",
        "blank_lines": f"{_RFC} §3.2: sts-policy-record ABNF has no empty line",
        "indented_lines": f"{_RFC} §3.2: a field starts with its name (no leading WSP)",
        "lone_cr": f"{_RFC} §3.2: sts-policy-term = LF / CRLF (erratum 6253)",
        "missing_max_age": f"{_RFC} §3.2: max_age is required",
        "max_age_over_limit": f"{_RFC} §3.2: \"maximum value of 31557600\"",
        "mx_trailing_dot": f"{_RFC} §3.2: sts-policy-mx-value = [\"*.\"] Domain (RFC 5321 "
                           "Domain has no trailing dot)",
        "field_name_abnf": f"{_RFC} §3.2: sts-policy-ext-name = (ALPHA / DIGIT) *31(...)",
        "extension_value_abnf": f"{_RFC} §3.2: sts-policy-ext-value = 1 or more sts-policy-vchar",
        "txt_multiple_records": "RFC 8461 §3.1: \"If the number of resulting records is not one, "
                                "senders MUST assume the recipient domain does not have an "
                                "available MTA-STS policy\"",
        "txt_other_records": "RFC 8461 §3.1: records not starting with v=STSv1 are discarded",
        "txt_version_position": "RFC 8461 §3.1: sts-text-record starts with sts-version",
        "txt_empty_field": "RFC 8461 §3.1: sts-field-delim between fields, no empty field",
        "txt_id_syntax": "RFC 8461 §3.1: sts-id = %s\"id=\" 1*32(ALPHA / DIGIT)",
        "http_status": "RFC 8461 §3.3: \"only valid if the HTTP response code is 200\"",
        "body_overflow": "RFC 8461 §3.3: a body the sender does not read in full is no policy",
        "line_without_colon": "RFC 8461 §3.2: every line of sts-policy-record is a field",
        "colon_in_value": "RFC 8461 §3.2: sts-policy-vchar includes ':'",
        "field_name_case": "RFC 8461 §3.2: %s\"version\", %s\"mode\", ... (case-sensitive)",
        "mode_value_case": "RFC 8461 §3.2: sts-policy-mode-value = %s\"testing\" / ...",
        "version_value_case": "RFC 8461 §3.2: sts-policy-version-value = %s\"STSv1\"",
        "missing_version": "RFC 8461 §3.2: version is required",
        "missing_mode": "RFC 8461 §3.2: mode is required",
        "mx_required_in_none": "RFC 8461 §3.2: mx is required \"except when mode is none\"",
        "max_age_zero": "RFC 8461 §3.2: sts-policy-max-age-value = 1*10DIGIT (0 allowed)",
        "max_age_number": "RFC 8461 §3.2: sts-policy-max-age-value = 1*10DIGIT",
        "invalid_mx_pattern": "RFC 8461 §3.2: sts-policy-mx-value = [\"*.\"] Domain",
        "wildcard_depth": "RFC 8461 §4.1: the wildcard matches exactly one label",
        "charset": "RFC 8461 §3.2: sts-policy-vchar includes UTF-8",
        "bom": "RFC 8461 §3.2: the first field name is version (no BOM before it)",
        "txt_value_wsp": "RFC 8461 §3.1: sts-id and sts-ext-value exclude SP, HTAB and \"=\"",
        "idna": "RFC 8461 §3.2: sts-policy-mx-value = [\"*.\"] Domain, RFC 5321 Domain "
                "is LDH labels (A-labels; U-labels are not allowed)",
        "mx_empty_value": "RFC 8461 §3.2: each mx field is an sts-policy-mx-value; an empty one is "
                          "an invalid pattern (invalid_mx_pattern)",
        "txt_leading_wsp": f"{_RFC} §3.1: records that do not begin with \"v=STSv1;\" are "
                           "discarded",
        "txt_version_case": f"{_RFC} §3.1: sts-version = %s\"v=STSv1\" (case-sensitive)",
        "txt_version_delimiter": f"{_RFC} §3.1: sts-text-record = sts-version "
                                 "1*(sts-sep sts-field), sts-sep = *WSP %x3B *WSP",
    },
    notes="RFC 8461 with errata 6253 (LF or CRLF) and 6285 (WSP before ';').",
)

#: Every profile, the RFC's letter first. Entries after it are filled from the implementations'
#: code and tests (``senders`` research, /work/notes/senders_research.md).
_MOX = "mjl-/mox mtasts/"
_MOX_NOTES = "mjl-/mox @ 1c9587665b32 (2026-08-19), package mtasts."

#: mox: a strict hand-written ABNF parser; the one implementation that rejects whatever the ABNF
#: lacks (including trailing WSP in the TXT record), but keeps the first of a duplicated field.
MOX = SenderProfile(
    name="mox",
    txt_trailing_wsp="reject",
    txt_space_before_semicolon="accept",
    txt_duplicate_id="reject",
    txt_extension_abnf="enforce",
    content_type="ignore",
    redirects="reject",
    body_cap=64 * 1024,
    duplicate_fields="first",
    blank_lines="reject",
    indented_lines="reject",
    lone_cr="reject",
    missing_max_age="reject",
    max_age_over_limit="accept",
    mx_trailing_dot="reject",
    field_name_abnf="enforce",
    extension_value_abnf="enforce",
    txt_multiple_records="no_policy",
    txt_other_records="ignored",
    txt_version_position="first",
    txt_empty_field="reject",
    txt_id_syntax="abnf",
    http_status="200_only",
    body_overflow="reject",
    line_without_colon="reject",
    colon_in_value="accept",
    field_name_case="sensitive",
    mode_value_case="sensitive",
    version_value_case="sensitive",
    missing_version="reject",
    missing_mode="reject",
    mx_required_in_none="no",
    max_age_zero="accept",
    max_age_number="abnf",
    invalid_mx_pattern="reject_policy",
    wildcard_depth="one_label",
    charset="utf8",
    bom="reject",
    txt_value_wsp="reject",
    idna="host_a_labels",
    mx_empty_value="kept",
    txt_leading_wsp="reject",
    txt_version_case="sensitive",
    txt_version_delimiter="abnf",
    sources={
        "txt_trailing_wsp": f"{_MOX}parse.go: ParseRecord (delim() needs ';', then "
                            "\"leftover characters\")",
        "txt_space_before_semicolon": f"{_MOX}parse_test.go: TestRecord good "
                                      "\"v=STSv1; \\t id=20160831085700Z  \\t;\"",
        "txt_duplicate_id": f"{_MOX}parse.go: ParseRecord (a repeated id is not consumed: "
                            "leftover characters)",
        "txt_extension_abnf": f"{_MOX}parse_test.go: TestRecord bad \"v=STSv1; id=a; more=\", "
                              "\"1%=a\"",
        "content_type": f"{_MOX}mtasts.go: FetchPolicy (\"We don't look at Content-Type\")",
        "redirects": f"{_MOX}mtasts.go: HTTPClient.CheckRedirect",
        "body_cap": f"{_MOX}mtasts.go: FetchPolicy (moxio.LimitReader 64 KiB, ErrLimit)",
        "duplicate_fields": f"{_MOX}parse.go: ParsePolicy (\"only the first must be used\", "
                            "if !dup)",
        "blank_lines": f"{_MOX}parse.go: ParsePolicy (xkey on an empty line fails)",
        "indented_lines": f"{_MOX}parse.go: ParsePolicy (xkey: a name starts with ALPHA/DIGIT)",
        "lone_cr": f"{_MOX}parse.go: parser.eol (\"\\n\" or \"\\r\\n\" only)",
        "missing_max_age": f"{_MOX}parse_test.go: TestParsePolicy bad "
                           "\"version:STSv1\\nmode:none\"",
        "max_age_over_limit": f"{_MOX}parse.go: parser.xmaxage (10 digits, ParseInt 32-bit, "
                              "no 31557600 check); mtastsdb/db.go: Upsert",
        "mx_trailing_dot": f"{_MOX}parse.go: parser.xdomain (a '.' must be followed by a label)",
        "field_name_abnf": f"{_MOX}parse_test.go: TestParsePolicy bad \"_bad:test\"",
        "extension_value_abnf": f"{_MOX}parse_test.go: TestParsePolicy bad \"ext:\"",
        "txt_multiple_records": "mjl-/mox mtasts/mtasts.go: LookupRecord ErrMultipleRecords "
                                "(TestLookup multiple.example)",
        "txt_other_records": "mjl-/mox mtasts/mtasts.go: LookupRecord (!ismtasts -> continue; "
                             "TestLookup one.example)",
        "txt_version_position": "mjl-/mox mtasts/parse.go: ParseRecord (xtake(\"v=STSv1\") first)",
        "txt_empty_field": "mjl-/mox mtasts/parse_test.go: TestRecord bad \"v=STSv1; id=a;;\"",
        "txt_id_syntax": "mjl-/mox mtasts/parse_test.go: TestRecord bad id=test-123, too long, "
                         "empty",
        "http_status": "mjl-/mox mtasts/mtasts.go: FetchPolicy (404 -> ErrNoPolicy, other -> "
                       "ErrPolicyFetch)",
        "body_overflow": "mjl-/mox moxio/limitreader.go: ErrLimit -> FetchPolicy error",
        "line_without_colon": "mjl-/mox mtasts/parse.go: ParsePolicy (xkey/xtake(\":\"))",
        "colon_in_value": "mjl-/mox mtasts/parse.go: ParsePolicy (extension value takes the rest "
                          "of the line)",
        "field_name_case": "mjl-/mox mtasts/parse.go: ParsePolicy (switch on exact key)",
        "mode_value_case": "mjl-/mox mtasts/parse.go: ParsePolicy (exact mode strings)",
        "version_value_case": "mjl-/mox mtasts/parse.go: ParsePolicy (xtake(\"STSv1\"))",
        "missing_version": "mjl-/mox mtasts/parse.go: ParsePolicy (version must be first)",
        "missing_mode": "mjl-/mox mtasts/parse.go: ParsePolicy (missing mode error)",
        "mx_required_in_none": "mjl-/mox mtasts/parse_test.go: TestParsePolicy good "
                               "\"version:STSv1\\nmode:none\"",
        "max_age_zero": "mjl-/mox mtasts/parse_test.go: TestParsePolicy good max_age: 0",
        "max_age_number": "mjl-/mox mtasts/parse.go: ParsePolicy (xnumber: digits only)",
        "invalid_mx_pattern": "mjl-/mox mtasts/parse_test.go: TestParsePolicy bad "
                              "\"mx:*.*.example\", \"mx:\"",
        "wildcard_depth": "mjl-/mox mtasts/mtasts_test.go: TestMatches sub.sub.b.example",
        "charset": "mjl-/mox mtasts/parse.go: ParsePolicy (UTF-8 string)",
        "bom": "mjl-/mox mtasts/parse.go: ParsePolicy (xkey fails on a BOM)",
        "txt_value_wsp": f"{_MOX}parse.go: ParseRecord (the id and extension values exclude "
                         "SP and '='; run on 'v=STSv1; id=a b', '...; x=a b', '...; x=a=b': "
                         "rejected)",
        "idna": "mjl-/mox mtasts/parse.go: parser.xsubdomain (\"domain must be specified "
                "in A labels\": a U-label pattern rejects the policy); mtasts/mtasts.go: "
                "Policy.Matches compares dns.Domain values (dns/dns.go ParseDomain: "
                "idna.Lookup.ToASCII)",
        "mx_empty_value": "mjl-/mox mtasts/parse_test.go: TestParsePolicy bad \"mx:\" (an empty "
                          "value is a bad pattern)",
        "txt_leading_wsp": f"{_MOX}parse.go: ParseRecord (p.xtake(\"v=STSv1\") at the first "
                           "character: not a record)",
        "txt_version_case": f"{_MOX}parse.go: ParseRecord (p.xtake(\"v=STSv1\"))",
        "txt_version_delimiter": f"{_MOX}parse.go: ParseRecord (p.xdelim() skips WSP around ';')",
    },
    notes=_MOX_NOTES + " max_age over 2147483647 fails ParseInt (rejected).",
)

_PMSR = "Snawoot/postfix-mta-sts-resolver "

#: postfix-mta-sts-resolver: a dict-based line splitter, strict on the fetch (text/plain, 200,
#: 64 KiB), lenient on the text (unknown lines ignored, the last of a field wins).
POSTFIX_MTA_STS_RESOLVER = SenderProfile(
    name="postfix-mta-sts-resolver",
    txt_trailing_wsp="accept",
    txt_space_before_semicolon="accept",
    txt_duplicate_id="last",
    txt_extension_abnf="ignore",
    content_type="reject",
    redirects="reject",
    body_cap=64 * 1024,
    duplicate_fields="last",
    blank_lines="skip",
    indented_lines="drop",
    lone_cr="line_end",
    missing_max_age="reject",
    max_age_over_limit="reject",
    mx_trailing_dot="kept",
    field_name_abnf="ignore",
    extension_value_abnf="ignore",
    txt_multiple_records="no_policy",
    txt_other_records="ignored",
    txt_version_position="first",
    txt_empty_field="skip",
    txt_id_syntax="any",
    http_status="200_only",
    body_overflow="reject",
    line_without_colon="skip",
    colon_in_value="accept",
    field_name_case="sensitive",
    mode_value_case="sensitive",
    version_value_case="sensitive",
    missing_version="reject",
    missing_mode="reject",
    mx_required_in_none="no",
    max_age_zero="accept",
    max_age_number="lenient",
    invalid_mx_pattern="kept",
    wildcard_depth="unknown",
    charset="ascii",
    bom="reject",
    txt_value_wsp="accept",
    idna="unknown",
    mx_empty_value="kept",
    txt_leading_wsp="reject",
    txt_version_case="sensitive",
    txt_version_delimiter="abnf",
    sources={
        "txt_trailing_wsp": f"{_PMSR}tests/test_utils.py: test_parse_mta_sts_record "
                            "\"v=STSv1;        id=20160831085700Z   \"",
        "txt_space_before_semicolon": f"{_PMSR}postfix_mta_sts_resolver/resolver.py: "
                                      "STSResolver.resolve (startswith('v=STSv1')) + "
                                      "utils.py: parse_mta_sts_record (fields stripped)",
        "txt_duplicate_id": f"{_PMSR}postfix_mta_sts_resolver/utils.py: parse_mta_sts_record "
                            "(a dict: the last wins)",
        "txt_extension_abnf": f"{_PMSR}postfix_mta_sts_resolver/utils.py: "
                              "parse_mta_sts_record (only v and id are read)",
        "content_type": f"{_PMSR}postfix_mta_sts_resolver/utils.py: is_plaintext; "
                        "tests/nginx.conf bad-policy3 (text/html) -> FETCH_ERROR",
        "redirects": f"{_PMSR}postfix_mta_sts_resolver/resolver.py: STSResolver.resolve "
                     "(allow_redirects=False, status != 200 -> BadSTSPolicy)",
        "body_cap": f"{_PMSR}postfix_mta_sts_resolver/constants.py: HARD_RESP_LIMIT; "
                    "tests/test_resolver.py: static-overlength, chunked-overlength",
        "duplicate_fields": f"{_PMSR}postfix_mta_sts_resolver/utils.py: parse_mta_sts_policy "
                            "(res[key] = value: the last wins)",
        "blank_lines": f"{_PMSR}postfix_mta_sts_resolver/utils.py: parse_mta_sts_policy "
                       "(an empty line is key '')",
        "indented_lines": f"{_PMSR}postfix_mta_sts_resolver/utils.py: parse_mta_sts_policy "
                          "(the key is not stripped: ' mode' is an unknown key, the field lost)",
        "lone_cr": f"{_PMSR}postfix_mta_sts_resolver/utils.py: parse_mta_sts_policy "
                   "(str.splitlines splits on CR)",
        "missing_max_age": f"{_PMSR}postfix_mta_sts_resolver/resolver.py: STSResolver.resolve "
                           "(int(pol.get('max_age', '-1')) out of range)",
        "max_age_over_limit": f"{_PMSR}tests/nginx.conf bad-policy6 (max_age: 31557601) -> "
                              "FETCH_ERROR",
        "mx_trailing_dot": f"{_PMSR}postfix_mta_sts_resolver/resolver.py: STSResolver.resolve "
                           "checks no mx value (the policy applies: 263.txt, run through it); "
                           "responder.py hands the pattern verbatim to Postfix 'secure match=', "
                           "which checks certificate names (how Postfix treats the dot is not "
                           "established here)",
        "field_name_abnf": f"{_PMSR}postfix_mta_sts_resolver/utils.py: parse_mta_sts_policy "
                           "(unknown keys ignored)",
        "extension_value_abnf": f"{_PMSR}postfix_mta_sts_resolver/utils.py: "
                                "parse_mta_sts_policy (unknown keys ignored)",
        "txt_multiple_records": "Snawoot/postfix-mta-sts-resolver "
                                "postfix_mta_sts_resolver/resolver.py: STSResolver.resolve "
                                "(len(txt_records) != 1)",
        "txt_other_records": "Snawoot/postfix-mta-sts-resolver "
                             "postfix_mta_sts_resolver/resolver.py: STSResolver.resolve "
                             "(startswith filter)",
        "txt_version_position": "Snawoot/postfix-mta-sts-resolver "
                                "postfix_mta_sts_resolver/resolver.py: STSResolver.resolve "
                                "(startswith('v=STSv1'))",
        "txt_empty_field": "Snawoot/postfix-mta-sts-resolver tests/test_utils.py: "
                           "test_parse_mta_sts_record \"...;;;\"",
        "txt_id_syntax": "Snawoot/postfix-mta-sts-resolver postfix_mta_sts_resolver/resolver.py: "
                         "STSResolver.resolve ('id' in mta_sts_record)",
        "http_status": "Snawoot/postfix-mta-sts-resolver tests/nginx.conf bad-policy4: 404 -> "
                       "FETCH_ERROR",
        "body_overflow": "Snawoot/postfix-mta-sts-resolver tests/test_resolver.py: "
                         "static-overlength, chunked-overlength",
        "line_without_colon": "Snawoot/postfix-mta-sts-resolver "
                              "postfix_mta_sts_resolver/utils.py: parse_mta_sts_policy (lines "
                              "without ':' ignored)",
        "colon_in_value": "Snawoot/postfix-mta-sts-resolver postfix_mta_sts_resolver/utils.py: "
                          "parse_mta_sts_policy (split(':', 1))",
        "field_name_case": "Snawoot/postfix-mta-sts-resolver postfix_mta_sts_resolver/utils.py: "
                           "parse_mta_sts_policy (exact keys)",
        "mode_value_case": "Snawoot/postfix-mta-sts-resolver tests/nginx.conf bad-policy8 "
                           "(unknown mode -> FETCH_ERROR)",
        "version_value_case": "Snawoot/postfix-mta-sts-resolver "
                              "postfix_mta_sts_resolver/utils.py: parse_mta_sts_policy (== "
                              "'STSv1')",
        "missing_version": "Snawoot/postfix-mta-sts-resolver postfix_mta_sts_resolver/utils.py: "
                           "parse_mta_sts_policy",
        "missing_mode": "Snawoot/postfix-mta-sts-resolver postfix_mta_sts_resolver/utils.py: "
                        "parse_mta_sts_policy",
        "mx_required_in_none": "Snawoot/postfix-mta-sts-resolver tests/nginx.conf valid-none.loc",
        "max_age_zero": "Snawoot/postfix-mta-sts-resolver postfix_mta_sts_resolver/utils.py: "
                        "parse_mta_sts_policy (0 <= max_age)",
        "max_age_number": "Snawoot/postfix-mta-sts-resolver postfix_mta_sts_resolver/utils.py: "
                          "parse_mta_sts_policy (int(): '+1', ' 1', '1_0')",
        "invalid_mx_pattern": "Snawoot/postfix-mta-sts-resolver "
                              "postfix_mta_sts_resolver/utils.py: parse_mta_sts_policy (mx "
                              "unchecked)",
        "wildcard_depth": "unknown: Snawoot/postfix-mta-sts-resolver responder.py hands "
                          "'match=.example.com' to Postfix, which checks certificate names",
        "charset": "Snawoot/postfix-mta-sts-resolver postfix_mta_sts_resolver/resolver.py: decode "
                   "with the Content-Type charset, ASCII by default",
        "bom": "Snawoot/postfix-mta-sts-resolver: a BOM is non-ASCII under the default ASCII "
               "charset",
        "txt_value_wsp": f"{_PMSR}postfix_mta_sts_resolver/utils.py: parse_mta_sts_record "
                         "(the value is stripped, not checked; run on 'v=STSv1; id=a b': "
                         "accepted)",
        "idna": "unknown: Snawoot/postfix-mta-sts-resolver responder.py hands the "
                "patterns to Postfix (match=), which checks certificate names",
        "mx_empty_value": "Snawoot/postfix-mta-sts-resolver postfix_mta_sts_resolver/utils.py: "
                          "parse_mta_sts_policy (res['mx'].append(value))",
        "txt_leading_wsp": f"{_PMSR}postfix_mta_sts_resolver/resolver.py: STSResolver.resolve "
                           "(txt.startswith('v=STSv1'))",
        "txt_version_case": f"{_PMSR}postfix_mta_sts_resolver/resolver.py: "
                            "STSResolver.resolve (startswith('v=STSv1'), v == 'STSv1')",
        "txt_version_delimiter": f"{_PMSR}postfix_mta_sts_resolver/utils.py: "
                                 "parse_mta_sts_record (fields split on ';' and stripped)",
    },
    notes="Snawoot/postfix-mta-sts-resolver @ a000619e838f (2025-02-05). Lines without ':' are "
          "ignored; the body is decoded with the Content-Type charset, ASCII by default (a "
          "non-ASCII byte rejects the policy); the id may be any value, even empty.",
)

_GO = "foxcpp/go-mtasts "

#: go-mtasts (maddy's MTA-STS library): Split-based; the text must be exactly name:value lines.
GO_MTASTS = SenderProfile(
    name="go-mtasts",
    txt_trailing_wsp="accept",
    txt_space_before_semicolon="accept",
    txt_duplicate_id="last",
    txt_extension_abnf="shape",
    content_type="reject",
    redirects="reject",
    body_cap=None,
    duplicate_fields="last",
    blank_lines="reject",
    indented_lines="drop",
    lone_cr="reject",
    missing_max_age="reject",
    max_age_over_limit="accept",
    mx_trailing_dot="strip",
    field_name_abnf="ignore",
    extension_value_abnf="ignore",
    txt_multiple_records="no_policy",
    txt_other_records="no_policy",
    txt_version_position="anywhere",
    txt_empty_field="skip",
    txt_id_syntax="any_nonempty",
    http_status="200_only",
    body_overflow="unknown",
    line_without_colon="reject",
    colon_in_value="reject",
    field_name_case="sensitive",
    mode_value_case="sensitive",
    version_value_case="sensitive",
    missing_version="reject",
    missing_mode="reject",
    mx_required_in_none="no",
    max_age_zero="accept",
    max_age_number="lenient",
    invalid_mx_pattern="kept",
    wildcard_depth="one_label",
    charset="utf8",
    bom="reject",
    txt_value_wsp="reject",
    idna="a_labels",
    mx_empty_value="kept",
    txt_leading_wsp="accept",
    txt_version_case="sensitive",
    txt_version_delimiter="abnf",
    sources={
        "txt_trailing_wsp": f"{_GO}mtasts.go: readDNSRecord (strings.TrimSpace of each part)",
        "txt_space_before_semicolon": f"{_GO}mtasts_test.go: TestReadDNSRecord "
                                      "\"v=STSv1  ;    id=foo\"",
        "txt_duplicate_id": f"{_GO}mtasts.go: readDNSRecord (id = kv[1]: the last wins)",
        "txt_extension_abnf": f"{_GO}mtasts.go: readDNSRecord (a part must split on '=' into "
                              "2, without SP/HTAB; names and values are not checked: '_x=1', "
                              "'x=' pass); mtasts_test.go: TestReadDNSRecord \"v=STSv1;    "
                              "id=foo include\" fails",
        "content_type": f"{_GO}cache.go: downloadPolicy (mime.ParseMediaType != text/plain)",
        "redirects": f"{_GO}cache.go: httpClient.CheckRedirect",
        "body_cap": f"{_GO}cache.go: downloadPolicy (no limit on the body; mtasts.go readPolicy: "
                    "bufio.Scanner fails on a line over 64 KiB)",
        "duplicate_fields": f"{_GO}mtasts.go: readPolicy (each value overwrites the last)",
        "blank_lines": f"{_GO}mtasts.go: readPolicy (len(fieldParts) != 2 -> invalid field)",
        "indented_lines": f"{_GO}mtasts.go: readPolicy (the name is not trimmed: ' mode' is "
                          "ignored, so the policy lacks it)",
        "lone_cr": f"{_GO}mtasts.go: readPolicy (bufio.ScanLines splits on LF only)",
        "missing_max_age": f"{_GO}mtasts_test.go: TestReadPolicy \"version: STSv1\\nmode: none\" "
                           "fails",
        "max_age_over_limit": f"{_GO}mtasts.go: readPolicy (strconv.Atoi, no range check)",
        "mx_trailing_dot": f"{_GO}dns.go: forLookup (TrimSuffix '.'); mtasts_test.go: "
                           "TestPolicyMatch \"example.org.\"",
        "field_name_abnf": f"{_GO}mtasts.go: readPolicy (unknown names ignored)",
        "extension_value_abnf": f"{_GO}mtasts.go: readPolicy (unknown names ignored)",
        "txt_multiple_records": "foxcpp/go-mtasts cache.go: Cache.fetch (len(records) != 1)",
        "txt_other_records": "foxcpp/go-mtasts cache.go: Cache.fetch (len(records) != 1 counts "
                             "every TXT record)",
        "txt_version_position": "foxcpp/go-mtasts mtasts.go: readDNSRecord (looks for v anywhere)",
        "txt_empty_field": "foxcpp/go-mtasts mtasts.go: readDNSRecord (empty parts skipped)",
        "txt_id_syntax": "foxcpp/go-mtasts mtasts.go: readDNSRecord (id non-empty)",
        "http_status": "foxcpp/go-mtasts cache.go: downloadPolicy (StatusOK only)",
        "body_overflow": "unknown: foxcpp/go-mtasts has no cap (bufio.Scanner fails on one line "
                         "over 64 KiB)",
        "line_without_colon": "foxcpp/go-mtasts mtasts.go: readPolicy (len(fieldParts) != 2)",
        "colon_in_value": "foxcpp/go-mtasts mtasts.go: readPolicy (strings.Split(line, \":\") "
                          "must give 2)",
        "field_name_case": "foxcpp/go-mtasts mtasts.go: readPolicy (switch on exact key)",
        "mode_value_case": "foxcpp/go-mtasts mtasts.go: readPolicy",
        "version_value_case": "foxcpp/go-mtasts mtasts.go: readPolicy",
        "missing_version": "foxcpp/go-mtasts mtasts.go: readPolicy",
        "missing_mode": "foxcpp/go-mtasts mtasts.go: readPolicy",
        "mx_required_in_none": "foxcpp/go-mtasts mtasts.go: readPolicy (mx required unless mode "
                               "none)",
        "max_age_zero": "foxcpp/go-mtasts mtasts.go: readPolicy (Atoi)",
        "max_age_number": "foxcpp/go-mtasts mtasts.go: readPolicy (strconv.Atoi: '+1', '-1')",
        "invalid_mx_pattern": "foxcpp/go-mtasts mtasts.go: Policy.Match (an unparsable pattern "
                              "matches nothing)",
        "wildcard_depth": "foxcpp/go-mtasts mtasts_test.go: TestPolicyMatch "
                          "mx0.special.example.org",
        "charset": "foxcpp/go-mtasts mtasts.go: readPolicy (Go strings)",
        "bom": "foxcpp/go-mtasts mtasts.go: readPolicy (field \\ufeffversion unknown -> version "
               "missing)",
        "txt_value_wsp": "foxcpp/go-mtasts mtasts_test.go: TestReadDNSRecord \"v=STSv1;    id=foo "
                         "include=foo.com\" fails (readDNSRecord)",
        "idna": "foxcpp/go-mtasts mtasts.go: Policy.Match; dns.go: forLookup "
                "(idna.ToUnicode, NFC, lower on pattern and host); mtasts_test.go: "
                "TestPolicyMatch ñaca.com / x.xn--aca-6ma.com",
        "mx_empty_value": "foxcpp/go-mtasts mtasts.go: readPolicy (policy.MX = append(policy.MX, "
                          "fieldValue))",
        "txt_leading_wsp": f"{_GO}mtasts.go: readDNSRecord (strings.TrimSpace(part)); cache.go: "
                           "Cache.fetch passes the single record on unfiltered",
        "txt_version_case": f"{_GO}mtasts.go: readDNSRecord (kv[0] == \"v\", kv[1] != \"STSv1\" "
                            "rejects)",
        "txt_version_delimiter": f"{_GO}mtasts.go: readDNSRecord (parts split on ';' "
                                 "and TrimSpace)",
    },
    notes="foxcpp/go-mtasts @ 1438da2e5932 (2024-01-30), the library maddy uses. A value "
          "containing ':' rejects the policy (strings.Split must give 2 parts); every TXT record "
          "at _mta-sts counts (len(records) != 1 -> no policy); v=STSv1 may be anywhere.",
)

_CHQ = "albertito/chasquid internal/sts/"

#: chasquid: keeps only the four known keys (trimmed, the last wins), checks them afterwards.
CHASQUID = SenderProfile(
    name="chasquid",
    txt_trailing_wsp="accept",
    txt_space_before_semicolon="accept",
    txt_duplicate_id="last",
    txt_extension_abnf="ignore",
    content_type="reject",
    redirects="reject",
    body_cap=10 * 1024,
    duplicate_fields="last",
    blank_lines="skip",
    indented_lines="trim",
    lone_cr="reject",
    missing_max_age="reject",
    max_age_over_limit="reject",
    mx_trailing_dot="strip",
    field_name_abnf="ignore",
    extension_value_abnf="ignore",
    txt_multiple_records="first_valid",
    txt_other_records="ignored",
    txt_version_position="first",
    txt_empty_field="skip",
    txt_id_syntax="not_required",
    http_status="200_only",
    body_overflow="truncate",
    line_without_colon="skip",
    colon_in_value="accept",
    field_name_case="sensitive",
    mode_value_case="sensitive",
    version_value_case="sensitive",
    missing_version="reject",
    missing_mode="reject",
    mx_required_in_none="yes",
    max_age_zero="reject",
    max_age_number="lenient",
    invalid_mx_pattern="kept",
    wildcard_depth="one_label",
    charset="utf8",
    bom="reject",
    txt_value_wsp="accept",
    idna="a_labels",
    mx_empty_value="kept",
    txt_leading_wsp="reject",
    txt_version_case="sensitive",
    txt_version_delimiter="exact",
    sources={
        "txt_trailing_wsp": f"{_CHQ}sts.go: hasSTSRecord (only the prefix \"v=STSv1;\" is "
                            "checked)",
        "txt_space_before_semicolon": f"{_CHQ}sts.go: hasSTSRecord (nothing after the "
                                      "\"v=STSv1;\" prefix is read; a space right after "
                                      "v=STSv1: txt_version_delimiter)",
        "txt_duplicate_id": f"{_CHQ}sts.go: hasSTSRecord (the id is never read: any number "
                            "of id fields is accepted)",
        "txt_extension_abnf": f"{_CHQ}sts.go: hasSTSRecord (nothing after the prefix is read)",
        "content_type": f"{_CHQ}sts.go: httpGet (ErrInvalidMediaType)",
        "redirects": f"{_CHQ}sts.go: httpGet (rejectRedirect)",
        "body_cap": f"{_CHQ}sts.go: httpGet (io.LimitedReader 10 KiB: the rest is cut, not "
                    "rejected); sts_test.go: TestPolicyTooBig",
        "duplicate_fields": f"{_CHQ}sts.go: parsePolicy (each value overwrites the last)",
        "blank_lines": f"{_CHQ}sts.go: parsePolicy (a line without ':' is skipped)",
        "indented_lines": f"{_CHQ}sts_test.go: TestParsePolicy (pol1 is indented); sts.go: "
                          "parsePolicy (strings.TrimSpace of key and value)",
        "lone_cr": f"{_CHQ}sts.go: parsePolicy (bufio.ScanLines splits on LF only)",
        "missing_max_age": f"{_CHQ}sts.go: Policy.Check (MaxAge <= 0 -> ErrInvalidMaxAge)",
        "max_age_over_limit": f"{_CHQ}sts_test.go: TestCheckPolicy (31557601 -> "
                              "ErrInvalidMaxAge)",
        "mx_trailing_dot": f"{_CHQ}sts_test.go: TestMatchDomain {{\"a.b\", \"a.b.\", true}}",
        "field_name_abnf": f"{_CHQ}sts.go: parsePolicy (\"Only care for the keys we "
                           "recognize\")",
        "extension_value_abnf": f"{_CHQ}sts.go: parsePolicy (unknown keys ignored)",
        "txt_multiple_records": "albertito/chasquid internal/sts/sts.go: hasSTSRecord (returns on "
                                "the first match)",
        "txt_other_records": "albertito/chasquid internal/sts/sts.go: hasSTSRecord",
        "txt_version_position": "albertito/chasquid internal/sts/sts.go: hasSTSRecord (HasPrefix "
                                "\"v=STSv1;\")",
        "txt_empty_field": "albertito/chasquid internal/sts/sts.go: hasSTSRecord (prefix only)",
        "txt_id_syntax": "albertito/chasquid internal/sts/sts.go: hasSTSRecord (id not read)",
        "http_status": "albertito/chasquid internal/sts/sts.go: httpGet",
        "body_overflow": "albertito/chasquid internal/sts/sts_test.go: TestPolicyTooBig "
                         "(io.LimitedReader, first 10 KiB parsed)",
        "line_without_colon": "albertito/chasquid internal/sts/sts.go: parsePolicy (no ':' -> "
                              "continue)",
        "colon_in_value": "albertito/chasquid internal/sts/sts.go: parsePolicy (SplitN 2)",
        "field_name_case": "albertito/chasquid internal/sts/sts.go: parsePolicy",
        "mode_value_case": "albertito/chasquid internal/sts/sts.go: Policy.Check",
        "version_value_case": "albertito/chasquid internal/sts/sts.go: Policy.Check",
        "missing_version": "albertito/chasquid internal/sts/sts.go: Policy.Check",
        "missing_mode": "albertito/chasquid internal/sts/sts.go: Policy.Check (mode '' invalid)",
        "mx_required_in_none": "albertito/chasquid internal/sts/sts.go: Policy.Check "
                               "(ErrInvalidMX whatever the mode)",
        "max_age_zero": "albertito/chasquid internal/sts/sts.go: Policy.Check (MaxAge <= 0)",
        "max_age_number": "albertito/chasquid internal/sts/sts.go: parsePolicy (Atoi: '+1'; "
                          "failure -> 0 -> reject)",
        "invalid_mx_pattern": "albertito/chasquid internal/sts/sts.go: parsePolicy (mx unchecked)",
        "wildcard_depth": "albertito/chasquid internal/sts/sts_test.go: TestMatchDomain "
                          "foo.bar.example.com",
        "charset": "albertito/chasquid internal/sts/sts.go: parsePolicy",
        "bom": "albertito/chasquid internal/sts/sts.go: parsePolicy (as go-mtasts: version "
               "missing)",
        "txt_value_wsp": "albertito/chasquid internal/sts/sts.go: hasSTSRecord (only the "
                         "\"v=STSv1;\" prefix is read)",
        "idna": "albertito/chasquid internal/sts/sts.go: matchDomain, domainToASCII "
                "(ToLower, idna.ToASCII on both); sts_test.go: TestMatchDomain ñaca.com",
        "mx_empty_value": "albertito/chasquid internal/sts/sts.go: parsePolicy (p.MXs = "
                          "append(p.MXs, value))",
        "txt_leading_wsp": f"{_CHQ}sts.go: hasSTSRecord (strings.HasPrefix(txt, \"v=STSv1;\"))",
        "txt_version_case": f"{_CHQ}sts.go: hasSTSRecord (strings.HasPrefix(txt, \"v=STSv1;\"))",
        "txt_version_delimiter": f"{_CHQ}sts.go: hasSTSRecord (strings.HasPrefix(txt, "
                                 "\"v=STSv1;\"): \"v=STSv1\" alone or \"v=STSv1 ;\" is no "
                                 "record; nothing after the prefix is read)",
    },
    notes="albertito/chasquid @ ca2538b9745a (2026-06-07). Also: mx is required in mode none "
          "(Policy.Check ErrInvalidMX), max_age 0 is rejected, several v=STSv1; records are "
          "accepted (the first with the prefix), the id is never read.",
)

_STW = "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/"
_STW_AUTH = "stalwartlabs/mail-auth src/"

#: Stalwart: a permissive key:value scanner with defaults (mode none, max_age 86400), no
#: Content-Type or status check.
STALWART = SenderProfile(
    name="stalwart",
    txt_trailing_wsp="accept",
    txt_space_before_semicolon="accept",
    txt_duplicate_id="last",
    txt_extension_abnf="ignore",
    content_type="ignore",
    redirects="reject",
    body_cap=1024 * 1024,
    duplicate_fields="last",
    blank_lines="skip",
    indented_lines="trim",
    lone_cr="reject",
    missing_max_age="default",
    max_age_over_limit="clamp",
    mx_trailing_dot="no_match",
    field_name_abnf="ignore",
    extension_value_abnf="ignore",
    txt_multiple_records="first_valid",
    txt_other_records="ignored",
    txt_version_position="anywhere",
    txt_empty_field="skip",
    txt_id_syntax="any",
    http_status="any",
    body_overflow="reject",
    line_without_colon="swallow_next",
    colon_in_value="accept",
    field_name_case="sensitive",
    mode_value_case="sensitive",
    version_value_case="insensitive",
    missing_version="accept",
    missing_mode="none",
    mx_required_in_none="yes",
    max_age_zero="accept",
    max_age_number="default",
    invalid_mx_pattern="kept",
    wildcard_depth="one_label",
    charset="utf8",
    bom="first_field_lost",
    txt_value_wsp="accept",
    idna="unknown",
    mx_empty_value="dropped",
    txt_leading_wsp="accept",
    txt_version_case="insensitive",
    txt_version_delimiter="abnf",
    sources={
        "txt_trailing_wsp": f"{_STW_AUTH}mta_sts/parse.rs: MtaSts::parse (TagParser::text "
                            "drops WSP)",
        "txt_space_before_semicolon": f"{_STW_AUTH}common/parse.rs: seek_tag_end (skips WSP "
                                      "before ';')",
        "txt_duplicate_id": f"{_STW_AUTH}mta_sts/parse.rs: MtaSts::parse (id reassigned: the "
                            "last wins)",
        "txt_extension_abnf": f"{_STW_AUTH}mta_sts/parse.rs: MtaSts::parse (other tags "
                              "record.ignore())",
        "content_type": f"{_STW}lookup.rs: lookup_mta_sts_policy (no header is read)",
        "redirects": f"{_STW}lookup.rs: lookup_mta_sts_policy (redirect::Policy::none(); the "
                     "3xx body itself is parsed, as is any status's)",
        "body_cap": f"{_STW}lookup.rs: MAX_POLICY_SIZE; crates/utils/src/lib.rs: "
                    "bytes_with_limit (over -> \"Policy too large\")",
        "duplicate_fields": f"{_STW}parse.rs: Policy::parse (mode reassigned: the last wins)",
        "blank_lines": f"{_STW}parse.rs: Policy::parse (key.trim() absorbs empty lines)",
        "indented_lines": f"{_STW}parse.rs: Policy::parse (key.trim(), value.trim())",
        "lone_cr": f"{_STW}parse.rs: Policy::parse (a value runs to '\\n': with CR only the "
                   "version value is not STSv1)",
        "missing_max_age": f"{_STW}parse.rs: Policy::parse (max_age defaults to 86400)",
        "max_age_over_limit": f"{_STW}lookup.rs: lookup_mta_sts_policy (cached 86400 s when "
                              "not in 3600..31557600)",
        "mx_trailing_dot": f"{_STW}verify.rs: Policy::verify (the pattern is kept with its "
                           "dot, MxPattern::Equals; the MX host has its dot stripped in "
                           "outbound/mod.rs NextHop::hostname, so it never matches: a value "
                           "'no_match' is requested in senders_research.md NEW KNOBS)",
        "field_name_abnf": f"{_STW}parse.rs: Policy::parse (unknown keys ignored)",
        "extension_value_abnf": f"{_STW}parse.rs: Policy::parse (unknown keys ignored)",
        "txt_multiple_records": "stalwartlabs/mail-auth src/common/resolver.rs: txt_lookup (first "
                                "record that parses)",
        "txt_other_records": "stalwartlabs/mail-auth src/common/resolver.rs: txt_lookup",
        "txt_version_position": "stalwartlabs/mail-auth src/mta_sts/parse.rs: MtaSts::parse "
                                "(loops over tags)",
        "txt_empty_field": "stalwartlabs/mail-auth src/common/parse.rs: TagParser key() resets on "
                           "';'",
        "txt_id_syntax": "stalwartlabs/mail-auth src/mta_sts/parse.rs: MtaSts::parse "
                         "(record.text(false))",
        "http_status": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/lookup.rs: "
                       "lookup_mta_sts_policy (no error_for_status)",
        "body_overflow": "stalwartlabs/mail-server crates/utils/src/lib.rs: bytes_with_limit "
                         "(MAX_POLICY_SIZE 1 MiB)",
        "line_without_colon": "stalwartlabs/mail-server "
                              "crates/smtp/src/outbound/mta_sts/parse.rs: Policy::parse "
                              "(split_once(':') spans lines)",
        "colon_in_value": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: "
                          "Policy::parse",
        "field_name_case": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: "
                           "Policy::parse (unknown key ignored)",
        "mode_value_case": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: "
                           "Policy::parse (\"Unsupported mode\")",
        "version_value_case": "stalwartlabs/mail-server "
                              "crates/smtp/src/outbound/mta_sts/parse.rs: Policy::parse "
                              "(eq_ignore_ascii_case)",
        "missing_version": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: "
                           "Policy::parse (version never required)",
        "missing_mode": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: "
                        "Policy::parse (default Mode::None)",
        "mx_required_in_none": "stalwartlabs/mail-server "
                               "crates/smtp/src/outbound/mta_sts/parse.rs: Policy::parse (\"No "
                               "'mx' entries found\")",
        "max_age_zero": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: "
                        "Policy::parse (cached 86400)",
        "max_age_number": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: "
                          "Policy::parse (u64 parse failure ignored, 86400)",
        "invalid_mx_pattern": "stalwartlabs/mail-server "
                              "crates/smtp/src/outbound/mta_sts/parse.rs: Policy::parse (empty mx "
                              "dropped, the rest kept)",
        "wildcard_depth": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/verify.rs: "
                          "Policy::verify (split_once('.'))",
        "charset": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: "
                   "Policy::parse (invalid UTF-8 rejected)",
        "bom": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: Policy::parse "
               "(first key unknown)",
        "txt_value_wsp": "stalwartlabs/mail-auth src/mta_sts/parse.rs: MtaSts::parse (the id "
                         "is record.text(false), not checked; run on 'v=STSv1; id=a b': "
                         "accepted)",
        "idna": "unknown: stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/"
                "verify.rs Policy::verify compares the lowercased pattern with mx_host "
                "verbatim; mx_host is the MX exchange lowercased (stalwartlabs/mail-auth "
                "src/common/resolver.rs: mx.exchange.to_lowercase().to_string()) without its "
                "dot (outbound/mod.rs NextHop::hostname); whether that string has A- or "
                "U-labels is the DNS library's, not read",
        "mx_empty_value": "stalwartlabs/mail-server crates/smtp/src/outbound/mta_sts/parse.rs: "
                          "Policy::parse (else if !value.is_empty(); a '*.' needs a non-empty "
                          "suffix), then \"No 'mx' entries found\"",
        "txt_leading_wsp": "stalwartlabs/mail-auth src/common/parse.rs: TagParser::key skips "
                           "SP/HTAB before a key; src/mta_sts/parse.rs: MtaSts::parse",
        "txt_version_case": "stalwartlabs/mail-auth src/common/parse.rs: TagParser::key lowercases "
                            "A-Z, match_bytes (eq_ignore_ascii_case); src/mta_sts/parse.rs: "
                            "MtaSts::parse",
        "txt_version_delimiter": "stalwartlabs/mail-auth src/common/parse.rs: "
                                 "seek_tag_end skips WSP to ';'",
    },
    notes="stalwartlabs/mail-server @ 55e62a683048 (2025-06-15), TXT parser from "
          "stalwartlabs/mail-auth @ 0e93300e5c77. Also: no HTTP status check, version and mode "
          "not required (mode defaults to none), version compared case-insensitively, mx "
          "required in mode none, the first TXT record that parses wins.",
)

_MA = "postalsys/mailauth lib/mta-sts.js"

#: mailauth (ZoneMTA, WildDuck, EmailEngine): lower-cases and trims everything, keeps the last.
MAILAUTH = SenderProfile(
    name="mailauth",
    txt_trailing_wsp="accept",
    txt_space_before_semicolon="accept",
    txt_duplicate_id="last",
    txt_extension_abnf="ignore",
    content_type="ignore",
    redirects="reject",
    body_cap=None,
    duplicate_fields="last",
    blank_lines="skip",
    indented_lines="trim",
    lone_cr="reject",
    missing_max_age="reject",
    max_age_over_limit="reject",
    mx_trailing_dot="no_match",
    field_name_abnf="ignore",
    extension_value_abnf="ignore",
    txt_multiple_records="no_policy",
    txt_other_records="ignored",
    txt_version_position="first",
    txt_empty_field="skip",
    txt_id_syntax="any_nonempty",
    http_status="any_2xx",
    body_overflow="unknown",
    line_without_colon="skip",
    colon_in_value="accept",
    field_name_case="insensitive",
    mode_value_case="insensitive",
    version_value_case="sensitive",
    missing_version="reject",
    missing_mode="none",
    mx_required_in_none="no",
    max_age_zero="accept",
    max_age_number="lenient",
    invalid_mx_pattern="kept",
    wildcard_depth="any_depth",
    charset="utf8",
    bom="strip",
    txt_value_wsp="accept",
    idna="host_a_labels",
    mx_empty_value="kept",
    txt_leading_wsp="accept",
    txt_version_case="insensitive",
    txt_version_delimiter="abnf",
    sources={
        "txt_trailing_wsp": f"{_MA}: resolvePolicy (row.join('').trim())",
        "txt_space_before_semicolon": f"{_MA}: resolvePolicy (/^v=STSv1\\b/i)",
        "txt_duplicate_id": "postalsys/mailauth lib/parse-dkim-headers.js: headerParser "
                            "(result[part.key] = entry: the last wins)",
        "txt_extension_abnf": "postalsys/mailauth lib/parse-dkim-headers.js: headerParser "
                              "(tags other than v and id unread)",
        "content_type": f"{_MA}: fetchPolicy (no header is read)",
        "redirects": f"{_MA}: fetchPolicy (https.request does not follow; a 3xx is not 2xx)",
        "body_cap": f"{_MA}: fetchPolicy (chunks concatenated without a limit)",
        "duplicate_fields": f"{_MA}: parsePolicy (policy[key] = value: the last wins)",
        "blank_lines": f"{_MA}: parsePolicy (a line without ':' is filtered out)",
        "indented_lines": f"{_MA}: parsePolicy (key .toLowerCase().trim())",
        "lone_cr": f"{_MA}: parsePolicy (split(/\\r?\\n/): a lone CR stays in the value)",
        "missing_max_age": f"{_MA}: parsePolicy (isNaN(undefined) -> invalid_sts_max_age)",
        "max_age_over_limit": f"{_MA}: parsePolicy (maxAge > 31557600 -> invalid_sts_max_age)",
        "mx_trailing_dot": f"{_MA}: validateMx (the pattern is compared verbatim, so it never "
                           "matches a host without the dot: a value 'no_match' is requested in "
                           "senders_research.md NEW KNOBS)",
        "field_name_abnf": f"{_MA}: parsePolicy (unknown keys ignored)",
        "extension_value_abnf": f"{_MA}: parsePolicy (unknown keys ignored)",
        "txt_multiple_records": "postalsys/mailauth lib/mta-sts.js: resolvePolicy "
                                "(multi_sts_records -> mode none)",
        "txt_other_records": "postalsys/mailauth lib/mta-sts.js: resolvePolicy",
        "txt_version_position": "postalsys/mailauth lib/mta-sts.js: resolvePolicy (/^v=STSv1\\b/i)",
        "txt_empty_field": "postalsys/mailauth lib/parse-dkim-headers.js (empty tags dropped)",
        "txt_id_syntax": "postalsys/mailauth lib/mta-sts.js: resolvePolicy",
        "http_status": "postalsys/mailauth lib/mta-sts.js: fetchPolicy (statusCode < 200 || >= "
                       "300 rejected)",
        "body_overflow": "unknown: postalsys/mailauth lib/mta-sts.js: fetchPolicy has no cap",
        "line_without_colon": "postalsys/mailauth lib/mta-sts.js: parsePolicy (no ':' -> filtered)",
        "colon_in_value": "postalsys/mailauth lib/mta-sts.js: parsePolicy",
        "field_name_case": "postalsys/mailauth lib/mta-sts.js: parsePolicy (key lowercased)",
        "mode_value_case": "postalsys/mailauth lib/mta-sts.js: parsePolicy (value lowercased)",
        "version_value_case": "postalsys/mailauth lib/mta-sts.js: parsePolicy",
        "missing_version": "postalsys/mailauth lib/mta-sts.js: parsePolicy",
        "missing_mode": "postalsys/mailauth lib/mta-sts.js: parsePolicy (default mode: 'none')",
        "mx_required_in_none": "postalsys/mailauth lib/mta-sts.js: parsePolicy",
        "max_age_zero": "postalsys/mailauth lib/mta-sts.js: parsePolicy",
        "max_age_number": "postalsys/mailauth lib/mta-sts.js: parsePolicy (Number(): 1e5, 0x10, "
                          "empty -> 0)",
        "invalid_mx_pattern": "postalsys/mailauth lib/mta-sts.js: validateMx (kept, compared "
                              "verbatim)",
        "wildcard_depth": "postalsys/mailauth lib/mta-sts.js: validateMx (suffix match at any "
                          "depth)",
        "charset": "postalsys/mailauth lib/mta-sts.js: fetchPolicy",
        "bom": "postalsys/mailauth lib/mta-sts.js: parsePolicy (trim() removes U+FEFF)",
        "txt_value_wsp": "postalsys/mailauth lib/parse-dkim-headers.js (the id value is not "
                         "checked; resolvePolicy run on 'v=STSv1; id=a b': accepted)",
        "idna": "postalsys/mailauth lib/mta-sts.js: validateMx (the MX host, if it has "
                "high bytes, goes through punycode.toASCII; the pattern is only "
                "lowercased)",
        "mx_empty_value": "postalsys/mailauth lib/mta-sts.js: parsePolicy (policy.mx.push(mx))",
        "txt_leading_wsp": f"{_MA}: resolvePolicy (row.join('').trim() before /^v=STSv1\\b/i)",
        "txt_version_case": f"{_MA}: resolvePolicy (/^v=STSv1\\b/i, /^STSv1$/i)",
        "txt_version_delimiter": "postalsys/mailauth lib/parse-dkim-headers.js: "
                                 "headerParser (tags split on ';' and trimmed)",
    },
    notes="postalsys/mailauth @ d2616c6bee77 (2026-08-19). Also: field names and the mode "
          "value lower-cased, a missing mode is 'none', any 2xx status accepted, a wildcard "
          "matches at any depth (validateMx suffix match), max_age parsed by Number().",
)

PROFILES: tuple[SenderProfile, ...] = (
    RFC8461, MOX, POSTFIX_MTA_STS_RESOLVER, GO_MTASTS, CHASQUID, STALWART, MAILAUTH)


def profile(name: str) -> SenderProfile:
    """The profile called ``name``."""
    for p in PROFILES:
        if p.name == name:
            return p
    raise KeyError(name)
