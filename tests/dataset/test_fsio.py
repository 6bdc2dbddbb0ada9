"""dataset.fsio: a replaced file is the old one or the new one, never a mix or a stray tmp."""

from __future__ import annotations

from pathlib import Path

import pytest

from survey.dataset import fsio


@pytest.mark.parametrize("durable", [True, False])
def test_atomic_write_replaces_and_leaves_no_tmp(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    fsio.atomic_write_bytes(target, b"new", durable=durable)
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "shard.json"
    target.write_bytes(b"old")
    fsio.tmp_path(target).mkdir()  # the tmp name cannot be written: the write fails before rename
    with pytest.raises(IsADirectoryError):
        fsio.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"


def test_commit_moves_a_finished_tmp_into_place(tmp_path: Path) -> None:
    target = tmp_path / "parts" / "part-000001-abc.parquet"
    target.parent.mkdir()
    tmp = fsio.tmp_path(target)
    assert tmp.name == "part-000001-abc.parquet.tmp" and tmp.name.endswith(fsio.TMP_SUFFIX)
    tmp.write_bytes(b"rows")
    fsio.commit(tmp, target)
    assert target.read_bytes() == b"rows" and not tmp.exists()


def test_fsync_path_takes_files_and_directories_and_raises_on_missing(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    fsio.fsync_path(tmp_path / "f")
    fsio.fsync_path(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsio.fsync_path(tmp_path / "missing")
