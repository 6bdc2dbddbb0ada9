"""Where a toplist comes from: a local path, ``-`` for stdin, or a URL, compressed or not.

``file://`` URLs are read as local paths (no extra package); any other ``scheme://`` goes through
``fsspec.open`` (``s3://``, ``gs://``, ... : shared storage for ``--cluster`` runs), imported only
then, with the scheme's backend (s3fs, gcsfs). A missing package or an unknown scheme raises
OSError naming what to install, like a missing file. Compression (gzip, bzip2, xz, zip) is
recognised by content on every source, never by name. The reader (``toplist.reader``) sees one
binary stream of the list's bytes.
"""

from __future__ import annotations

import bz2
import gzip
import importlib
import io
import lzma
import re
import shutil
import sys
import tempfile
import urllib.parse
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, cast

#: Local file header, and the end record that is all an empty archive holds.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
#: The package behind an fsspec scheme, for the message when it is missing.
_URL_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
                 "abfs": "adlfs", "abfss": "adlfs", "hf": "huggingface_hub"}


def _decompressed(stream: io.BufferedReader) -> BinaryIO:
    """Wrap ``stream`` in a decompressor chosen by its magic bytes (gzip, bzip2, xz)."""
    magic = stream.peek(6)[:6]
    if magic.startswith(b"\x1f\x8b"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=stream, mode="rb"))
    if magic.startswith(b"BZh"):
        return cast(BinaryIO, bz2.BZ2File(stream, mode="rb"))
    if magic.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(stream, mode="rb"))
    return cast(BinaryIO, stream)


def _zip_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    """The single ``.csv`` member (Tranco's ``top-1m.csv``), else the first file."""
    files = [info for info in archive.infolist() if not info.is_dir()]
    if not files:
        raise ValueError(f"{archive.filename}: empty zip archive")
    csvs = [info for info in files if info.filename.lower().endswith(".csv")]
    return csvs[0] if len(csvs) == 1 else files[0]


@contextmanager
def _open_zip(file: BinaryIO) -> Iterator[BinaryIO]:
    with zipfile.ZipFile(file) as archive, archive.open(_zip_member(archive)) as member:
        yield cast(BinaryIO, io.BufferedReader(cast(io.RawIOBase, member), 1 << 16))


@contextmanager
def _open_stream(raw: BinaryIO) -> Iterator[BinaryIO]:
    """The list inside an open binary stream (a file, stdin, an fsspec file); ``raw`` is left
    open for its owner. zip needs to seek: a stream that cannot is spooled to a temporary file."""
    stream = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(
        cast(io.RawIOBase, raw), 1 << 16)
    if stream.peek(4)[:4] not in _ZIP_MAGIC:
        yield _decompressed(stream)
    elif stream.seekable():
        with _open_zip(cast(BinaryIO, stream)) as member:
            yield member
    else:
        with tempfile.TemporaryFile() as spool:
            shutil.copyfileobj(stream, spool, 1 << 20)
            spool.seek(0)
            with _open_zip(cast(BinaryIO, spool)) as member:
                yield member


def url_scheme(source: str | Path) -> str | None:
    """The lower-case scheme of an fsspec URL (``s3``, ``gs``, ``file``), None for a path."""
    match = _URL.match(str(source))
    return match.group(1).lower() if match else None


def absolute_source(source: str | Path) -> str:
    """``source`` as every process can open it, whatever its working directory: a local path
    made absolute; ``-`` and URLs unchanged (for the manifest and the shard tasks)."""
    text = str(source)
    return text if text == "-" or url_scheme(text) else str(Path(text).resolve())


def _file_url_path(url: str) -> Path:
    """``file:///data/top-1m.csv`` -> ``/data/top-1m.csv``: no fsspec needed for local files."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise OSError(f"{url}: a file:// URL names a file of this machine (file:///path), "
                      f"not one on host {parts.netloc!r}")
    return Path(urllib.parse.unquote(parts.path))


@contextmanager
def _open_url(url: str, scheme: str) -> Iterator[BinaryIO]:
    """Open a remote URL through fsspec, imported only here (the ``cluster`` extra brings it).

    A missing package or an unknown scheme is an OSError, like any other unreadable list.
    """
    backend = _URL_PACKAGES.get(scheme)
    try:
        fsspec = importlib.import_module("fsspec")
    except ImportError:
        packages = " ".join(p for p in ("fsspec", backend) if p)
        raise OSError(f"{url}: reading {scheme}:// URLs needs the fsspec package"
                      f"{f' and {backend}' if backend else ''}: pip install {packages} "
                      "(or the cluster extra: pip install 'mta-sts-survey[cluster]')") from None
    try:
        fsspec.get_filesystem_class(scheme)
    except ImportError as exc:  # fsspec knows the scheme; its backend package is missing
        hint = f": pip install {backend}" if backend else ""
        raise OSError(f"{url}: {exc}{hint}") from None
    except ValueError:
        raise OSError(f"{url}: unknown URL scheme {scheme}:// (not a path, and no fsspec "
                      "filesystem has that name)") from None
    with fsspec.open(url, "rb") as remote:
        yield cast(BinaryIO, remote)


@contextmanager
def open_toplist(source: str | Path) -> Iterator[BinaryIO]:
    """Open a list as a binary stream: ``-`` is stdin; gzip/bzip2/xz/zip are recognised by content.

    ``source`` is a local path, ``-``, a ``file://`` URL (read as the local path, no extra
    package) or any other fsspec URL (``s3://``, ``gs://``, ``memory://``: needs fsspec and the
    scheme's backend such as s3fs or gcsfs). Unreadable sources raise OSError. A zip archive
    yields its single ``.csv`` member, else its first member (a zip on a stream that cannot
    seek, such as piped stdin, is spooled to a temporary file first). stdin is not closed.
    """
    text = str(source)
    scheme = url_scheme(text)
    if text == "-":
        with _open_stream(sys.stdin.buffer) as stream:
            yield stream
    elif scheme is None or scheme == "file":
        path = Path(source) if scheme is None else _file_url_path(text)
        with path.open("rb", buffering=1 << 16) as raw, _open_stream(raw) as stream:
            yield stream
    else:
        with _open_url(text, scheme) as remote, _open_stream(remote) as stream:
            yield stream


def check_toplist(source: str | Path) -> None:
    """Raise OSError (or ValueError for an empty zip) when ``source`` cannot be opened, so that
    the CLI can refuse it (exit 2) before any probe; stdin is not touched."""
    if str(source) != "-":
        with open_toplist(source):
            pass
