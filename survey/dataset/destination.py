"""Where snapshots are published: a local directory or an object-store prefix, one interface.

``publish`` writes a snapshot's files, then its ``SHA256SUMS`` last, then the index: each is
one atomic write (a rename locally, one PUT on a store), so a reader (or a resumed run) sees a
snapshot either complete, with its ``SHA256SUMS``, or not at all. Object stores are reached
through fsspec (the ``s3`` / ``gcs`` extras), as the scan's object-store OUT is.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

#: A URL's scheme (``s3``, ``gs``, ``file``); a path has none (``run:2026`` neither).
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(text: str) -> str | None:
    match = _URL.match(text)
    return match.group(1).lower() if match else None


def open_fs(url: str) -> tuple[Any, str]:
    """fsspec's filesystem and root path of an object-store URL; ValueError with the install
    line when fsspec or the protocol's package (s3fs, gcsfs) is missing."""
    try:
        fsspec = importlib.import_module("fsspec")  # the cluster extra; untyped
    except ImportError as exc:
        raise ValueError("an object-store URL needs fsspec: pip install "
                         "'mta-sts-survey[s3]' (or [gcs])") from exc
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:  # no s3fs / gcsfs, or an unknown scheme
        raise ValueError(str(exc)) from exc
    return fs, str(root).rstrip("/")


class Destination(Protocol):
    """A publication root; every name is relative to it, with ``/`` separators."""

    @property
    def location(self) -> str: ...

    def exists(self, name: str) -> bool: ...
    def read_bytes(self, name: str) -> bytes | None: ...
    def write_bytes(self, name: str, data: bytes) -> None: ...
    def put(self, local: Path, name: str) -> None: ...
    def files(self, prefix: str) -> list[str]: ...
    def fetch(self, prefix: str, local: Path) -> None: ...
    def sha256(self, name: str) -> str | None: ...


def _digest(handle: Any) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LocalDestination:
    root: Path

    @property
    def location(self) -> str:
        return str(self.root)

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    def read_bytes(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def write_bytes(self, name: str, data: bytes) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def put(self, local: Path, name: str) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(local, tmp)
        os.replace(tmp, target)

    def files(self, prefix: str) -> list[str]:
        base = self.root / prefix
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

    def fetch(self, prefix: str, local: Path) -> None:
        shutil.copytree(self.root / prefix, local, dirs_exist_ok=True)

    def sha256(self, name: str) -> str | None:
        path = self.root / name
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return _digest(handle)


@dataclass(frozen=True)
class StoreDestination:
    location: str
    fs: Any
    root: str

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}".rstrip("/")

    def exists(self, name: str) -> bool:
        self.fs.invalidate_cache()
        return bool(self.fs.exists(self._path(name)))

    def read_bytes(self, name: str) -> bytes | None:
        try:
            data: bytes = self.fs.cat_file(self._path(name))
        except FileNotFoundError:
            return None
        return data

    def write_bytes(self, name: str, data: bytes) -> None:
        with self.fs.open(self._path(name), "wb") as handle:
            handle.write(data)

    def put(self, local: Path, name: str) -> None:
        self.fs.put_file(str(local), self._path(name))

    def files(self, prefix: str) -> list[str]:
        self.fs.invalidate_cache()
        base = self._path(prefix)
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        return sorted(str(p)[len(base) + 1:] for p in found if str(p).startswith(base + "/"))

    def fetch(self, prefix: str, local: Path) -> None:
        for name in self.files(prefix):
            target = local / name
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(self._path(f"{prefix}/{name}" if prefix else name), str(target))

    def sha256(self, name: str) -> str | None:
        try:
            with self.fs.open(self._path(name), "rb") as handle:
                return _digest(handle)
        except FileNotFoundError:
            return None


def is_url(text: str | Path) -> bool:
    """Whether ``text`` names an object store (a URL whose scheme is not ``file``)."""
    return url_scheme(str(text)) not in (None, "file")


def open_destination(target: str | Path) -> Destination:
    """A local directory (a path or ``file://``) or an object-store prefix (``s3://``...)."""
    text = str(target)
    scheme = url_scheme(text)
    if scheme is None:
        return LocalDestination(Path(text))
    if scheme == "file":
        fs, root = open_fs(text)
        return LocalDestination(Path(root))
    fs, root = open_fs(text)
    return StoreDestination(text.rstrip("/"), fs, root)
