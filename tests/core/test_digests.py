"""Name sets as 64-bit digests: membership through growth; the reader shards by the same digest."""

from __future__ import annotations

import hashlib

from survey.core.digests import DigestSet, NameSet, name_digest
from survey.toplist import reader


def test_name_set_keeps_every_name_through_its_growth() -> None:
    names = NameSet()
    added = [f"n{i}.example" for i in range(200_000)]  # past 3/4 of 2^16 and 2^17 slots: grows
    for name in added:
        assert names.add(name)
    assert not names.add("n7.example") and len(names) == len(added)
    assert all(name in names for name in added[::997])
    assert "other.example" not in names and 42 not in names


def test_digest_set_contains_digests_and_treats_zero_as_one() -> None:
    digests = DigestSet(4)
    assert digests.add(0) and 1 in digests and 0 in digests and not digests.add(1)
    assert "text" not in digests


def test_the_reader_and_the_shards_use_the_same_digest() -> None:
    assert reader.DigestSet is DigestSet
    assert reader.shard_of("example.com", 7) == name_digest("example.com") % 7
    assert name_digest("example.com") == int.from_bytes(
        hashlib.blake2b(b"example.com", digest_size=8).digest(), "big")
