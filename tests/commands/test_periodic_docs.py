"""docs/periodic.md's scheduling files: the systemd units parse (``systemd-analyze verify``
where systemd is installed; their keys otherwise), the timer's calendar is valid, the cron line
has its fields and valid shell, the example definition uses only `scan`'s options, and the
page quotes every file as it is."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from survey.commands.run import scan_parser
from survey.commands.survey_file import load, scan_tokens

DOCS = Path(__file__).resolve().parents[2] / "docs"
FILES = DOCS / "periodic"
ANALYZE = shutil.which("systemd-analyze")
COMMAND = "/usr/local/bin/mta-sts-survey"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((FILES / name).read_text())
    return parser


def test_the_page_quotes_every_file_as_it_is() -> None:
    page = (DOCS / "periodic.md").read_text()
    for name in ("mta-sts-survey.service", "mta-sts-survey.timer", "crontab", "survey.toml"):
        assert (FILES / name).read_text() in page, name
        assert f"(periodic/{name})" in page


def test_units_have_what_a_periodic_run_needs() -> None:
    service, timer = unit("mta-sts-survey.service"), unit("mta-sts-survey.timer")
    assert service["Service"]["Type"] == "oneshot"
    start = service["Service"]["ExecStart"]
    assert f"{COMMAND} run /etc/mta-sts-survey/survey.toml" in start
    assert '--date "$(date -u +%%Y-%%m-01)"' in start  # %% is systemd's literal %
    assert timer["Timer"]["Unit"] == "mta-sts-survey.service"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(ANALYZE is None, reason="no systemd-analyze on this machine (the keys are "
                    "checked by test_units_have_what_a_periodic_run_needs)")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    assert ANALYZE is not None
    # as they are: ExecStart runs /bin/sh, which systemd checks; sh -n checks the command
    for name in ("mta-sts-survey.service", "mta-sts-survey.timer"):
        shutil.copy(FILES / name, tmp_path / name)
    done = subprocess.run([ANALYZE, "verify", str(tmp_path / "mta-sts-survey.service"),
                           str(tmp_path / "mta-sts-survey.timer")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    start = unit("mta-sts-survey.service")["Service"]["ExecStart"]
    shell = start.removeprefix("/bin/sh -c ").strip("'").replace("%%", "%")
    assert subprocess.run(["sh", "-n", "-c", shell], timeout=10).returncode == 0
    calendar = unit("mta-sts-survey.timer")["Timer"]["OnCalendar"]
    checked = subprocess.run([ANALYZE, "calendar", calendar], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0 and "Next elapse" in checked.stdout, checked.stderr


def test_systemd_analyze_finds_a_broken_unit(tmp_path: Path) -> None:
    if ANALYZE is None:
        pytest.skip("no systemd-analyze on this machine")
    broken = (FILES / "mta-sts-survey.service").read_text().replace("Type=oneshot",
                                                                   "Type=oneshot-ish")
    (tmp_path / "broken.service").write_text(broken)
    done = subprocess.run([ANALYZE, "verify", str(tmp_path / "broken.service")],
                          capture_output=True, text=True, timeout=60)
    assert "Failed to parse service type" in done.stderr and "oneshot-ish" in done.stderr


def test_the_cron_line_has_five_time_fields_a_user_and_valid_shell() -> None:
    lines = [x for x in (FILES / "crontab").read_text().splitlines()
             if x.strip() and not x.startswith("#") and "=" not in x.split()[0]]
    assert len(lines) == 1
    minute, hour, day, month, weekday, user, command = lines[0].split(None, 6)
    assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24
    assert (day, month, weekday, user) == ("*", "*", "*", "mta-sts-survey")
    assert f"{COMMAND} run /etc/mta-sts-survey/survey.toml" in command
    shell = command.replace("\\%", "%")  # cron turns an unescaped % into a newline
    assert re.search(r"(?<!\\)%", command) is None  # every % escaped
    assert subprocess.run(["sh", "-n", "-c", shell], timeout=10).returncode == 0
    month_start = subprocess.run(["sh", "-c", "date -u +%Y-%m-01"], capture_output=True,
                                 text=True, timeout=10).stdout.strip()
    assert re.fullmatch(r"\d{4}-\d{2}-01", month_start)


def test_the_example_definition_is_a_valid_survey() -> None:
    definition = load(FILES / "survey.toml")
    tokens = scan_tokens(definition, scan_parser(), "2026-12-01")
    args = scan_parser().parse_args(tokens)
    assert definition.name == "tranco-monthly"
    assert args.output == "/var/lib/mta-sts-survey/runs/2026-12-01"
    assert args.workers == 2 and args.resolver == [("127.0.0.1", 53)]
    assert definition.destination() == "s3://example-bucket/mta-sts"
