"""Hostile toplist input (issue 9): a 1 GiB single line, and IDN names in every script."""

from __future__ import annotations

import io
import time
import tracemalloc
import unicodedata
from typing import Any

import idna
import pytest

from survey.core.names import InvalidName, normalise_domain
from survey.toplist.reader import ToplistStats, read_toplist_stream

GIB = 1 << 30


class LongLine(io.RawIOBase):
    """``head``, then ``size`` bytes of ``a`` made on demand (never held), then ``tail``."""

    FILL = b"a" * (1 << 16)

    def __init__(self, head: bytes, size: int, tail: bytes) -> None:
        self.pending: list[bytes | int] = [head, size, tail]
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        while self.pending:
            part = self.pending[0]
            if isinstance(part, int):
                n = min(len(view), part, len(self.FILL))
                view[:n] = self.FILL[:n]
                self.pending[0] = part - n
            else:
                n = min(len(view), len(part))
                view[:n], self.pending[0] = part[:n], part[n:]
            if n:
                self.produced += n
                return n
            self.pending.pop(0)
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("tail", [b"\n3,last.com\n", b""], ids=["line-follows", "at-eof"])
def test_one_gib_single_line_is_counted_not_held(tail: bytes) -> None:
    """A real 1 GiB line streamed through the reader: counted as ``line_too_long``, the lines
    around it still read, and never in memory (tracemalloc peak under 1 MiB; the reader holds
    at most one 64 KiB chunk of it). It costs about 0.2 s of CPU (time.process_time)."""
    head = b"1,first.com\n"
    raw = LongLine(head, GIB, tail)
    stats = ToplistStats()
    tracemalloc.start()
    cpu = time.process_time()
    try:
        entries = list(read_toplist_stream(io.BufferedReader(raw, 1 << 16), stats=stats))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    cpu = time.process_time() - cpu
    expected = [(1, "first.com")] + ([(3, "last.com")] if tail else [])
    assert [(e.rank, e.domain) for e in entries] == expected
    assert raw.produced == len(head) + GIB + len(tail)  # the whole line really went through
    assert stats.invalid == {"line_too_long": 1}
    assert stats.lines == 2 + bool(tail)
    assert stats.examples["line_too_long"] == "line 2: over 4096 bytes"
    assert peak < 1 << 20, peak
    assert cpu < 10, cpu  # measured ~0.2 s: a regression to per-byte work would show here


# --- IDN in every script -----------------------------------------------------------------------

def punycode(name: str) -> str:
    """The A-label form computed without the ``idna`` package: the stdlib's RFC 3492 codec."""
    return ".".join(label if label.isascii() else "xn--" + label.encode("punycode").decode()
                    for label in name.split("."))


# (script, a lower-case NFC name, its A-label as published (IANA's 2007 test TLDs, the IDN
# ccTLDs and gTLDs in the root zone), or None where only the computed form is checked)
SCRIPTS = [
    ("Greek", "δοκιμή.ελ", "xn--jxalpdlp.xn--qxam"),
    ("Cyrillic", "испытание.рф", "xn--80akhbyknj4f.xn--p1ai"),
    ("Arabic", "إختبار.مصر", "xn--kgbechtv.xn--wgbh1c"),
    ("Hebrew", "טעסט.ישראל", "xn--deba0ad.xn--4dbrk0ce"),
    ("Devanagari", "परीक्षा.भारत", "xn--11b5bs3a9aj6g.xn--h2brj9c"),
    ("Thai", "ตัวอย่าง.ไทย", None),
    ("Thai TLD", "ไทย.th", "xn--o3cw4h.th"),
    ("Hangul", "테스트.한국", "xn--9t4b11yi5a.xn--3e0b707e"),
    ("Han simplified", "测试.中国", "xn--0zwm56d.xn--fiqs8s"),
    ("Han traditional", "測試.中國", "xn--g6w251d.xn--fiqz9s"),
    ("Katakana", "テスト.jp", "xn--zckzah.jp"),
    ("Hiragana", "みんな.jp", "xn--q9jyb4c.jp"),
    ("Ethiopic", "ኢትዮጵያ.et", None),
    ("Georgian", "საქართველო.გე", None),
    ("Georgian TLD", "example.გე", "example.xn--node"),
    ("Armenian", "օրինակ.հայ", None),
    ("Armenian TLD", "example.հայ", "example.xn--y9a3aq"),
    ("Tamil", "பரிட்சை.இந்தியா", "xn--hlcj6aya9esc7a.xn--xkc2dl3a5ee0h"),
    ("Bengali", "উদাহরণ.বাংলা", None),
    ("Bengali TLD", "example.বাংলা", "example.xn--54b7fta0cc"),
    ("Latin and Han labels", "bücher.中国", "xn--bcher-kva.xn--fiqs8s"),
]


@pytest.mark.parametrize(("script", "name", "published"), SCRIPTS, ids=[s[0] for s in SCRIPTS])
def test_idn_in_every_script(script: str, name: str, published: str | None) -> None:
    expected = punycode(name)
    if published is not None:
        assert expected == published  # the stdlib codec agrees with the published form
    assert idna.encode(name, uts46=True).decode() == expected  # and so does idna's own encode
    assert normalise_domain(name) == expected
    assert normalise_domain(expected) == expected  # A-label input is kept
    assert normalise_domain(unicodedata.normalize("NFD", name)) == expected  # NFC first
    if name.upper() != name:  # scripts with case: upper case is mapped (UTS #46)
        assert normalise_domain(name.upper()) == expected


def test_idn_lines_in_a_list() -> None:
    """Every script read from one UTF-8 list (CRLF), in order, each counted once."""
    data = "\r\n".join(f"{i},{name}" for i, (_, name, _) in enumerate(SCRIPTS, 1)).encode()
    stats = ToplistStats()
    entries = list(read_toplist_stream(io.BytesIO(data), stats=stats))
    assert [e.domain for e in entries] == [punycode(name) for _, name, _ in SCRIPTS]
    assert stats.entries == len(SCRIPTS) and not stats.invalid


@pytest.mark.parametrize("name", [
    # mixed scripts IDNA 2008's contextual rules (RFC 5892 appendix A) forbid
    "a\u30fbb.com",  # KATAKANA MIDDLE DOT without Hiragana, Katakana or Han in the label
    "\u0375a.gr",  # GREEK LOWER NUMERAL SIGN not followed by Greek
    "a\u05f3.com",  # HEBREW PUNCTUATION GERESH not after Hebrew
    "\u0661\u06f1.com",  # ARABIC-INDIC and EXTENDED ARABIC-INDIC digits together
    "ab\u200cc.com",  # ZERO WIDTH NON-JOINER outside its context (after a virama)
    # the Bidi rule (RFC 5893)
    "aא.com",  # Latin then Hebrew: an LTR label must not hold RTL characters
    "אa.com",  # an RTL label holding L characters
    "1א.com",  # an RTL label starting with a European digit
    "مثال١1.com",  # Arabic-Indic and European digits in one RTL label
    "a.אb",  # the rule holds for the TLD as well
    "א-.com",  # hyphen at the end of an RTL label
    # other label rules
    "\u0300a.com",  # starts with a combining mark
    "ab--ü.com",  # hyphens in positions 3 and 4 of a U-label
    "xn--a-0hc.com",  # the A-label of "aא": a Bidi violation arriving already encoded
])
def test_idna_violations_are_counted_as_idna(name: str) -> None:
    assert normalise_domain(name) == InvalidName("idna")
    stats = ToplistStats()
    assert list(read_toplist_stream(io.BytesIO(f"1,{name}\n".encode()), stats=stats)) == []
    assert stats.invalid == {"idna": 1}


@pytest.mark.parametrize(("name", "expected"), [
    ("ア\u30fbイ.jp", "xn--ccke4x.jp"),  # the middle dot in its context
    ("\u0375α.gr", "xn--wva4j.gr"),  # the numeral sign before Greek
    ("א\u05f3.com", "xn--4db4e.com"),  # geresh after Hebrew
    ("א1.com", "xn--1-zhc.com"),  # RTL label ending with a digit
    ("क्\u200cष.com", "xn--11b2ezcs70k.com"),  # ZWNJ after a virama
    ("pаypal.com", "xn--pypal-4ve.com"),  # Latin with a Cyrillic а: legal IDNA 2008 (registry
])                                        # policy, not the protocol): kept, in its A-label form
def test_contextual_rules_allow_what_they_should(name: str, expected: str) -> None:
    assert normalise_domain(name) == expected == punycode(unicodedata.normalize("NFC", name))
