"""`mta-sts-survey publish OUTDIR --to datasets/`: a dated, documented, verifiable snapshot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "publish", help="turn a finished run into a dated snapshot",
        description="Write a snapshot directory (Parquet partitioned by status, aggregates as "
        "CSV/JSON, a datasheet README.md and SHA256SUMS) from a finished scan. A refused "
        "publish says why and writes nothing.",
    )
    parser.add_argument("run", type=Path, help="scan output directory (finished)")
    parser.add_argument("--to", type=Path, default=Path("datasets"), dest="datasets",
                        help="datasets directory (default: datasets/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from survey.analysis.publish import PublishError, publish

    try:
        snapshot = publish(args.run, args.datasets)
    except PublishError as exc:
        print(f"publish refused: {exc}", file=sys.stderr)
        return 2
    print(f"published {snapshot.rows:,} rows to {snapshot.path}")
    for status, count in sorted(snapshot.counts.items()):
        print(f"  {status:<8} {count:>10,}")
    return 0
