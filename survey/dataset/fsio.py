"""Crash-safe file replacement: the one place that knows the tmp + fsync + rename + fsync dance.

A file written here exists whole or not at all after a crash: the data goes to ``<name>.tmp``,
is fsynced, renamed over the target (atomic on POSIX) and the directory is fsynced so that the
new name itself survives a power cut. The sink's parts and manifest and the shards' records all
rest on this; a leftover ``.tmp`` is never a finished file (``sink.remove_stray_tmp``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

#: Suffix of a file being written; such a file never counts as written.
TMP_SUFFIX = ".tmp"


def tmp_path(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place."""
    return path.with_name(path.name + TMP_SUFFIX)


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a directory's entries (renames, unlinks), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(tmp: Path, path: Path, *, durable: bool = True) -> None:
    """Rename the finished ``tmp`` over ``path``; ``durable`` fsyncs the data and the name.

    Without ``durable`` the replacement is still atomic for readers, but a power cut may lose it
    (good enough for a progress file rewritten twice a second).
    """
    if durable:
        fsync_path(tmp)
    os.replace(tmp, path)
    if durable:
        fsync_path(path.parent)


@contextlib.contextmanager
def replacing(path: Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield the ``.tmp`` path to write ``path``'s new contents to; on leaving the block it is
    committed over ``path``, or, when the block or the commit failed (a full disk), removed."""
    tmp = tmp_path(path)
    try:
        yield tmp
        commit(tmp, path, durable=durable)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data``: readers and crashes see the old file or the new one."""
    with replacing(path, durable=durable) as tmp:
        tmp.write_bytes(data)
