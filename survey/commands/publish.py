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
        "CSV/JSON, a datasheet README.md and SHA256SUMS) from a finished scan, into a directory "
        "or onto an object store, and list it in the destination's index.json. A refused "
        "publish says why and writes nothing; one stopped half-way finishes when run again.",
    )
    parser.add_argument("run", type=Path, help="scan output directory (finished)")
    parser.add_argument("--to", default="datasets", dest="datasets", metavar="DEST",
                        help="datasets directory (default: datasets/), or an object-store "
                        "prefix: s3://bucket/prefix, gs://... (needs the s3 or gcs extra)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from survey.analysis.publish import PublishError, publish

    try:
        snapshot = publish(args.run, args.datasets)
    except PublishError as exc:
        print(f"publish refused: {exc}", file=sys.stderr)
        return 2
    print(f"published {snapshot.rows:,} rows to {snapshot.location}")
    for status, count in sorted(snapshot.counts.items()):
        print(f"  {status:<8} {count:>10,}")
    return 0
