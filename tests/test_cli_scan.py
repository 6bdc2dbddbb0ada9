"""`scan` and `check` on the command line: option errors, progress output, the summary table."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from survey.cli import main
from survey.commands.scan import parse_resolver
from survey.progress import Progress, format_counts, summary_table


@pytest.fixture
def toplist(tmp_path: Path) -> Path:
    path = tmp_path / "list.csv"
    path.write_text("1,example.test\n2,other.test\n")
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rate", "0"], "--rate"),
        (["--rate", "nan"], "--rate"),
        (["--concurrency", "0"], "--concurrency"),
        (["--shard", "3/2"], "--shard '3/2': need 0 <= I < N"),
        (["--shard", "x"], "--shard 'x': expected I/N"),
        (["--resolver", "dns.example:53"], "bad resolver"),
        (["--resolver", "127.0.0.1:99999"], "--resolver"),
        (["--toplist-date", "2026-13-01"], "--toplist-date"),
        (["--ca-bundle", "/nonexistent.pem"], "--ca-bundle /nonexistent.pem: no such file"),
        (["--exclude", "/nonexistent.txt"], "--exclude /nonexistent.txt"),
    ],
)
def test_option_errors_exit_2_with_one_line(
        toplist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        extra: list[str], message: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc_info:
        status = main(["scan", str(toplist), "-o", str(out), "--resolver", "127.0.0.1:1",
                       *extra])
        raise SystemExit(status)
    assert exc_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]
    assert not (out / "manifest.json").exists()


def test_missing_toplist_and_unwritable_outdir(
        toplist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o"),
                 "--resolver", "127.0.0.1"]) == 2
    assert "no such file" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["scan", str(toplist), "-o", str(blocker), "--resolver", "127.0.0.1"]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["scan", str(toplist), "-o", str(blocker / "sub"),
                 "--resolver", "127.0.0.1"]) == 2
    assert "cannot create" in capsys.readouterr().err


def test_check_rejects_a_bad_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "not a domain", "--resolver", "127.0.0.1"]) == 2
    assert "not a domain name" in capsys.readouterr().err


def test_parse_resolver_forms() -> None:
    assert parse_resolver("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_resolver("127.0.0.2:5353") == ("127.0.0.2", 5353)
    assert parse_resolver("::1") == ("::1", 53)
    assert parse_resolver("[::1]:5353") == ("::1", 5353)


def test_progress_log_lines_every_interval() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(total=10, mode="auto", stream=stream, interval=10.0,
                        clock=lambda: now[0])
    assert progress.mode == "log"  # StringIO is not a TTY
    for i in range(10):
        now[0] = i * 3.0
        progress.update("absent" if i % 2 else "enforce")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # at t=12 and t=24
    assert lines[0].startswith("scanned 5/10 domains") and "enforce=3 absent=2" in lines[0]
    assert "eta" in lines[0]


def test_progress_bar_on_a_tty() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = Progress(total=3, stream=stream)
    assert progress.mode == "bar"
    for status in ("enforce", "absent", "absent"):
        progress.update(status)
    progress.close()
    assert "3/3" in stream.getvalue() and "absent=2" in stream.getvalue()


def test_summary_table_orders_statuses_and_shares() -> None:
    table = summary_table({"absent": 3, "enforce": 1}, facts=[("queries sent", "12")],
                          toplist_lines=["invalid 1"])
    lines = table.splitlines()
    assert lines[1].split() == ["enforce", "1", "25.0%"]
    assert lines[5].split() == ["absent", "3", "75.0%"]
    assert lines[7].split() == ["total", "4"]
    assert "queries sent      12" in table and "  invalid 1" in table
    assert format_counts({"error": 0, "none": 2}) == "none=2"


def test_resume_refuses_other_result_options(
        toplist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from survey.commands.scan import RESULT_OPTIONS
    from survey.sink import read_manifest, write_manifest

    out = tmp_path / "out"
    out.mkdir()
    options = {key: None for key in RESULT_OPTIONS}
    options.update({"toplist_path": str(toplist.resolve()), "smtp": True, "https_port": 443,
                    "smtp_port": 25, "allow_private": False, "toplist_name": "list.csv"})
    manifest = {"run_id": "r1", "state": "running", "options": options}
    write_manifest(out, manifest)
    assert main(["scan", str(toplist), "-o", str(out), "--resolver", "127.0.0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("use another OUTDIR") and "other options (smtp)" in err
    assert main(["scan", str(toplist), "-o", str(out), "--resolver", "127.0.0.1", "--smtp",
                 "--run-id", "r2"]) == 2
    assert "holds run 'r1', not 'r2'" in capsys.readouterr().err
    assert read_manifest(out) == manifest
