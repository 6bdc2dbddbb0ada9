"""Command-line entry point: argument parsing and dispatch only.

Each command lives in ``survey.commands.<name>`` with ``register(subparsers)``, which adds its
parser and sets ``func`` (taking the parsed namespace, returning an exit status). Option errors
exit 2 before anything touches the network.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from survey import __version__

#: Command modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("scan", "check", "sim", "report", "publish", "verify", "diff")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mta-sts-survey",
        description="Survey MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) adoption and mistakes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"survey.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"survey.commands.{name}":
                raise
            continue  # command not built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status
