"""Sets of domain names as 64-bit digests: 8 bytes a slot instead of a ``str`` object each.

Why: the reader de-duplicates every name of a list and a resumed scan skips every finished
domain; as a ``set[str]`` the latter took ~108 bytes per domain (2.2 GB at 20M names), as
digests ~32 (docs/zone-scale.md). A digest is the first 8 bytes of the name's blake2b, stable
across machines and runs; two names of 160 million share one with probability ~0.07 %, the same
odds the reader's de-duplication has always run on.
"""

from __future__ import annotations

import hashlib
from array import array


def name_digest(domain: str) -> int:
    """blake2b (8 bytes, big-endian) of a normalised name: what shards and sets use."""
    return int.from_bytes(hashlib.blake2b(domain.encode("ascii"), digest_size=8).digest(), "big")


class DigestSet:
    """Open-addressing set of non-zero 64-bit digests in one ``array('Q')`` (8 bytes a slot)."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._table = array("Q", [0]) * capacity
        self._mask = capacity - 1
        self._size = 0

    def _find(self, digest: int) -> int:
        """The slot holding ``digest`` (non-zero), or the empty slot where it would go."""
        table, mask = self._table, self._mask
        # the slot from bits 24 and up: a shard's digests share their residue mod N (and so
        # their lowest bits when N is a power of two), which would crowd them into 1/N of the
        # slots; 40 bits index tables of up to 2^40 slots
        i = (digest >> 24) & mask
        while (slot := table[i]) != 0 and slot != digest:
            i = (i + 1) & mask
        return i

    def add(self, digest: int) -> bool:
        """Insert; False when it was already present."""
        digest = digest or 1
        i = self._find(digest)
        if self._table[i] == digest:
            return False
        self._table[i] = digest
        self._size += 1
        if self._size * 4 > len(self._table) * 3:
            self._grow()
        return True

    def __contains__(self, digest: object) -> bool:
        if not isinstance(digest, int):
            return False
        digest = digest or 1
        return self._table[self._find(digest)] == digest

    def _grow(self) -> None:
        old = self._table
        self._table = array("Q", [0]) * (2 * len(old))
        self._mask = len(self._table) - 1
        self._size = 0
        for digest in old:
            if digest:
                self.add(digest)

    def __len__(self) -> int:
        return self._size


class NameSet:
    """Names in a ``DigestSet``: ``add`` and ``in`` take the names themselves."""

    def __init__(self) -> None:
        self.digests = DigestSet()

    def add(self, domain: str) -> bool:
        return self.digests.add(name_digest(domain))

    def update(self, domains: list[str]) -> None:
        for domain in domains:
            self.digests.add(name_digest(domain))

    def __contains__(self, domain: object) -> bool:
        return isinstance(domain, str) and name_digest(domain) in self.digests

    def __len__(self) -> int:
        return len(self.digests)
