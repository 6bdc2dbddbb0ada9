"""`mta-sts-survey report OUTDIR [-o FILE.html]`: the HTML report and the headline table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="write a self-contained HTML report of a dataset",
        description="Write a self-contained HTML report (tables and inline SVG figures) of a "
        "scan's output directory or a published snapshot, and print the headline table.",
    )
    parser.add_argument("dataset", type=Path, help="scan output directory or snapshot")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="HTML file to write (default: DATASET/report.html; beside a "
                        "published snapshot, <snapshot>-report.html, as its files are fixed "
                        "by SHA256SUMS)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from survey.analysis.report import default_output, write_report

    if not args.dataset.is_dir():
        print(f"report: {args.dataset}: not a directory", file=sys.stderr)
        return 2
    try:
        path, headline = write_report(args.dataset, args.output or default_output(args.dataset))
    except FileNotFoundError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    print(headline)
    print(f"\nreport written to {path}")
    return 0
