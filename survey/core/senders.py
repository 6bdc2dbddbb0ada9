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
PROFILES: tuple[SenderProfile, ...] = (RFC8461,)


def profile(name: str) -> SenderProfile:
    """The profile called ``name``."""
    for p in PROFILES:
        if p.name == name:
            return p
    raise KeyError(name)
