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
from typing import Any

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


def _resolver(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")  # the manifest always writes HOST:PORT (IPv6 unbracketed)
    return host, int(port)


def _path(value: Any) -> Path | None:
    return None if value is None else Path(str(value))


#: argparse dest -> (manifest option key, how to turn the saved value back into the option's).
_SAVED: dict[str, tuple[str, Any]] = {
    "toplist": ("toplist_path", str),
    "format": ("format", str),
    "limit": ("limit", int),
    "shard": ("shard", str),
    "exclude": ("exclude", _path),
    "smtp": ("smtp", bool),
    "https_port": ("https_port", int),
    "smtp_port": ("smtp_port", int),
    "allow_private": ("allow_private", bool),
    "toplist_name": ("toplist_name", str),
    "toplist_date": ("toplist_date", str),
    "resolver": ("resolvers", lambda v: [_resolver(r) for r in v] or None),
    "rate": ("rate", float),
    "concurrency": ("concurrency", int),
    "max_concurrency": ("max_concurrency", int),
    "per_destination": ("per_destination", int),
    "timeout": ("timeout", float),
    "dns_timeout": ("dns_timeout", float),
    "retries": ("retries", int),
    "ca_bundle": ("ca_bundle", _path),
    "ehlo_name": ("ehlo_name", str),
    "contact": ("contact", str),
    "vantage_point": ("vantage_point", str),
    "part_rows": ("part_rows", int),
    "part_seconds": ("part_seconds", float),
    "dns_backoff": ("dns_backoff", float),
    "dns_sockets": ("dns_sockets", int),
    "tlsa": ("tlsa", str),
    "dnssec_check": ("dnssec_check", str),
}


def saved_options(manifest: dict[str, Any]) -> dict[str, Any]:
    """The scan options (argparse dests) a run's manifest records, ready to fill unset options.

    ``scan --retry-errors OUT`` needs nothing but OUT: the toplist and every option come from
    here unless given again on the command line. Options the manifest does not hold (older
    manifests) or holds as null are left out, so they take the command's defaults.
    """
    options = manifest.get("options")
    if not isinstance(options, dict):
        return {}
    found: dict[str, Any] = {}
    for dest, (key, convert) in _SAVED.items():
        value = options.get(key)
        if value is not None:
            converted = convert(value)
            if converted is not None:
                found[dest] = converted
    if isinstance(manifest.get("run_date"), str):
        found["run_date"] = manifest["run_date"]
    return found


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
