"""atheris entry point: ``python -m tests.fuzz.run TARGET [libFuzzer options] [corpus dirs]``.

The properties live in tests/fuzz/harnesses.py (``check_<target>``); this module only
instruments the code under test (survey and dnspython, for coverage feedback) and hands one
check to libFuzzer. ``make fuzz`` runs every target for ``FUZZ_SECONDS``.
"""

from __future__ import annotations

import shlex
import sys

import atheris

with atheris.instrument_imports(include=["survey", "dns"]):
    from tests.fuzz.harnesses import TARGETS


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.fuzz.run {{{'|'.join(TARGETS)}}} [libFuzzer args]")
    check = TARGETS[argv[1]]
    # libFuzzer's -merge=1 re-runs argv[0] through sh: make it the command that reaches here.
    command = f"{shlex.quote(sys.executable)} -m tests.fuzz.run {argv[1]}"
    atheris.Setup([command, *argv[2:]], check)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
