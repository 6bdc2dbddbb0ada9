"""Toplist reading: formats, detection, ranks, normalisation, dedup, limit, shards, exclusions.

Sources other than paths: test_toplist_sources.py; hostile input: test_toplist_bad_input.py.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.core.exclusions import Exclusions
from survey.core.names import InvalidName, normalise_domain
from survey.toplist.reader import (
    FORMAT_SPECS,
    INVALID_REASONS,
    MAX_LINE_BYTES,
    DigestSet,
    ToplistEntry,
    ToplistFormat,
    ToplistStats,
    detect_format,
    open_toplist,
    read_toplist,
    read_toplist_stream,
    shard_of,
)


def read(data: bytes, **kwargs: object) -> tuple[list[ToplistEntry], ToplistStats]:
    stats = ToplistStats()
    entries = list(read_toplist_stream(io.BytesIO(data), stats=stats, **kwargs))  # type: ignore[arg-type]
    return entries, stats


def pairs(entries: list[ToplistEntry]) -> list[tuple[int, str]]:
    return [(e.rank, e.domain) for e in entries]


# --- formats and detection ---------------------------------------------------------------------

TRANCO = b"1,google.com\n2,facebook.com\n3,Example.ORG.\n"
MAJESTIC = (b"GlobalRank,TldRank,Domain,TLD,RefSubNets,RefIPs,IDN_Domain,IDN_TLD\n"
            b"1,1,google.com,com,1,1,google.com,com\n"
            b"2,2,facebook.com,com,1,1,facebook.com,com\n")
CRUX = (b"origin,rank\nhttps://www.google.com,1000\nhttp://example.org:8080,1000\n"
        b"https://www.example.net/,5000\n")
PLAIN = b"# a comment\n\ngoogle.com\nfacebook.com  # inline comment\n\nexample.org\n"


@pytest.mark.parametrize(("data", "fmt", "expected"), [
    (TRANCO, ToplistFormat.TRANCO, [(1, "google.com"), (2, "facebook.com"), (3, "example.org")]),
    (MAJESTIC, ToplistFormat.MAJESTIC, [(1, "google.com"), (2, "facebook.com")]),
    (CRUX, ToplistFormat.CRUX,
     [(1000, "www.google.com"), (1000, "example.org"), (5000, "www.example.net")]),
    (PLAIN, ToplistFormat.PLAIN, [(1, "google.com"), (2, "facebook.com"), (3, "example.org")]),
])
def test_formats_detected_and_read(data: bytes, fmt: ToplistFormat,
                                   expected: list[tuple[int, str]]) -> None:
    assert detect_format(data.splitlines()[:5]) is fmt
    entries, stats = read(data)
    assert pairs(entries) == expected
    assert stats.entries == len(expected)
    assert stats.lines == len(data.splitlines())
    assert not stats.invalid
    assert pairs(read(data, fmt=fmt)[0]) == expected


def test_every_format_has_one_spec() -> None:
    """Detection and parsing read ``FORMAT_SPECS``: a format without a row would KeyError."""
    assert set(FORMAT_SPECS) == set(ToplistFormat)
    assert all(fmt is spec.fmt for fmt, spec in FORMAT_SPECS.items())
    for spec in FORMAT_SPECS.values():
        if spec.header is None:
            continue
        rank_col, name_col = spec.header  # a header row names its columns, in either order
        name = "https://example.org:443/" if spec.origin_names else "example.org"
        text = f"{name_col},{rank_col}\n{name},7\n"
        assert list(read_toplist_stream(io.BytesIO(text.encode()), fmt=spec.fmt)) == [
            ToplistEntry(7, "example.org")]


def test_detection_details() -> None:
    assert detect_format([b"\xef\xbb\xbf1,google.com"]) is ToplistFormat.TRANCO
    assert detect_format([b"rank,domain", b"1,a.com"]) is ToplistFormat.TRANCO
    assert detect_format([b"# hi", b"", b"1,a.com"]) is ToplistFormat.TRANCO
    assert detect_format([b"https://a.com,1000"]) is ToplistFormat.CRUX
    assert detect_format([b'"GlobalRank","TldRank","Domain"']) is ToplistFormat.MAJESTIC
    assert detect_format([b"google.com"]) is ToplistFormat.PLAIN
    assert detect_format([]) is ToplistFormat.PLAIN
    assert detect_format([b"\xff\xfe\x00garbage"]) is ToplistFormat.PLAIN


def test_headers_and_column_order_from_header() -> None:
    entries, stats = read(b"rank,domain\n5,a.com\n9,b.com\n")
    assert pairs(entries) == [(5, "a.com"), (9, "b.com")] and stats.ignored == 1
    # Majestic columns located by name, not position; quoted CSV
    data = b'"Domain","x","GlobalRank"\n"a.com","y","7"\n'
    assert pairs(read(data, fmt=ToplistFormat.MAJESTIC)[0]) == [(7, "a.com")]
    # CrUX without a header
    assert pairs(read(b"https://a.com,1000\n")[0]) == [(1000, "a.com")]


def test_umbrella_is_the_tranco_shape() -> None:
    assert pairs(read(TRANCO, fmt=ToplistFormat.UMBRELLA)[0])[0] == (1, "google.com")


def test_bad_rows_and_ranks_counted() -> None:
    entries, stats = read(b"1,a.com\nx,b.com\n0,c.com\n4\n5,\n6,d.com\n")
    assert pairs(entries) == [(1, "a.com"), (6, "d.com")]
    assert stats.invalid == {"bad_rank": 2, "bad_row": 1, "empty": 1}
    assert stats.examples["bad_rank"] == "x,b.com"


def test_plain_ranks_count_invalid_lines_not_comments() -> None:
    entries, stats = read(b"# c\na.com\nbad_name.com\n\nb.com\n")
    assert pairs(entries) == [(1, "a.com"), (3, "b.com")]
    assert stats.invalid == {"underscore": 1} and stats.ignored == 2


# --- files, compression, stdin -----------------------------------------------------------------

def test_plain_gz_and_zip_files(tmp_path: Path) -> None:
    expected = [(1, "google.com"), (2, "facebook.com"), (3, "example.org")]
    plain = tmp_path / "list.csv"
    plain.write_bytes(TRANCO)
    gz = tmp_path / "list.csv.gz"
    gz.write_bytes(gzip.compress(TRANCO))
    oddly_named = tmp_path / "list.dat"  # compression recognised by content, not name
    oddly_named.write_bytes(gzip.compress(TRANCO))
    bzipped = tmp_path / "list.bz2"
    bzipped.write_bytes(bz2.compress(TRANCO))
    xzipped = tmp_path / "list.xz"
    xzipped.write_bytes(lzma.compress(TRANCO))
    zipped = tmp_path / "tranco_6P7X-1m.csv.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", "not the list")
        archive.writestr("top-1m.csv", TRANCO)
    first_member = tmp_path / "one.zip"
    with zipfile.ZipFile(first_member, "w") as archive:
        archive.writestr("list.txt", PLAIN)
    for path in (plain, gz, oddly_named, bzipped, xzipped, zipped, first_member):
        assert pairs(list(read_toplist(path))) == expected, path
        assert pairs(list(read_toplist(str(path)))) == expected, path


def test_open_toplist_yields_a_binary_stream(tmp_path: Path) -> None:
    path = tmp_path / "l.gz"
    path.write_bytes(gzip.compress(b"a.com\n"))
    with open_toplist(path) as stream:
        assert stream.readline() == b"a.com\n"


@pytest.mark.slow
def test_stdin_in_a_subprocess() -> None:  # plain, gzip and zip (spooled) on stdin
    code = ("from survey.toplist.reader import read_toplist\n"
            "for e in read_toplist('-'): print(e.rank, e.domain)\n")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("top-1m.csv", TRANCO)
    for data in (TRANCO, gzip.compress(TRANCO), zipped.getvalue()):
        out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True,
                             check=True, timeout=60).stdout
        assert out.decode().split("\n")[:3] == ["1 google.com", "2 facebook.com", "3 example.org"]


def test_missing_file_raises() -> None:
    with pytest.raises(FileNotFoundError):
        list(read_toplist("/nonexistent/list.csv"))


# --- normalisation -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("Example.COM", "example.com"),
    ("example.com.", "example.com"),
    ("  example.com  ", "example.com"),
    ("Bücher.de", "xn--bcher-kva.de"),  # Latin
    ("ЯНДЕКС.рф", "xn--d1acpjx3f.xn--p1ai"),  # Cyrillic, upper case mapped
    ("例え.テスト", "xn--r8jz45g.xn--zckzah"),  # Japanese
    ("مثال.إختبار", "xn--mgbh0fb.xn--kgbechtv"),  # Arabic
    ("münchen。de", "xn--mnchen-3ya.de"),  # ideographic full stop (UTS #46)
    ("ß.de", "xn--zca.de"),  # IDNA 2008: not mapped to "ss"
    ("XN--BCHER-KVA.de", "xn--bcher-kva.de"),  # valid A-label kept
    ("r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"),  # LDH, legal in DNS
    ("a" * 63 + ".com", "a" * 63 + ".com"),
    (".".join(["a" * 63] * 3 + ["b" * 61]), ".".join(["a" * 63] * 3 + ["b" * 61])),  # 253
    ("a.ai", "a.ai"),
])
def test_normalise_valid(name: str, expected: str) -> None:
    assert normalise_domain(name) == expected
    assert len(expected) <= 253


@pytest.mark.parametrize(("name", "reason"), [
    ("", "empty"),
    (".", "empty"),
    ("a\x00b.com", "nul_byte"),
    ("1.2.3.4", "ip_address"),
    ("::1", "ip_address"),
    ("[2001:db8::1]", "ip_address"),
    ("a..com", "empty_label"),
    (".a.com", "empty_label"),
    ("_dmarc.example.com", "underscore"),
    ("my_host.example.com", "underscore"),
    ("a b.com", "bad_character"),
    ("*.example.com", "bad_character"),
    ("exa$mple.com", "bad_character"),
    ("-a.com", "hyphen"),
    ("a-.com", "hyphen"),
    ("a" * 64 + ".com", "label_too_long"),
    (".".join(["a" * 63] * 3 + ["b" * 62]), "too_long"),  # 254
    ("localhost", "single_label"),
    ("com", "single_label"),
    ("foo.123", "numeric_tld"),
    ("xn--zz.com", "idna"),  # not valid punycode
    ("xn--ls8h.la", "idna"),  # decodes to an emoji: not IDNA 2008
    ("☃\u200d.com", "idna"),  # ZWJ outside its context
])
def test_normalise_invalid(name: str, reason: str) -> None:
    assert normalise_domain(name) == InvalidName(reason)


def test_single_label_allowed_on_request() -> None:
    assert normalise_domain("COM", allow_single_label=True) == "com"


# --- bad content never raises --------------------------------------------------------------------

def test_line_level_problems_counted() -> None:
    data = (b"\xef\xbb\xbf1,first.com\r\n"  # BOM at file start, CRLF
            b"2,a\x00b.com\r\n"
            b"3,\xff\xfe.com\r\n"
            b"4,caf\xc3\xa9.fr\r\n"  # valid UTF-8 IDN
            b"5," + b"x" * MAX_LINE_BYTES + b"\r\n"
            b"6,last.com")  # no final newline
    entries, stats = read(data)
    assert pairs(entries) == [(1, "first.com"), (4, "xn--caf-dma.fr"), (6, "last.com")]
    assert stats.invalid == {"nul_byte": 1, "not_utf8": 1, "line_too_long": 1}
    assert stats.lines == 6
    assert "\\xff" in stats.examples["not_utf8"]
    assert all(len(example) <= 100 for example in stats.examples.values())
    assert any("line_too_long" in line for line in stats.summary_lines())


def test_line_length_boundary() -> None:
    exact = b"1," + b"a" * (MAX_LINE_BYTES - 2)  # fits as a line; the name is what is wrong
    _, stats = read(exact + b"\r\n" + exact + b"a\n" + exact + b"aa")
    assert stats.invalid == {"label_too_long": 1, "line_too_long": 2}
    assert stats.lines == 3


def test_binary_garbage_file() -> None:
    garbage = random.Random(7).randbytes(1 << 20)
    entries, stats = read(b"#" + garbage)  # '#' so that no decompressor claims it
    assert stats.lines > 1000
    assert sum(stats.invalid.values()) + stats.ignored + stats.entries == stats.lines
    assert stats.invalid["not_utf8"] > 0 and stats.invalid["nul_byte"] > 0
    assert len(entries) == stats.entries


# A 1 GiB single line: tests/toplist/test_toplist_bad_input.py.


# --- duplicates, limit, shards, exclusions -----------------------------------------------------

def test_duplicates_after_normalisation_yielded_once() -> None:
    data = "1,a.com\n2,A.COM.\n3,b.com\n4,a.com\n5,bücher.de\n6,xn--bcher-kva.de\n".encode()
    entries, stats = read(data)
    assert pairs(entries) == [(1, "a.com"), (3, "b.com"), (5, "xn--bcher-kva.de")]
    assert stats.duplicates == 3


def test_digest_set_grows_and_dedups() -> None:
    seen = DigestSet(capacity=4)
    values = [*range(1, 50_000, 7), 2**64 - 1]
    assert all(seen.add(v) for v in values)
    assert not any(seen.add(v) for v in values)
    assert len(seen) == len(values)
    assert seen.add(0) is False  # 0 is the empty marker: stored as 1, which is present


def numbered(n: int) -> bytes:
    return b"".join(b"%d,d%d.com\n" % (i, i) for i in range(1, n + 1))


def test_limit_counts_distinct_valid_names() -> None:
    data = b"1,a.com\n2,bad_.com\n3,a.com\n4,b.com\n5,c.com\n6,d.com\n"
    entries, stats = read(data, limit=3)
    assert pairs(entries) == [(1, "a.com"), (4, "b.com"), (5, "c.com")]
    assert stats.lines == 5  # reading stopped after the third distinct name
    assert read(data, limit=0)[0] == []


def test_shards_partition_the_list() -> None:
    data = numbered(3000)
    everything = {e.domain for e in read(data)[0]}
    assert len(everything) == 3000
    seen: list[str] = []
    for i in range(4):
        entries, stats = read(data, shard=(i, 4))
        assert {shard_of(e.domain, 4) for e in entries} <= {i}
        assert stats.skipped_by_shard == 3000 - len(entries)
        assert 600 < len(entries) < 900  # roughly even
        seen.extend(e.domain for e in entries)
    assert sorted(seen) == sorted(everything)  # each name in exactly one shard


def test_limit_is_applied_before_the_shard_split() -> None:
    data = numbered(500)
    union = [e for i in range(3) for e in read(data, limit=100, shard=(i, 3))[0]]
    assert sorted(e.rank for e in union) == list(range(1, 101))


def test_shard_values_are_pinned() -> None:
    # blake2b(name, digest_size=8), big-endian, mod n: the same on every machine and Python
    assert [shard_of("example.com", n) for n in (2, 7, 1000)] == [0, 2, 710]
    assert [shard_of("google.com", n) for n in (2, 7, 1000)] == [0, 0, 2]
    assert [shard_of("wikipedia.org", n) for n in (2, 7, 1000)] == [1, 0, 3]
    assert [shard_of("xn--bcher-kva.de", n) for n in (2, 7, 1000)] == [0, 0, 436]
    assert shard_of("example.com", 1) == 0
    with pytest.raises(ValueError):
        shard_of("example.com", 0)


@pytest.mark.parametrize("kwargs", [{"shard": (3, 3)}, {"shard": (-1, 2)}, {"shard": (0, 0)},
                                    {"limit": -1}])
def test_bad_arguments_raise_at_call_time(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        read_toplist("/nonexistent", **kwargs)  # type: ignore[arg-type]


def test_exclusions_by_domain_and_suffix() -> None:
    exclusions = Exclusions.from_lines(["example.org", "*.gov", "# comment", "10.0.0.0/8"])
    data = b"1,example.org\n2,www.example.org\n3,notexample.org\n4,nasa.gov\n5,a.com\n"
    entries, stats = read(data, exclusions=exclusions)
    assert pairs(entries) == [(3, "notexample.org"), (5, "a.com")]
    assert stats.excluded == 3
    assert "excluded          3" in stats.summary_lines()[3]


# --- properties --------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)
STRICT_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}")


def accounted(stats: ToplistStats) -> bool:
    """Every physical line ended up in exactly one bucket."""
    return stats.lines == (stats.entries + stats.duplicates + stats.excluded
                           + stats.skipped_by_shard + stats.ignored + sum(stats.invalid.values()))


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(st.text(max_size=80) | st.from_regex(r"[A-Za-z0-9._-]{1,70}", fullmatch=True))
def test_normalise_never_raises_and_is_idempotent(name: str) -> None:
    result = normalise_domain(name)
    if isinstance(result, InvalidName):
        assert result.reason in INVALID_REASONS
    else:
        assert STRICT_NAME.fullmatch(result) and len(result) <= 253, result
        assert normalise_domain(result) == result


LIST_LINES = [b"1,a.com", b"2,A.COM.", b"x_y.org", "b\u00fccher.de".encode(), b"# c", b"",
              b"\xff\xfe", b"https://q.net,1000", b"rank,domain", b"3,b.org", b"c.net", b"\x00",
              b"GlobalRank,TldRank,Domain", b"1,1,d.io", b"\xef\xbb\xbf", b"7,1.2.3.4"]
LISTISH = st.lists(st.sampled_from(LIST_LINES), max_size=40).map(b"\r\n".join)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(st.binary(max_size=3000) | LISTISH, st.sampled_from([None, *ToplistFormat]),
       st.integers(min_value=1, max_value=4))
def test_any_bytes_are_read_without_raising(data: bytes, fmt: ToplistFormat | None,
                                            shards: int) -> None:
    seen: set[str] = set()
    for i in range(shards):
        entries, stats = read(data, fmt=fmt, shard=(i, shards))
        assert accounted(stats)
        assert set(stats.invalid) <= INVALID_REASONS
        names = [e.domain for e in entries]
        assert len(names) == len(set(names)) and not seen & set(names)
        seen.update(names)


def test_own_shard_dedup_gives_the_same_entries_and_holds_only_its_names() -> None:
    rng = random.Random(7)
    names = [f"n{rng.randrange(1500)}.com" for _ in range(3000)]  # ~1,300 distinct, repeats
    data = b"rank,domain\n" + b"".join(b"%d,%s\n" % (i, n.encode()) for i, n in
                                         enumerate([*names, "bad_.com", "x.gov"], 1))
    exclusions = Exclusions.from_lines(["*.gov", "n1.com", "n2.com"])
    whole, whole_stats = read(data, exclusions=exclusions)
    total = ToplistStats()
    union: list[tuple[int, str]] = []
    for i in range(4):
        entries, stats = read(data, shard=(i, 4), exclusions=exclusions, own_shard_dedup=True)
        plain, _ = read(data, shard=(i, 4), exclusions=exclusions)
        assert pairs(entries) == pairs(plain)  # the same entries, in the same order
        assert stats.own_shard_only and accounted(stats)
        assert stats.lines == whole_stats.lines and stats.invalid == whole_stats.invalid
        total.duplicates += stats.duplicates
        total.excluded += stats.excluded
        union += pairs(entries)
    # summed over the shards, this shard's duplicates and exclusions are the list's
    assert (total.duplicates, total.excluded) == (whole_stats.duplicates, whole_stats.excluded)
    assert sorted(union) == sorted(pairs(whole))
    # with a limit the population is the list's first N distinct names: whole-list dedup
    limited, stats = read(data, shard=(0, 4), limit=100, own_shard_dedup=True)
    assert not stats.own_shard_only
    assert pairs(limited) == pairs(read(data, shard=(0, 4), limit=100)[0])


def test_accounting_on_a_mixed_list() -> None:
    data = b"# c\nrank,domain\n1,a.com\n2,a.com\n3,b.org\n4,bad_.com\n\n5,c.net\n"
    exclusions = Exclusions.from_lines(["b.org"])
    entries, stats = read(data, exclusions=exclusions, shard=(0, 2))
    assert accounted(stats) and stats.lines == 8
    assert len(entries) + stats.skipped_by_shard == 2  # a.com, c.net
    assert (stats.duplicates, stats.excluded, stats.ignored) == (1, 1, 3)
