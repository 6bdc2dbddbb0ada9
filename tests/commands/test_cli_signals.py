"""A SIGTERM or Ctrl-C before a command installs its own handling ends the CLI cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

#: main() runs; the signal arrives while it builds its parser, before any command has started.
EARLY_SIGNAL = textwrap.dedent("""
    import os, signal, sys
    # a shell's background job inherits SIGINT ignored; a terminal's Ctrl-C is what is tested
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import survey.cli as cli
    real = cli.build_parser
    def build():
        os.kill(os.getpid(), signal.{name})
        return real()
    cli.build_parser = build
    sys.exit(cli.main(["verify", "nowhere"]))
""")


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_an_early_signal_exits_130_without_a_traceback(name: str) -> None:
    result = subprocess.run([sys.executable, "-c", EARLY_SIGNAL.format(name=name)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 130, (result.returncode, result.stderr)
    assert "interrupted" in result.stderr and "Traceback" not in result.stderr


def test_main_restores_the_previous_sigterm_handler() -> None:
    from survey.cli import main

    before = signal.getsignal(signal.SIGTERM)
    assert main(["verify", "/nonexistent-snapshot"]) != 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_python_m_survey_turns_sigterm_into_an_interrupt() -> None:
    """``python -m survey`` installs the handler before it imports anything heavy."""
    code = ("import runpy, os, signal, sys\n"
            "sys.argv = ['survey', '--version']\n"
            "import survey.cli\n"
            "survey.cli.build_parser = lambda: os.kill(os.getpid(), signal.SIGTERM)\n"
            "runpy.run_module('survey', run_name='__main__')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 130, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
