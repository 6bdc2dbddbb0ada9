"""The scan command's plan before any probe: strict dates, the options --retry-errors takes back
from a manifest, its targets in every accepted spelling, and the progress bar's total."""

from __future__ import annotations

import argparse
import bz2
import gzip
import re
import zipfile
from pathlib import Path

import pytest

from survey.cli import build_parser
from survey.commands.scan import UsageError, fill_options, resolve_targets
from survey.commands.scan_plan import (
    count_lines,
    parse_date,
    progress_total,
    saved_options,
)


def test_parse_date_is_strict() -> None:
    assert parse_date("--run-date", "2026-11-01") == "2026-11-01"
    for bad in ("20261101", "2026-11-1", "2026-02-30", "2026-W48-1", " 2026-11-01", ""):
        with pytest.raises(ValueError, match=f"--run-date '{bad}': expected a date"):
            parse_date("--run-date", bad)


MANIFEST = {
    "run_date": "2026-11-01",
    "options": {
        "toplist_path": "/lists/top.csv", "format": None, "limit": 0, "shard": "1/4",
        "exclude": "/lists/optout.txt", "smtp": True, "https_port": 8443, "smtp_port": 2525,
        "allow_private": True, "toplist_name": "tranco-6P7X", "toplist_date": "2026-10-31",
        "resolvers": ["127.0.0.1:5353", "::1:53"], "rate": 250.0, "concurrency": 7,
        "per_destination": 2, "timeout": 3.0, "dns_timeout": 0.5, "retries": 0,
        "ca_bundle": "/ca.pem", "ehlo_name": None, "contact": "https://x.test/",
        "part_rows": 100, "part_seconds": 5.0, "vantage_point": "AS64500, NL",
    },
}


def test_saved_options_reproduce_the_manifest() -> None:
    saved = saved_options(MANIFEST)
    assert saved == {
        "toplist": "/lists/top.csv", "limit": 0, "shard": "1/4",
        "exclude": Path("/lists/optout.txt"), "smtp": True, "https_port": 8443,
        "smtp_port": 2525, "allow_private": True, "toplist_name": "tranco-6P7X",
        "toplist_date": "2026-10-31", "resolver": [("127.0.0.1", 5353), ("::1", 53)],
        "rate": 250.0, "concurrency": 7, "per_destination": 2, "timeout": 3.0,
        "dns_timeout": 0.5, "retries": 0, "ca_bundle": Path("/ca.pem"),
        "contact": "https://x.test/", "part_rows": 100, "part_seconds": 5.0,
        "vantage_point": "AS64500, NL", "run_date": "2026-11-01",
    }
    assert saved_options({}) == {} and saved_options({"options": "junk"}) == {}
    assert saved_options({"options": {"resolvers": []}}) == {}  # the system's: not a choice


def parse_scan(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["scan", *argv])


def test_given_options_override_the_manifest_then_defaults_fill_the_rest() -> None:
    args = parse_scan("--retry-errors", "out", "--rate", "1000", "--resolver", "127.0.0.9")
    fill_options(args, saved_options(MANIFEST))
    assert args.rate == 1000.0  # given (even equal to the default) beats the manifest's 250
    assert args.resolver == [("127.0.0.9", 53)]  # not appended to the saved ones
    assert args.concurrency == 7 and args.smtp is True and args.run_date == "2026-11-01"
    args = parse_scan("list.csv", "-o", "out")
    fill_options(args, {})
    documented = documented_defaults()
    assert len(documented) >= 10
    for dest, text in documented.items():  # what --help promises is what a run gets
        assert float(text.replace(",", "")) == getattr(args, dest), dest
    assert args.smtp is False and args.run_date is None
    assert args.allow_private is False and args.https_port == 443 and args.smtp_port == 25


def documented_defaults() -> dict[str, str]:
    """Numeric "(default N)" of the scan options' help texts, by option destination."""
    subparsers = next(a for a in build_parser()._actions
                      if isinstance(a, argparse._SubParsersAction))
    actions = subparsers.choices["scan"]._actions
    found = {a.dest: re.search(r"\(default:? ([0-9][0-9,.]*)\)", a.help or "") for a in actions}
    return {dest: match.group(1) for dest, match in found.items() if match}


@pytest.mark.parametrize(
    ("argv", "toplist", "output", "retry"),
    [
        (["--retry-errors", "out"], None, "out", True),
        (["list.csv", "-o", "out", "--retry-errors"], "list.csv", "out", True),
        (["--retry-errors", "-o", "out", "list.csv"], "list.csv", "out", True),
        (["--retry-errors", "list.csv", "-o", "out"], "list.csv", "out", True),  # value = list
        (["--retry-errors", "out", "-o", "out", "list.csv"], "list.csv", "out", True),
        (["list.csv", "-o", "out"], "list.csv", "out", False),
    ],
)
def test_retry_targets_in_every_spelling(argv: list[str], toplist: str | None, output: str,
                                         retry: bool) -> None:
    args = parse_scan(*argv)
    assert resolve_targets(args) is retry
    assert (args.toplist, args.output) == (toplist, Path(output))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list.csv"], "-o OUTDIR is required (or --retry-errors OUTDIR)"),
        (["--retry-errors"], "-o OUTDIR is required"),
        (["--retry-errors", "a", "-o", "b", "list.csv"], "two output directories"),
    ],
)
def test_retry_target_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        resolve_targets(parse_scan(*argv))


def test_count_lines_of_plain_files_only(tmp_path: Path) -> None:
    plain = tmp_path / "list.csv"
    plain.write_bytes(b"1,a.test\r\n2,b.test\n3,c.test")  # no final newline: still a line
    assert count_lines(str(plain)) == 3
    plain.write_bytes(b"1,a.test\n" * 300_000)  # several 1 MiB blocks
    assert count_lines(str(plain)) == 300_000
    assert count_lines(str(plain), max_bytes=1000) is None  # too big to count quickly
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert count_lines(str(empty)) == 0
    gz = tmp_path / "list.csv.gz"
    gz.write_bytes(gzip.compress(b"1,a.test\n"))
    bz = tmp_path / "list.bz2"
    bz.write_bytes(bz2.compress(b"1,a.test\n"))
    with zipfile.ZipFile(tmp_path / "list.zip", "w") as archive:
        archive.writestr("top-1m.csv", "1,a.test\n")
    for compressed in (gz, bz, tmp_path / "list.zip"):
        assert count_lines(str(compressed)) is None, compressed
    assert count_lines("-") is None
    assert count_lines(str(tmp_path / "missing.csv")) is None
    assert count_lines(str(tmp_path)) is None


def test_progress_total() -> None:
    assert progress_total(None, limit=None) is None  # stdin or compressed, no --limit: no ETA
    assert progress_total(1000, limit=None) == 1000
    assert progress_total(None, limit=300) == 300
    assert progress_total(1000, limit=300) == 300  # the smaller bound
    assert progress_total(200, limit=300) == 200
    assert progress_total(1000, limit=None, done=400) == 600  # a resumed run
    assert progress_total(1000, limit=None, done=1200) == 0
    assert progress_total(1000, limit=300, shards=4) == 75  # --shard 1/4: a quarter of --limit
    assert progress_total(1001, limit=None, shards=4, done=1) == 250
