"""Toplist sources beyond local paths (issue 8): file:// URLs, fsspec URLs, clear errors."""

from __future__ import annotations

import bz2
import gzip
import importlib
import io
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from survey.toplist.reader import ToplistStats, read_toplist, read_toplist_stream
from survey.toplist.sources import absolute_source, check_toplist, open_toplist, url_scheme

TRANCO = b"1,google.com\n2,facebook.com\n3,Example.ORG.\n"
EXPECTED = [(1, "google.com"), (2, "facebook.com"), (3, "example.org")]


def zipped(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", "not the list")
        archive.writestr("top-1m.csv", data)
    return buffer.getvalue()


ENCODINGS = {"plain": TRANCO, "gz": gzip.compress(TRANCO), "bz2": bz2.compress(TRANCO),
             "zip": zipped(TRANCO)}


def pairs(source: str | Path, **kwargs: Any) -> list[tuple[int, str]]:
    return [(e.rank, e.domain) for e in read_toplist(source, **kwargs)]


# --- file:// -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["plain", "gz", "zip"])
def test_file_url_is_read_as_the_local_path(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"top list.{kind}"  # a space: percent-encoded in the URL
    path.write_bytes(ENCODINGS[kind])
    assert pairs(path.as_uri()) == EXPECTED  # file:///…/top%20list.<kind>
    assert pairs(f"file://localhost{path}") == EXPECTED
    assert pairs(f"FILE://{path}") == EXPECTED  # schemes are case-insensitive


def test_file_url_works_without_fsspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # `import fsspec` now raises ImportError
    path = tmp_path / "l.csv.gz"
    path.write_bytes(ENCODINGS["gz"])
    assert pairs(path.as_uri()) == EXPECTED


def test_file_url_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(read_toplist((tmp_path / "missing.csv").as_uri()))
    with pytest.raises(OSError, match="not one on host 'fileserver'"):
        list(read_toplist("file://fileserver/share/list.csv"))


# --- fsspec: the memory:// filesystem ---------------------------------------------------------

@pytest.fixture
def memory_dir() -> Iterator[str]:
    """A fresh directory of fsspec's process-global memory filesystem, removed afterwards."""
    fsspec: Any = importlib.import_module("fsspec")
    fs = fsspec.filesystem("memory")
    root = f"/toplist-{uuid.uuid4().hex}"
    fs.mkdir(root)
    yield f"memory://{root}"
    fs.rm(root, recursive=True)


def put(url: str, data: bytes) -> None:
    fsspec: Any = importlib.import_module("fsspec")
    with fsspec.open(url, "wb") as handle:
        handle.write(data)


@pytest.mark.parametrize("kind", sorted(ENCODINGS))
def test_memory_url_through_fsspec(memory_dir: str, kind: str) -> None:
    url = f"{memory_dir}/list.dat"  # compression recognised by content, not by name
    put(url, ENCODINGS[kind])
    assert pairs(url) == EXPECTED
    stats = ToplistStats()
    with open_toplist(url) as stream:
        entries = list(read_toplist_stream(stream, stats=stats))
    assert [(e.rank, e.domain) for e in entries] == EXPECTED
    assert stats.lines == 3 and not stats.invalid


def test_memory_url_shards_partition_the_list(memory_dir: str) -> None:
    url = f"{memory_dir}/top.csv.gz"
    put(url, gzip.compress(b"".join(b"%d,d%d.com\n" % (i, i) for i in range(1, 501))))
    shards = [pairs(url, shard=(i, 3)) for i in range(3)]
    assert all(shards)
    assert sorted(rank for shard in shards for rank, _ in shard) == list(range(1, 501))


def test_missing_memory_file_is_file_not_found(memory_dir: str) -> None:
    with pytest.raises(FileNotFoundError):
        check_toplist(f"{memory_dir}/nothing.csv")


# --- errors a user can act on ------------------------------------------------------------------

def test_unknown_scheme_is_a_clear_oserror() -> None:
    with pytest.raises(OSError, match=r"unknown URL scheme nosuchfs://") as raised:
        list(read_toplist("nosuchfs://bucket/top-1m.csv"))
    assert "nosuchfs://bucket/top-1m.csv" in str(raised.value)
    with pytest.raises(OSError, match="unknown URL scheme"):
        check_toplist("nosuchfs://bucket/top-1m.csv")


@pytest.mark.parametrize(("url", "package"), [("s3://bucket/top-1m.csv", "s3fs"),
                                              ("gs://bucket/top-1m.csv", "gcsfs")])
def test_missing_backend_names_the_package(monkeypatch: pytest.MonkeyPatch, url: str,
                                           package: str) -> None:
    # The backend made unimportable even where it is installed: nothing is ever contacted.
    # fsspec keeps the classes it imported (an earlier test may have used s3fs): forget them.
    imported = importlib.import_module("fsspec.registry")._registry  # (fsspec is untyped)
    monkeypatch.setitem(sys.modules, package, None)
    for protocol in ("s3", "s3a", "gs", "gcs"):
        monkeypatch.delitem(imported, protocol, raising=False)
    with pytest.raises(OSError, match=f"pip install {package}") as raised:
        list(read_toplist(url))
    assert str(raised.value).startswith(url)


def test_missing_fsspec_names_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(OSError, match=r"needs the fsspec package and s3fs: pip install fsspec "
                                      r"s3fs .*mta-sts-survey\[cluster\]"):
        list(read_toplist("s3://bucket/top-1m.csv"))
    with pytest.raises(OSError, match=r"needs the fsspec package: pip install fsspec "):
        list(read_toplist("memory://top-1m.csv"))


def test_check_toplist(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(TRANCO)
    check_toplist(path)
    check_toplist(path.as_uri())
    check_toplist("-")  # stdin is not touched
    with pytest.raises(FileNotFoundError):
        check_toplist(tmp_path / "missing.csv")
    with pytest.raises(IsADirectoryError):
        check_toplist(tmp_path)
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(ValueError, match="empty zip archive"):
        check_toplist(empty)


def test_url_scheme_and_absolute_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert url_scheme("s3://b/k.csv") == "s3"
    assert url_scheme("GS://b/k.csv") == "gs"
    assert url_scheme("simplecache::s3://b/k") is None  # fsspec chains are not supported
    assert url_scheme("/data/top-1m.csv") is None
    assert url_scheme("top-1m.csv") is None
    assert url_scheme("-") is None
    monkeypatch.chdir(tmp_path)
    assert absolute_source("top-1m.csv") == str(tmp_path.resolve() / "top-1m.csv")
    assert absolute_source(Path("x") / "l.csv") == str(tmp_path.resolve() / "x" / "l.csv")
    for unchanged in ("-", "s3://b/top-1m.csv", "file:///data/l.csv", "memory://l.csv"):
        assert absolute_source(unchanged) == unchanged


def test_zip_on_stdin_redirected_from_a_file(tmp_path: Path) -> None:
    """A seekable stdin (``< top-1m.csv.zip``) is opened in place; a pipe is spooled (that case is
    in test_toplist.py's stdin test)."""
    path = tmp_path / "top-1m.csv.zip"
    path.write_bytes(ENCODINGS["zip"])
    code = ("from survey.toplist.reader import read_toplist\n"
            "for e in read_toplist('-'): print(e.rank, e.domain)\n")
    with path.open("rb") as stdin:
        out = subprocess.run([sys.executable, "-c", code], stdin=stdin, capture_output=True,
                             check=True, timeout=60).stdout
    assert out.decode().split() == [str(part) for pair in EXPECTED for part in pair]
