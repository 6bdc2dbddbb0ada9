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
                            enforce (reject the record) | ignore
Policy fetch (§3.3)
    content_type            a policy not served as ``text/plain``: ignore | reject
    redirects               a 3xx answer: reject | follow
    body_cap                bytes read at most; a longer body is rejected (an int, or None
                            for no cap, or ``"unknown"``)
Policy text (§3.2)
    duplicate_fields        a non-``mx`` field given twice: first | last | reject
    blank_lines             an empty line (the ABNF has none): skip | reject
    indented_lines          a line starting with SP/HTAB: trim | reject
    lone_cr                 a CR not followed by LF: line_end (a line break) | reject
    missing_max_age         no ``max_age`` line: reject | default (a built-in max_age)
    max_age_over_limit      ``max_age`` over 31557600: reject | clamp | accept
    mx_trailing_dot         ``mx: mail.example.com.``: reject | strip (then it matches)
    field_name_abnf         a field name not starting with ALPHA/DIGIT (``_x: 1``): enforce
                            (reject the policy) | ignore (an unknown field)
    extension_value_abnf    an unknown field's value empty or outside the ABNF (``x:``):
                            enforce (reject the policy) | ignore
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

Unknown = Literal["unknown"]
AcceptReject = Literal["accept", "reject", "unknown"]
Duplicates = Literal["first", "last", "reject", "unknown"]
Abnf = Literal["enforce", "ignore", "unknown"]

#: The knob fields of ``SenderProfile``, in the order the docs list them.
KNOBS: tuple[str, ...] = (
    "txt_trailing_wsp", "txt_space_before_semicolon", "txt_duplicate_id", "txt_extension_abnf",
    "content_type", "redirects", "body_cap",
    "duplicate_fields", "blank_lines", "indented_lines", "lone_cr", "missing_max_age",
    "max_age_over_limit", "mx_trailing_dot", "field_name_abnf", "extension_value_abnf",
)


@dataclass(frozen=True, slots=True)
class SenderProfile:
    """One sender implementation's behaviour on each contested construct (module docstring)."""

    name: str  # "rfc8461", "mox", "postfix-mta-sts-resolver", ...
    txt_trailing_wsp: AcceptReject
    txt_space_before_semicolon: AcceptReject
    txt_duplicate_id: Duplicates
    txt_extension_abnf: Abnf
    content_type: Literal["ignore", "reject", "unknown"]
    redirects: Literal["reject", "follow", "unknown"]
    body_cap: int | Unknown | None
    duplicate_fields: Duplicates
    blank_lines: Literal["skip", "reject", "unknown"]
    indented_lines: Literal["trim", "reject", "unknown"]
    lone_cr: Literal["line_end", "reject", "unknown"]
    missing_max_age: Literal["reject", "default", "unknown"]
    max_age_over_limit: Literal["reject", "clamp", "accept", "unknown"]
    mx_trailing_dot: Literal["reject", "strip", "unknown"]
    field_name_abnf: Abnf
    extension_value_abnf: Abnf
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
    indented_lines="reject",
    lone_cr="line_end",
    missing_max_age="reject",
    max_age_over_limit="reject",
    mx_trailing_dot="unknown",
    field_name_abnf="ignore",
    extension_value_abnf="ignore",
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
        "mx_trailing_dot": f"{_PMSR}postfix_mta_sts_resolver/responder.py (the pattern goes "
                           "verbatim to Postfix 'secure match=', which checks certificate names; "
                           "how Postfix treats the dot is not established here)",
        "field_name_abnf": f"{_PMSR}postfix_mta_sts_resolver/utils.py: parse_mta_sts_policy "
                           "(unknown keys ignored)",
        "extension_value_abnf": f"{_PMSR}postfix_mta_sts_resolver/utils.py: "
                                "parse_mta_sts_policy (unknown keys ignored)",
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
    txt_extension_abnf="enforce",
    content_type="reject",
    redirects="reject",
    body_cap=None,
    duplicate_fields="last",
    blank_lines="reject",
    indented_lines="reject",
    lone_cr="reject",
    missing_max_age="reject",
    max_age_over_limit="accept",
    mx_trailing_dot="strip",
    field_name_abnf="ignore",
    extension_value_abnf="ignore",
    sources={
        "txt_trailing_wsp": f"{_GO}mtasts.go: readDNSRecord (strings.TrimSpace of each part)",
        "txt_space_before_semicolon": f"{_GO}mtasts_test.go: TestReadDNSRecord "
                                      "\"v=STSv1  ;    id=foo\"",
        "txt_duplicate_id": f"{_GO}mtasts.go: readDNSRecord (id = kv[1]: the last wins)",
        "txt_extension_abnf": f"{_GO}mtasts_test.go: TestReadDNSRecord "
                              "\"v=STSv1;    id=foo include\" fails (a part without '=' or with "
                              "WSP inside rejects the record; names are not checked)",
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
    txt_space_before_semicolon="reject",
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
    sources={
        "txt_trailing_wsp": f"{_CHQ}sts.go: hasSTSRecord (only the prefix \"v=STSv1;\" is "
                            "checked)",
        "txt_space_before_semicolon": f"{_CHQ}sts.go: hasSTSRecord (strings.HasPrefix(txt, "
                                      "\"v=STSv1;\"))",
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
    mx_trailing_dot="unknown",
    field_name_abnf="ignore",
    extension_value_abnf="ignore",
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
    mx_trailing_dot="unknown",
    field_name_abnf="ignore",
    extension_value_abnf="ignore",
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
