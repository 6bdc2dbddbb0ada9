"""RFC 8461 (MTA-STS) and RFC 8460 (TLS-RPT) parsers: pure text in, typed results out.

Public API, stable: ``parse_sts_record``, ``select_sts_record``, ``parse_policy``,
``mx_matches``, ``parse_tlsrpt_record``, ``select_tlsrpt_record``. Bad input never raises: every
problem becomes a ``ParseError`` in the result's ``errors`` list (empty when valid).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def parse_sts_record(txt_strings: TxtStrings) -> StsRecord:
    raise NotImplementedError


def select_sts_record(records: Sequence[TxtStrings]) -> RecordSelection[StsRecord]:
    raise NotImplementedError


def parse_tlsrpt_record(txt_strings: TxtStrings) -> TlsRptRecord:
    raise NotImplementedError


def select_tlsrpt_record(records: Sequence[TxtStrings]) -> RecordSelection[TlsRptRecord]:
    raise NotImplementedError


def parse_policy(body: bytes) -> Policy:
    raise NotImplementedError


def mx_matches(pattern: str, host: str) -> bool:
    raise NotImplementedError
