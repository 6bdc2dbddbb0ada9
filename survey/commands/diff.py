"""`mta-sts-survey diff OLD NEW`: adoption changes and longitudinal mistakes between snapshots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from survey.commands.scan import _non_negative_int


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff", help="compare two snapshots or runs",
        description="Domains that adopted, dropped, changed mode or policy between OLD and NEW, "
        "and the longitudinal mistakes id_not_bumped and enforce_without_testing. Writes the "
        "changes as Parquet and prints a summary.",
    )
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="Parquet file for the changes (default: NEW/diff-<OLD name>.parquet "
                        "for a run; beside NEW, diff-<OLD name>-<NEW name>.parquet, for a "
                        "published snapshot, which is immutable)")
    parser.add_argument("--show", type=_non_negative_int, default=10, metavar="N",
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


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from survey.analysis.diff import diff, snapshot_label

    for path in (args.old, args.new):
        if not path.is_dir():
            print(f"diff: {path}: not a directory", file=sys.stderr)
            return 2
    try:
        result = diff(args.old, args.new)
    except FileNotFoundError as exc:
        print(f"diff: {exc}", file=sys.stderr)
        return 2
    out = args.output or default_output(args.old, args.new)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.changes.write_parquet(out, compression="zstd")
    print(f"{snapshot_label(args.old)} -> {snapshot_label(args.new)}")
    print(f"{'change':<26} {'domains':>9}")
    for change, domains in result.summary.iter_rows():
        print(f"{change:<26} {domains:>9,}")
        if domains and args.show:
            sample = result.changes.filter(pl.col("change") == change).head(args.show)
            for row in sample.iter_rows(named=True):
                print(f"    {row['rank'] or '-':>8}  {row['domain']}  "
                      f"{row['old_status']} -> {row['new_status']}")
    print(f"\nchanges written to {out}")
    return 0
