"""The sink: atomic parts, the resume set, quarantine of damaged parts, the manifest."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from survey.core.observations import DnsResult, DnsStatus, DomainObservations
from survey.core.verdict import Grade, Status, Verdict
from survey.dataset.schema import SCHEMA, SCHEMA_VERSION, RunContext, to_row
from survey.dataset.sink import (
    PartWriter,
    completed_domains,
    completed_names,
    part_files,
    read_manifest,
    write_manifest,
    write_part,
)

NOW = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
CONTEXT = RunContext("0123456789abcdef", "test-list")


def row(domain: str, rank: int = 1) -> dict[str, Any]:
    def nx(qname: str, qtype: str) -> DnsResult:
        return DnsResult(qname, qtype, DnsStatus.NXDOMAIN, 3)

    obs = DomainObservations(domain, nx(f"_mta-sts.{domain}", "TXT"),
                             nx(f"_smtp._tls.{domain}", "TXT"), nx(domain, "MX"),
                             nx(f"mta-sts.{domain}", "A"))
    return to_row(CONTEXT, rank, obs, Verdict(Status.ABSENT, None, Grade.FAIL, ()), NOW)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_parts_by_row_count_have_schema_metadata_and_bounded_row_groups(tmp_path: Path) -> None:
    writer = PartWriter(tmp_path, CONTEXT.run_id, max_rows=5, row_group_rows=2)
    written = [writer.add(row(f"d{i}.example", i)) for i in range(12)]
    assert [p is not None for p in written].count(True) == 2  # after rows 5 and 10
    assert writer.pending == 2
    writer.close()
    parts = part_files(tmp_path)
    assert [p.name for p in parts] == [f"part-00000{i}-01234567.parquet" for i in (1, 2, 3)]
    meta = pq.ParquetFile(parts[0]).metadata
    assert meta.num_rows == 5 and meta.num_row_groups == 3
    assert max(meta.row_group(i).num_rows for i in range(3)) == 2
    table = pq.read_table(parts[0])
    assert table.schema.equals(SCHEMA, check_metadata=False)
    assert (table.schema.metadata or {})[b"schema_version"] == SCHEMA_VERSION.encode()
    assert table.column("domain").to_pylist() == [f"d{i}.example" for i in range(5)]
    assert writer.rows_written == 12 and writer.pending == 0
    assert not list((tmp_path / "parts").glob("*.tmp"))


def test_parts_by_time(tmp_path: Path) -> None:
    clock = FakeClock()
    writer = PartWriter(tmp_path, "r", max_rows=100, max_seconds=10, clock=clock)
    assert writer.seconds_until_due() == float("inf") and writer.flush_if_due() is None
    writer.add(row("a.example"))
    clock.now = 9.0
    assert writer.seconds_until_due() == pytest.approx(1.0)
    assert writer.flush_if_due() is None
    clock.now = 10.0
    assert writer.flush_if_due() is not None
    assert completed_domains(tmp_path) == {"a.example"}


def test_sequence_continues_after_existing_parts(tmp_path: Path) -> None:
    first = PartWriter(tmp_path, "aaaaaaaa")
    first.add(row("a.example"))
    first.close()
    second = PartWriter(tmp_path, "bbbbbbbb")
    second.add(row("b.example"))
    second.close()
    assert [p.name for p in part_files(tmp_path)] == [
        "part-000001-aaaaaaaa.parquet", "part-000002-bbbbbbbb.parquet"]


def test_a_row_that_breaks_the_schema_writes_nothing(tmp_path: Path) -> None:
    """Refused while the table is built, before any file is opened."""
    writer = PartWriter(tmp_path, "r", max_rows=10)
    writer.add(row("a.example"))
    writer.add({**row("b.example"), "rank": "not a number"})
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, TypeError)):
        writer.flush()
    assert part_files(tmp_path) == []
    assert completed_domains(tmp_path) == set()
    assert not list((tmp_path / "parts").iterdir())


# A child whose file writes fail past 4 KiB (EFBIG, as a full disk's ENOSPC: no privileges
# needed), writing a part of 300 rows, then the manifest: both writes must fail and leave
# neither the file nor its .tmp. It prints the errors it saw.
_FAILING_WRITES = """
import resource, signal, sys
from pathlib import Path
from survey.dataset.sink import PartWriter, write_manifest
from tests.dataset.test_sink import row
out = Path(sys.argv[1])
writer = PartWriter(out, "r", max_rows=1000)
for i in range(300):
    writer.add(row(f"d{i}.example", i + 1))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
for write in (writer.flush, lambda: write_manifest(out, {"pad": "x" * 10_000})):
    try:
        write()
    except OSError as exc:
        print(exc.strerror)
"""


@pytest.mark.slow
def test_a_failed_write_leaves_neither_the_file_nor_its_tmp(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    done = subprocess.run([sys.executable, "-c", _FAILING_WRITES, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["File too large", "File too large"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["parts"]


def test_resume_set_removes_tmp_and_quarantines_damaged_parts(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer = PartWriter(tmp_path, "r", max_rows=3)
    for i in range(9):
        writer.add(row(f"d{i}.example"))
    good, truncated, corrupt = part_files(tmp_path)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    corrupt.write_bytes(b"PAR1" + b"\x00" * 200 + b"PAR1")
    stray = tmp_path / "parts" / "part-000004-r.parquet.tmp"
    stray.write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="survey.dataset.sink"):
        done = completed_domains(tmp_path)
    assert done == {"d0.example", "d1.example", "d2.example"}
    assert part_files(tmp_path) == [good]
    assert sorted(p.name for p in (tmp_path / "quarantine").iterdir()) == sorted(
        [truncated.name, corrupt.name])
    assert not stray.exists()
    assert sum("quarantine" in r.getMessage() for r in caplog.records) == 2
    # a new writer continues after the highest remaining part, never reusing a name
    again = PartWriter(tmp_path, "r")
    again.add(row("d3.example"))
    assert again.flush() == tmp_path / "parts" / "part-000002-r.parquet"
    # a second quarantine of the same name does not overwrite the first
    (tmp_path / "parts" / "part-000002-r.parquet").write_bytes(b"garbage")
    assert completed_domains(tmp_path) == {"d0.example", "d1.example", "d2.example"}
    assert len(list((tmp_path / "quarantine").iterdir())) == 3


def test_write_part_is_rename_based(tmp_path: Path) -> None:
    from survey.dataset.schema import rows_to_table

    target = tmp_path / "part-000001-x.parquet"
    write_part(target, rows_to_table([row("a.example")]))
    assert target.exists() and not target.with_name(target.name + ".tmp").exists()


def test_a_relative_outdir_with_a_colon_is_a_path_not_a_uri(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``-o run:2026``: given a str, pq.write_table would parse ``run:`` as a URI scheme."""
    monkeypatch.chdir(tmp_path)
    writer = PartWriter(Path("run:2026"), CONTEXT.run_id)
    writer.add(row("a.test"))
    part = writer.flush()
    assert part is not None and part.parent == Path("run:2026/parts")
    assert (tmp_path / "run:2026" / "parts" / part.name).is_file()
    assert completed_domains(Path("run:2026")) == {"a.test"}


def test_manifest_roundtrip_and_atomic(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) is None
    manifest = {"run_id": "abc", "state": "running", "counts": {"absent": 3},
                "toplist": {"name": "x", "date": dt.date(2026, 11, 1)}}
    write_manifest(tmp_path, manifest)
    back = read_manifest(tmp_path)
    assert back == {**manifest, "toplist": {"name": "x", "date": "2026-11-01"}}
    assert json.loads((tmp_path / "manifest.json").read_text())["state"] == "running"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable manifest"):
        read_manifest(tmp_path)


def test_completed_names_answer_like_completed_domains_and_quarantine_alike(
        tmp_path: Path) -> None:
    writer = PartWriter(tmp_path, "r", max_rows=3)
    for i in range(9):
        writer.add(row(f"d{i}.example"))
    damaged = part_files(tmp_path)[1]
    damaged.write_bytes(b"PAR1" + b"\x00" * 200 + b"PAR1")
    names = completed_names(tmp_path)
    assert len(names) == 6 and "d0.example" in names and "d8.example" in names
    assert "d3.example" not in names and "d9.example" not in names  # quarantined, never written
    assert [p.name for p in (tmp_path / "quarantine").iterdir()] == [damaged.name]
    assert completed_domains(tmp_path) == {f"d{i}.example" for i in (0, 1, 2, 6, 7, 8)}
