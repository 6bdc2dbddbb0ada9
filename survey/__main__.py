"""``python -m survey``: a Ctrl-C or SIGTERM while the modules load ends quietly (status 130)."""

import signal
import sys


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _interrupt)
try:
    from survey.cli import main

    status = main()
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    status = 130
raise SystemExit(status)
