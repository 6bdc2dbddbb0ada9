"""`mta-sts-survey diff OLD NEW`: adoption changes and longitudinal mistakes between snapshots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from survey.commands._options import non_negative_int


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff", help="compare two snapshots or runs",
        description="Domains that adopted, dropped, changed mode or policy between OLD and NEW, "
        "and the longitudinal mistakes id_not_bumped and enforce_without_testing. Writes the "
        "changes as Parquet and prints a summary.",
    )
    parser.add_argument("old", help="snapshot or run directory, or a snapshot's URL "
                        "(s3://bucket/prefix/<snapshot>, gs://...)")
    parser.add_argument("new", help="the same, later")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="Parquet file for the changes (default: NEW/diff-<OLD name>.parquet "
                        "for a run; beside NEW, diff-<OLD name>-<NEW name>.parquet, for a "
                        "published snapshot, which is immutable; beside NEW on the store for "
                        "a URL)")
    parser.add_argument("--show", type=non_negative_int, default=10, metavar="N",
                        help="list the N highest-ranked domains of each change (default 10)")
    parser.set_defaults(func=run)


def default_output(old: Path, new: Path) -> Path:
    """Where the changes go without -o: never inside a published snapshot (its files are listed
    in SHA256SUMS, so `verify` would fail, and `load` must read only its rows)."""
    from survey.analysis.publish import SUMS

    old_name, new_name = old.resolve().name, new.resolve().name
    if (new / SUMS).is_file():
        return new.resolve().parent / f"diff-{old_name}-{new_name}.parquet"
    return new / f"diff-{old_name}.parquet"


def _local_copy(text: str, directory: Path) -> Path:
    """A snapshot URL's files downloaded under ``directory`` (its manifest labels it); a path
    as it is."""
    from survey.dataset.destination import is_url, open_destination

    if not is_url(text):
        return Path(text)
    local = directory / text.rstrip("/").rsplit("/", 1)[-1]
    open_destination(text).fetch("", local)
    if not local.is_dir():
        raise FileNotFoundError(f"{text}: no such snapshot")
    return local


def run(args: argparse.Namespace) -> int:
    import tempfile

    from survey.dataset.destination import is_url

    for path in (args.old, args.new):
        if not is_url(path) and not Path(path).is_dir():
            print(f"diff: {path}: not a directory", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as tmp:
        try:
            old = _local_copy(args.old, Path(tmp) / "old")
            new = _local_copy(args.new, Path(tmp) / "new")
        except (OSError, ValueError) as exc:
            print(f"diff: {exc}", file=sys.stderr)
            return 2
        return _diff(args, old, new, Path(tmp))


def _diff(args: argparse.Namespace, old: Path, new: Path, tmp: Path) -> int:
    import polars as pl

    from survey.analysis.diff import diff, snapshot_label
    from survey.dataset.destination import is_url, open_destination

    try:
        result = diff(old, new)
    except FileNotFoundError as exc:
        print(f"diff: {exc}", file=sys.stderr)
        return 2
    upload = None
    if args.output is not None:
        out = args.output
    elif is_url(args.new):
        parent, _, name = args.new.rstrip("/").rpartition("/")
        upload = (parent, f"diff-{old.name}-{name}.parquet")
        out = tmp / upload[1]
    else:
        out = default_output(old, new)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.changes.write_parquet(out, compression="zstd")
    where = str(out)
    if upload is not None:
        open_destination(upload[0]).put(out, upload[1])
        where = f"{upload[0]}/{upload[1]}"
    print(f"{snapshot_label(old)} -> {snapshot_label(new)}")
    print(f"{'change':<26} {'domains':>9}")
    for change, domains in result.summary.iter_rows():
        print(f"{change:<26} {domains:>9,}")
        if domains and args.show:
            sample = result.changes.filter(pl.col("change") == change).head(args.show)
            for row in sample.iter_rows(named=True):
                print(f"    {row['rank'] or '-':>8}  {row['domain']}  "
                      f"{row['old_status']} -> {row['new_status']}")
    print(f"\nchanges written to {where}")
    return 0
