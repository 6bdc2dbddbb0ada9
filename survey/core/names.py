"""Host names as the survey keeps them: lower-case ASCII (A-labels), no trailing dot.

``normalise_domain`` gives that form or an ``InvalidName`` whose ``reason`` is a stable code (the
toplist reader counts them; ``survey.toplist.reader``'s docstring lists every code). Pure: the
toplist reader, the exclusion list and the probes share it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna


@dataclass(frozen=True, slots=True)
class InvalidName:
    """Why a name was rejected: a stable snake_case code (listed in ``survey.toplist.reader``)."""

    reason: str


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_VALID_ASCII = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")
_LDH = re.compile(r"[a-z0-9-]*")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})  # UTS #46 full stops


def _is_ip(name: str) -> bool:
    candidate = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _diagnose(name: str, min_labels: int) -> InvalidName | None:
    """The first problem of a lower-case ASCII name, or None when it is a valid host name."""
    labels = name.split(".")
    for label in labels:
        if not label:
            return InvalidName("empty_label")
        if "_" in label:
            return InvalidName("underscore")
        if not _LDH.fullmatch(label):
            return InvalidName("bad_character")
        if len(label) > 63:
            return InvalidName("label_too_long")
        if label[0] == "-" or label[-1] == "-":
            return InvalidName("hyphen")
    if len(name) > 253:
        return InvalidName("too_long")
    if len(labels) < min_labels:
        return InvalidName("single_label")
    if labels[-1].isdigit():
        return InvalidName("numeric_tld")
    if "xn--" in name:
        for label in labels:
            if label.startswith("xn--"):
                try:
                    idna.decode(label)
                except (idna.IDNAError, UnicodeError):
                    return InvalidName("idna")
    return None


def _to_ascii(name: str) -> str | InvalidName:
    """UTS #46 mapping and IDNA 2008 encoding of the non-ASCII labels of ``name``."""
    try:
        mapped = idna.uts46_remap(name.translate(_DOTS), std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError):
        return InvalidName("idna")
    labels = []
    for label in mapped.split("."):
        if label.isascii():
            labels.append(label)
            continue
        try:
            labels.append(idna.alabel(label).decode("ascii"))
        except (idna.IDNAError, UnicodeError):
            return InvalidName("idna")
    return ".".join(labels)


def a_labels(name: str) -> str | None:
    """``name`` with its U-labels as A-labels (UTS #46, IDNA 2008), or None when it cannot be.

    For sender profiles that match MX host names in IDNA form (``SenderProfile.idna``).
    """
    converted = _to_ascii(name)
    return None if isinstance(converted, InvalidName) else converted


def normalise_domain(name: str, *, allow_single_label: bool = False) -> str | InvalidName:
    """Lower-case ASCII form of a host name, or why it is not one (see the module docstring).

    ``allow_single_label`` is for exclusion lists, where a bare TLD is a meaningful entry.
    """
    name = name.strip()
    if "\x00" in name:
        return InvalidName("nul_byte")
    if name.endswith("."):
        name = name[:-1]
    if not name:
        return InvalidName("empty")
    if not name.isascii():
        converted = _to_ascii(name)
        if isinstance(converted, InvalidName):
            return converted
        name = converted
    name = name.lower()
    valid = _VALID_ASCII.fullmatch(name) and len(name) <= 253 and "xn--" not in name
    if valid and not name.rpartition(".")[2].isdigit():
        return name
    if _is_ip(name):
        return InvalidName("ip_address")
    problem = _diagnose(name, 1 if allow_single_label else 2)
    return problem if problem is not None else name
