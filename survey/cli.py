"""Command-line entry point: argument parsing and dispatch only.

Each command lives in ``survey.commands.<name>`` with ``register(subparsers)``, which adds its
parser and sets ``func`` (taking the parsed namespace, returning an exit status). Option errors
exit 2 before anything touches the network.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from survey import __version__

#: Command modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("scan", "check", "sim", "report", "publish", "verify", "diff", "run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mta-sts-survey",
        description="Survey MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) adoption and mistakes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"survey.commands.{name}").register(subparsers)
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM takes Ctrl-C's path until a command installs its own handling (the scan's trio
    signal receiver does): a SIGTERM in the first moments then ends cleanly, not by the default
    action that kills the process without a word."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    with sigterm_as_interrupt():
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            if getattr(args, "func", None) is None:
                parser.print_help(sys.stderr)
                return 2
            status: int = args.func(args)
        except KeyboardInterrupt:
            print("interrupted (a scan resumes when the same command is run again)",
                  file=sys.stderr)
            return 130
    return status
