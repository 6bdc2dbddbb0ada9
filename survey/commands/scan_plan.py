"""What a `scan` session will do, decided before any probe: dates, saved options, the bar's total.

Pure functions (plus one bounded file read), so that each rule is tested without a network:
a strict date option, the options ``--retry-errors OUT`` takes back from OUT's manifest, and the
number of domains the progress bar expects (its ETA).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

from survey.dataset.manifest import saved_options as saved_options

#: Files larger than this are not counted for the progress total (bounded start-up time).
COUNT_MAX_BYTES = 2_000_000_000
#: Magic bytes of the compressed forms `toplist.reader` opens by content (zip, gzip, bzip2, xz).
_COMPRESSED = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(option: str, text: str) -> str:
    """``YYYY-MM-DD`` exactly (``date.fromisoformat`` alone also takes ``20261101``, weeks...);
    ValueError with a message naming the option."""
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected a date as YYYY-MM-DD") from None


def count_lines(source: str, *, max_bytes: int = COUNT_MAX_BYTES) -> int | None:
    """Lines of a plain toplist file (a last line without newline counts), read in 1 MiB blocks;
    None for stdin, a compressed or zipped list, an unreadable file or one over ``max_bytes``,
    where counting would cost a decompression or too long a wait before the scan starts."""
    if source == "-":
        return None
    try:
        path = Path(source)
        if not path.is_file() or path.stat().st_size > max_bytes:
            return None
        lines, last = 0, b"\n"
        with path.open("rb") as handle:
            first = handle.read(6)
            if first.startswith(_COMPRESSED):
                return None
            block = first
            while block:
                lines += block.count(b"\n")
                last = block[-1:]
                block = handle.read(1 << 20)
    except OSError:
        return None
    return lines + (last != b"\n")


def progress_total(lines: int | None, *, limit: int | None, shards: int = 1,
                   done: int = 0) -> int | None:
    """Domains this session should scan, for the bar's total and ETA; None when unknown.

    ``lines``: the list's lines (an upper bound: headers, comments, invalid lines and
    duplicates are not domains); ``limit``: ``--limit``, taken before the shard split, so one
    ``--shard I/N`` expects a 1/N share of it; ``done``: rows already written by earlier
    sessions of this run, which the bar does not count again.
    """
    bounds = [n for n in (lines, limit) if n is not None]
    if not bounds:
        return None
    return max(math.ceil(min(bounds) / shards) - done, 0)
