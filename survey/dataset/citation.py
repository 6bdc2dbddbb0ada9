"""What a survey cites: the toplist's identity (provider, list id, date) from its name or file.

A survey is reproducible only if the list it measured can be named: Tranco lists have an id
(``tranco_6P7X.csv``, ``--toplist-name tranco-6P7X``), the other providers' lists a date
(``top-1m-2026-11-28.csv``, ``majestic-2026-11-28``, CrUX's monthly ``crux-202610``). The
identity goes into the manifest, the snapshot's name and its datasheet's citation. Pure.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

#: Compression and archive suffixes a toplist file name may carry after its own.
_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".csv", ".txt")
#: Tranco's ids are upper-case letters and digits (``6P7X``, ``X5KNN``): ``tranco-list`` is none.
#: A date after ``tranco_`` is no id (``tranco_2026-12-01.csv``).
_TRANCO = re.compile(r"(?i:tranco)[-_](?!\d{4}-?\d{2}-?\d{2})([A-Z0-9]{4,6})(?:[-_.].*)?")
_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
_MONTH = re.compile(r"(\d{4})-?(\d{2})")
_PROVIDERS = {"umbrella": "Cisco Umbrella popularity list", "top-1m": "Cisco Umbrella "
              "popularity list", "majestic": "Majestic Million", "crux": "Chrome UX Report "
              "(CrUX) top origins", "tranco": "Tranco list"}


@dataclass(frozen=True, slots=True)
class ToplistIdentity:
    """A toplist as a citation names it; every field but ``name`` may be unknown (None)."""

    name: str  # what rows and snapshot names carry, e.g. tranco-6P7X
    provider: str | None = None  # tranco | umbrella | majestic | crux
    list_id: str | None = None  # Tranco's list id
    date: str | None = None  # YYYY-MM-DD (CrUX: the first day of its month)

    @property
    def citation(self) -> str:
        """The list as a paper's method section names it."""
        if self.provider == "tranco" and self.list_id:
            return (f"Tranco list {self.list_id} (Le Pochat et al., NDSS 2019), "
                    f"https://tranco-list.eu/list/{self.list_id}/1000000")
        if self.provider == "crux" and self.date:
            return f"{_PROVIDERS['crux']}, release {self.date[:7]}"
        if self.provider in _PROVIDERS:
            when = f" of {self.date}" if self.date else " (date unknown)"
            return f"{_PROVIDERS[self.provider]}{when}"
        return f"toplist {self.name}" + (f" of {self.date}" if self.date else "")

    def manifest_fields(self) -> dict[str, Any]:
        """What the manifest's ``toplist`` object records beside name, path, date, format."""
        return {"provider": self.provider, "list_id": self.list_id,
                "citation": self.citation}


def _stem(text: str) -> str:
    """The file name without directories, compression and format suffixes."""
    name = PurePosixPath(text.rstrip("/")).name
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name, changed = name[: -len(suffix)], True
    return name


def _valid_date(year: str, month: str, day: str) -> str | None:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _date_in(text: str, *, monthly: bool = False) -> str | None:
    for match in _DATE.finditer(text):
        found = _valid_date(match.group(1), match.group(2), match.group(3))
        if found is not None:
            return found
    if monthly:
        for match in _MONTH.finditer(text):
            found = _valid_date(match.group(1), match.group(2), "01")
            if found is not None:
                return found
    return None


def identify(name_or_path: str) -> ToplistIdentity:
    """The identity a toplist name (``tranco-6P7X``) or file (``/data/tranco_6P7X-1m.csv.zip``)
    states; a name that states nothing is kept as it is, without provider, id or date."""
    stem = _stem(name_or_path)
    tranco = _TRANCO.fullmatch(stem)
    if tranco is not None:
        list_id = tranco.group(1)
        return ToplistIdentity(f"tranco-{list_id}", "tranco", list_id)
    lowered = stem.lower()
    for prefix in ("umbrella", "top-1m", "majestic", "crux"):
        if lowered.startswith(prefix):
            provider = "umbrella" if prefix == "top-1m" else prefix
            date = _date_in(stem[len(prefix):], monthly=provider == "crux")
            if prefix == "top-1m" and date is None:
                break  # Tranco's and Umbrella's archives both hold a plain top-1m.csv
            name = f"{provider}-{date}" if date and provider != "crux" else (
                f"crux-{date[:7]}" if date else stem)
            return ToplistIdentity(name, provider, None, date)
    return ToplistIdentity(stem or name_or_path, None, None, _date_in(stem))


def default_name(source: str) -> str:
    """The toplist name of a scan without ``--toplist-name``: the identity the file name
    states (``tranco_6P7X.csv`` -> ``tranco-6P7X``), else the file name as it is."""
    if source == "-":
        return "stdin"
    identity = identify(source)
    file_name = source.rstrip("/").rsplit("/", 1)[-1]
    return identity.name if identity.list_id or identity.date else file_name
