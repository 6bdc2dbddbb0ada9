"""`mta-sts-survey verify SNAPSHOT`: check every file against SHA256SUMS."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify", help="check a snapshot against its SHA256SUMS",
        description="Exit 0 when every file of the snapshot matches SHA256SUMS and no file is "
        "unlisted; otherwise list the problems and exit 1.",
    )
    parser.add_argument("snapshot", help="snapshot directory, or its URL (s3://bucket/prefix/"
                        "<snapshot>, gs://...)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from survey.analysis.publish import verify
    from survey.dataset.destination import is_url

    if not is_url(args.snapshot) and not Path(args.snapshot).is_dir():
        print(f"verify: {args.snapshot}: not a directory", file=sys.stderr)
        return 2
    try:
        problems = verify(args.snapshot)
    except (ValueError, OSError) as exc:
        print(f"verify: {args.snapshot}: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"verify: {len(problems)} problem(s) in {args.snapshot}", file=sys.stderr)
        return 1
    print(f"{args.snapshot}: OK")
    return 0
