"""Toplist rows: formats, validation (names: ``core.names``), de-duplication, sharding.

A toplist can have ten million lines, so it is streamed: read line by line from a binary stream,
each line bounded (``MAX_LINE_BYTES``; a longer line is counted and skipped without being held in
memory). Bad content never raises: every rejected line is counted in ``ToplistStats.invalid`` by
a stable reason code (a public contract: add codes, never rename them):

    ``empty``           nothing left after stripping (e.g. ``1,`` in a CSV list)
    ``not_utf8``        the line is not valid UTF-8
    ``nul_byte``        the line holds a NUL byte
    ``line_too_long``   over ``MAX_LINE_BYTES`` bytes (the rest of the line is consumed)
    ``bad_row``         a CSV row without the expected columns
    ``bad_rank``        the rank column is not a positive integer
    ``ip_address``      an IPv4/IPv6 literal instead of a name
    ``empty_label``     ``a..b`` or a leading dot
    ``underscore``      a label with ``_`` (a service label or a web-only host, not a mail domain)
    ``bad_character``   anything but letters, digits and hyphens (after IDNA mapping)
    ``hyphen``          a label starting or ending with ``-``
    ``label_too_long``  a label over 63 octets (in its ASCII form)
    ``too_long``        a name over 253 octets (in its ASCII form, without the trailing dot)
    ``single_label``    one label only (``localhost``, a bare TLD)
    ``numeric_tld``     the last label is all digits
    ``idna``            a Unicode label IDNA 2008 (UTS #46) rejects, or an ``xn--`` label that
                        does not decode to a valid U-label

Sources (paths, stdin, URLs, compression) are ``toplist.sources``; this module reads lines.
Formats are one table of specs (``FORMAT_SPECS``): detection and row parsing read only it.

Decisions:
- Ranks come from the file where it has them, else they are the 1-based position among the
  data lines (blank lines and ``#`` comments do not count, invalid lines do).
- ``limit=N`` keeps the list's first N *distinct valid* names, counted before exclusions and the
  shard split: N machines given the same ``--limit`` agree on the population, and the union of
  their shards is exactly those N names minus the excluded ones.
- Duplicates are detected on the normalised name with a 64-bit blake2b digest in an
  open-addressing table (``DigestSet``, at most 75% full): 11-21 bytes a name, measured 16.8 MB
  for one million names (25 MB peak while the table doubles), where a Python ``set`` of ints
  takes about 70 MB. Two distinct names collide with probability about n²/2⁶⁵ (3·10⁻⁶ for ten
  million names): the later one would be dropped as a duplicate.
- Throughput, measured: about 190,000 lines/s on one core (a 10-million-line list in ~55 s).
"""

from __future__ import annotations

import collections
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from survey.core.digests import DigestSet as DigestSet
from survey.core.digests import name_digest
from survey.core.names import InvalidName, normalise_domain
from survey.toplist.sources import absolute_source as absolute_source
from survey.toplist.sources import check_toplist as check_toplist
from survey.toplist.sources import open_toplist as open_toplist
from survey.toplist.sources import url_scheme as url_scheme

if TYPE_CHECKING:
    from survey.core.exclusions import Exclusions

#: Longest line accepted, in bytes without the line terminator.
MAX_LINE_BYTES = 4096
#: Every reason code ``ToplistStats.invalid`` and ``InvalidName.reason`` can hold.
INVALID_REASONS = frozenset({
    "empty", "not_utf8", "nul_byte", "line_too_long", "bad_row", "bad_rank", "ip_address",
    "empty_label", "underscore", "bad_character", "hyphen", "label_too_long", "too_long",
    "single_label", "numeric_tld", "idna",
})
#: Lines looked at by ``detect_format``.
DETECT_LINES = 5
_EXAMPLE_CHARS = 100
_BOM = b"\xef\xbb\xbf"


class ToplistFormat(StrEnum):
    TRANCO = "tranco"  # rank,domain without a header (Umbrella has the same shape)
    UMBRELLA = "umbrella"
    MAJESTIC = "majestic"  # header with GlobalRank and Domain columns
    CRUX = "crux"  # origin,rank (https://host origins, rank buckets)
    PLAIN = "plain"  # one name a line, '#' comments


@dataclass(frozen=True, slots=True)
class ToplistEntry:
    rank: int
    domain: str  # normalised: lower-case ASCII (A-labels), no trailing dot



@dataclass
class ToplistStats:
    """What reading a list did, for the manifest and the user: nothing is dropped silently."""

    lines: int = 0  # physical lines read, headers, blanks and comments included
    entries: int = 0  # entries yielded
    duplicates: int = 0
    excluded: int = 0
    skipped_by_shard: int = 0
    invalid: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason -> first offending line
    ignored: int = 0  # blank lines, comments, header rows
    #: read with ``own_shard_dedup``: duplicates and excluded count this shard's names only
    #: (summed over the shards they give the list's), skipped_by_shard every other line
    own_shard_only: bool = False

    def reject(self, reason: str, line: bytes | str) -> None:
        self.invalid[reason] += 1
        if reason not in self.examples:
            text = line if isinstance(line, str) else line[:_EXAMPLE_CHARS].decode(
                "utf-8", "backslashreplace")
            self.examples[reason] = text[:_EXAMPLE_CHARS]

    def summary_lines(self) -> list[str]:
        out = [
            f"lines read        {self.lines:,}",
            f"entries           {self.entries:,}",
            f"duplicates        {self.duplicates:,}",
            f"excluded          {self.excluded:,}",
            f"other shards      {self.skipped_by_shard:,}",
            f"invalid           {sum(self.invalid.values()):,}",
        ]
        for reason, count in self.invalid.most_common():
            out.append(f"  {reason:<16}{count:,}  e.g. {self.examples.get(reason, '')!r}")
        return out


# --- lines and formats -------------------------------------------------------------------------

def _lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """Lines without terminators (CRLF or LF); ``None`` for a line over ``MAX_LINE_BYTES``.

    Never holds more than ``MAX_LINE_BYTES + 2`` bytes (or one 64 KiB chunk) of a line.
    """
    readline = stream.readline
    cap = MAX_LINE_BYTES + 2
    while line := readline(cap):
        if len(line) == cap and not line.endswith(b"\n"):
            while (chunk := readline(1 << 16)) and not chunk.endswith(b"\n"):
                pass
            yield None
            continue
        line = line.rstrip(b"\r\n")
        yield line if len(line) <= MAX_LINE_BYTES else None


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """What one toplist format looks like: detection and row parsing read only this record.

    ``signature`` are header column names (lower-case) that identify the format: as the first
    columns (``signature_leading``) or anywhere in the row. ``first_row`` identifies it from a
    data line. ``header`` are the (rank, name) column names a header row must hold; when the
    first data line is such a header, its positions replace ``rank_col``/``name_col``.
    ``rank_col`` None means one name a line, ranked by position (``#`` starts a comment).
    """

    fmt: ToplistFormat
    rank_col: int | None
    name_col: int
    header: tuple[str, str] | None
    signature: tuple[str, ...] = ()
    signature_leading: bool = True
    first_row: re.Pattern[str] | None = None
    origin_names: bool = False  # the name column holds origin URLs (``https://host:port``)
    delimiter: str = ","

    def recognises(self, text: str, columns: list[str]) -> bool:
        """True if the first data line ``text`` (split into lower-case ``columns``) is ours."""
        if self.signature:
            if self.signature_leading:
                if columns[:len(self.signature)] == list(self.signature):
                    return True
            elif all(name in columns for name in self.signature):
                return True
        return self.first_row is not None and self.first_row.match(text) is not None


#: Every format, in detection order (the first spec that recognises the first data line wins;
#: Umbrella has Tranco's shape and is never detected, only chosen; plain is the fallback).
FORMAT_SPECS: dict[ToplistFormat, FormatSpec] = {spec.fmt: spec for spec in (
    FormatSpec(ToplistFormat.MAJESTIC, rank_col=0, name_col=2, header=("globalrank", "domain"),
               signature=("globalrank", "domain"), signature_leading=False),
    FormatSpec(ToplistFormat.CRUX, rank_col=1, name_col=0, header=("rank", "origin"),
               signature=("origin", "rank"), first_row=re.compile(r"(?i)https?://"),
               origin_names=True),
    FormatSpec(ToplistFormat.TRANCO, rank_col=0, name_col=1, header=("rank", "domain"),
               signature=("rank", "domain"), first_row=re.compile(r"^\s*\d+\s*,\s*[^,\s]")),
    FormatSpec(ToplistFormat.UMBRELLA, rank_col=0, name_col=1, header=("rank", "domain")),
    FormatSpec(ToplistFormat.PLAIN, rank_col=None, name_col=0, header=None),
)}


def detect_format(first_lines: list[bytes]) -> ToplistFormat:
    """Guess the format from the first lines (blank lines and ``#`` comments are skipped)."""
    for raw in first_lines:
        text = raw.removeprefix(_BOM).decode("utf-8", "replace").strip()
        if not text or text.startswith("#"):
            continue
        for spec in FORMAT_SPECS.values():
            columns = [c.strip().strip('"').lower() for c in text.split(spec.delimiter)]
            if spec.recognises(text, columns):
                return spec.fmt
        return ToplistFormat.PLAIN
    return ToplistFormat.PLAIN


def _split_row(text: str, delimiter: str = ",") -> list[str]:
    if '"' in text:
        return next(csv.reader([text], delimiter=delimiter), [])
    return text.split(delimiter)


def _host_of_origin(origin: str) -> str:
    """``https://www.example.com:8443/`` -> ``www.example.com`` (``[v6]`` literals kept whole)."""
    _, sep, rest = origin.partition("://")
    host = rest if sep else origin
    host = host.split("/", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() else host


def _rank(text: str) -> int | None:
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value > 0 else None


class _Rows:
    """Turns the decoded data lines of one format (its ``FORMAT_SPECS`` row) into (rank, name)
    or a reason code."""

    def __init__(self, fmt: ToplistFormat) -> None:
        self.fmt = fmt
        self.spec = FORMAT_SPECS[fmt]
        self.position = 0
        self.first = True
        self.rank_col, self.name_col = self.spec.rank_col or 0, self.spec.name_col

    def header(self, text: str) -> bool:
        """Read a header row (only the first data line can be one); True if it was one."""
        names = self.spec.header
        if names is None:
            return False
        columns = [c.strip().lower() for c in _split_row(text, self.spec.delimiter)]
        if not all(n in columns for n in names):
            return False
        self.rank_col, self.name_col = columns.index(names[0]), columns.index(names[1])
        return True

    def parse(self, text: str) -> tuple[int, str] | str:
        self.position += 1
        if self.spec.rank_col is None:
            return self.position, text.split("#", 1)[0]
        row = _split_row(text, self.spec.delimiter)
        if len(row) <= max(self.rank_col, self.name_col):
            return "bad_row"
        rank = _rank(row[self.rank_col])
        if rank is None:
            return "bad_rank"
        name = row[self.name_col].strip()
        return rank, _host_of_origin(name) if self.spec.origin_names else name


# --- digests, dedup, shards --------------------------------------------------------------------

#: The digest and the set of them live in ``survey.core.digests`` (the resume set uses them
#: too); ``DigestSet`` is imported from there, the old private names stay.
_digest = name_digest
_DigestSet = DigestSet


def shard_of(domain: str, shards: int) -> int:
    """The shard of a normalised name: blake2b (8 bytes, big-endian) mod ``shards``.

    Stable across machines, Python versions and runs (unlike ``hash()``).
    """
    if shards < 1:
        raise ValueError("shards must be >= 1")
    return _digest(domain) % shards


# --- reading -----------------------------------------------------------------------------------

def read_toplist(
    source: str | Path,
    *,
    fmt: ToplistFormat | None = None,
    limit: int | None = None,
    shard: tuple[int, int] | None = None,
    exclusions: Exclusions | None = None,
    stats: ToplistStats | None = None,
    own_shard_dedup: bool = False,
) -> Iterator[ToplistEntry]:
    """Stream the valid, distinct, non-excluded entries of a list (this shard's only).

    ``own_shard_dedup`` (with a shard and no ``limit``): names of other shards are skipped
    before de-duplication, so the digest set holds this shard's names only (1/N of the list's:
    at 20M names and 8 shards 34 MB a shard instead of 268 MB, docs/zone-scale.md). A duplicate
    always lands in its name's shard, so the entries are the same; the stats count this shard's
    duplicates and exclusions (``ToplistStats.own_shard_only``). ``limit`` counts distinct names
    across the whole list, so with a limit every shard still de-duplicates all of it.

    Arguments are checked now (ValueError); the file is opened on the first ``next()`` and
    closed when the iterator is exhausted or closed (use ``contextlib.closing`` to stop early).
    """
    _check_args(limit, shard)

    def entries() -> Iterator[ToplistEntry]:
        with open_toplist(source) as stream:
            yield from read_toplist_stream(stream, fmt=fmt, limit=limit, shard=shard,
                                           exclusions=exclusions, stats=stats,
                                           own_shard_dedup=own_shard_dedup)

    return entries()


def _check_args(limit: int | None, shard: tuple[int, int] | None) -> None:
    if limit is not None and limit < 0:
        raise ValueError("limit must be >= 0")
    if shard is not None and not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard}")


def read_toplist_stream(
    stream: BinaryIO,
    *,
    fmt: ToplistFormat | None = None,
    limit: int | None = None,
    shard: tuple[int, int] | None = None,
    exclusions: Exclusions | None = None,
    stats: ToplistStats | None = None,
    own_shard_dedup: bool = False,
) -> Iterator[ToplistEntry]:
    """``read_toplist`` on an open binary stream (stdin, a socket, a test's BytesIO)."""
    _check_args(limit, shard)
    stats = stats if stats is not None else ToplistStats()
    lines = _lines(stream)
    head = [line for _, line in zip(range(DETECT_LINES), lines, strict=False)]
    if fmt is None:
        fmt = detect_format([line for line in head if line is not None])
    rows = _Rows(fmt)
    seen = DigestSet()
    distinct = 0
    index, count = shard if shard is not None else (0, 1)
    own_only = own_shard_dedup and limit is None and count > 1
    stats.own_shard_only = own_only
    first_line = True
    for line in _chain(head, lines):
        if limit is not None and distinct >= limit:
            return
        stats.lines += 1
        if line is None:
            stats.reject("line_too_long", f"line {stats.lines}: over {MAX_LINE_BYTES} bytes")
            first_line = False
            continue
        if first_line:
            line = line.removeprefix(_BOM)
            first_line = False
        if b"\x00" in line:
            stats.reject("nul_byte", line)
            continue
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            stats.reject("not_utf8", line)
            continue
        if not text or text.startswith("#"):
            stats.ignored += 1
            continue
        if rows.first:
            rows.first = False
            if rows.header(text):
                stats.ignored += 1
                continue
        parsed = rows.parse(text)
        if isinstance(parsed, str):
            stats.reject(parsed, text)
            continue
        rank, raw_name = parsed
        name = normalise_domain(raw_name)
        if isinstance(name, InvalidName):
            stats.reject(name.reason, text)
            continue
        digest = _digest(name)
        if own_only and digest % count != index:
            stats.skipped_by_shard += 1  # this name's duplicates too: its shard counts them
            continue
        if not seen.add(digest):
            stats.duplicates += 1
            continue
        distinct += 1
        if exclusions is not None and exclusions.excludes_domain(name):
            stats.excluded += 1
        elif count > 1 and digest % count != index:
            stats.skipped_by_shard += 1
        else:
            stats.entries += 1
            yield ToplistEntry(rank, name)


def _chain(head: list[bytes | None], rest: Iterator[bytes | None]) -> Iterator[bytes | None]:
    yield from head
    yield from rest
