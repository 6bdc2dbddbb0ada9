"""Every survey command exits 0 with nothing on stderr, run many times and two at a time.

The smaller count of ``benchmarks.clean_exit`` (200 processes: the note of issue 17): an abort
at interpreter exit (pyarrow's reader threads, apache/arrow#34314) showed in about one process
in twenty, so a dozen processes catch its return about half the time, and every kind once:
the Dask client with its local cluster and s3fs against moto's S3 server on 127.0.0.1 among them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.clean_exit import KINDS, run_mixed

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow


def test_mixed_commands_two_at_a_time_all_exit_clean(tmp_path: Path) -> None:
    summary = run_mixed(len(KINDS) + 3, lanes=2, domains=200, work=tmp_path)
    assert summary.failures == []
    assert summary.nonzero_exits == 0 and summary.stderr_lines == 0
    assert set(summary.by_kind) == set(KINDS)
    assert summary.processes == len(KINDS) + 3
