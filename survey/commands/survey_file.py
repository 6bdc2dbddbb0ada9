"""A survey definition file (TOML, read with the standard library's ``tomllib``) as `scan`
options, for `mta-sts-survey run SURVEY.toml`.

    name = "tranco-monthly"            # the series; default: the file's name without .toml

    [toplist]                          # source; name, date, format, limit: --toplist-name...
    source = "lists/tranco_6P7X.csv"   # path (relative to this file) or URL; {date}: run date
    name = "tranco-6P7X"

    [scan]                             # any other `scan` option, by its long name
    resolver = ["127.0.0.1:53"]        # repeatable options take a list
    rate = 2000
    smtp = true                        # flags take true (false: not given)
    exclude = "optout.txt"             # paths are relative to this file

    [output]
    runs = "runs"                      # scan output directories: runs/<date>/
    publish = "s3://bucket/mta-sts"    # or a directory (default: datasets/ beside this file)

The file's keys become scan tokens parsed by the scan command's own parser, so a value is
checked exactly as on the command line; options given to `run` on the command line come after
them and override them (a repeatable option given there replaces the file's list).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from survey.dataset.destination import url_scheme

#: [toplist] keys and the scan options they stand for.
TOPLIST_KEYS = {"name": "--toplist-name", "date": "--toplist-date", "format": "--format",
                "limit": "--limit"}
#: scan options `run` sets itself, or that [toplist] holds.
NOT_IN_SCAN = frozenset({"--output", "--retry-errors", "--run-date", "--help",
                         *TOPLIST_KEYS.values()})
OUTPUT_KEYS = frozenset({"runs", "publish"})


class SurveyFileError(Exception):
    """The definition file is unreadable or names an unknown option: one line, exit 2."""


@dataclass(frozen=True)
class SurveyDefinition:
    path: Path  # absolute
    text: str
    name: str
    source: str  # the toplist, {date} not yet replaced
    toplist: dict[str, Any] = field(default_factory=dict)
    scan: dict[str, Any] = field(default_factory=dict)
    runs: str = "runs"
    publish: str = "datasets"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def record(self, overrides: list[str]) -> dict[str, Any]:
        """What the run's manifest records: the file's content, so a snapshot says exactly how
        it was configured (``overrides``: the options given to `run` on the command line)."""
        return {"name": self.name, "file": str(self.path), "sha256": self.sha256,
                "definition": self.text, "overrides": overrides}

    def located(self, value: str) -> str:
        """A path of the file made absolute from the file's directory; URLs stay as they are."""
        if url_scheme(value) is not None or value == "-":
            return value
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else self.path.parent / path)

    def outdir(self, date: str) -> Path:
        return Path(self.located(self.runs)) / date

    def destination(self) -> str:
        return self.located(self.publish)


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise SurveyFileError(f"[{key}] must be a table")
    return value


def load(path: Path) -> SurveyDefinition:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise SurveyFileError(f"{path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SurveyFileError(f"{path}: not TOML: {exc}") from exc
    unknown = set(data) - {"name", "toplist", "scan", "output"}
    if unknown:
        raise SurveyFileError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} (expected "
                              "name, [toplist], [scan], [output])")
    toplist, scan, output = _table(data, "toplist"), _table(data, "scan"), _table(data, "output")
    source = toplist.get("source")
    if not isinstance(source, str) or not source:
        raise SurveyFileError(f"{path}: [toplist] source (the toplist file or URL) is required")
    bad = (set(toplist) - set(TOPLIST_KEYS) - {"source"}) | (set(output) - OUTPUT_KEYS)
    if bad:
        raise SurveyFileError(f"{path}: unknown key(s) {', '.join(sorted(bad))} in [toplist] "
                              f"or [output]")
    for key in OUTPUT_KEYS & set(output):
        if not isinstance(output[key], str) or not output[key]:
            raise SurveyFileError(f"{path}: [output] {key} must be a path or URL")
    if url_scheme(str(output.get("runs", ""))) is not None:
        raise SurveyFileError(f"{path}: [output] runs must be a local directory (the retry of "
                              "the errors rewrites parts in place); publish may be a URL")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise SurveyFileError(f"{path}: name must be a non-empty string")
    return SurveyDefinition(path.resolve(), text, name.strip(), source,
                            {k: v for k, v in toplist.items() if k != "source"}, scan,
                            output.get("runs", "runs"), output.get("publish", "datasets"))


def _value_tokens(option: str, action: argparse.Action, value: Any,
                  located: Any) -> list[str]:
    """The command-line tokens of one option's TOML value."""
    if isinstance(value, bool):
        if action.nargs != 0:
            raise SurveyFileError(f"{option} takes a value, not true/false")
        return [option] if value else []
    if action.nargs == 0:
        raise SurveyFileError(f"{option} is a flag: give true or false")
    if isinstance(value, list):
        if not isinstance(action, argparse._AppendAction):
            raise SurveyFileError(f"{option} is not repeatable: give one value, not a list")
        return [t for item in value for t in _value_tokens(option, action, item, located)]
    # a bare TOML date (2026-11-27) is a date object whose str() is YYYY-MM-DD; a time is not
    if isinstance(value, dict | dt.datetime | dt.time):
        raise SurveyFileError(f"{option}: give a string, a number or a date")
    text = str(value)
    if action.type is Path:
        text = located(text)
    return [option, text]


def scan_tokens(definition: SurveyDefinition, scan_parser: argparse.ArgumentParser,
                date: str) -> list[str]:
    """The `scan` command line the file says, for the survey of ``date``: TOPLIST first, then
    ``-o`` (the run's directory), ``--run-date`` and every option of [toplist] and [scan]."""
    actions = {s: a for a in scan_parser._actions for s in a.option_strings if s.startswith("--")}
    tokens = [definition.located(definition.source.replace("{date}", date)),
              "-o", str(definition.outdir(date)), "--run-date", date]
    for key, option in TOPLIST_KEYS.items():
        if key in definition.toplist:
            value = definition.toplist[key]
            text = value.replace("{date}", date) if isinstance(value, str) else value
            tokens += _value_tokens(option, actions[option], text, definition.located)
    for key, value in definition.scan.items():
        option = "--" + key.replace("_", "-")
        if option not in actions or option in NOT_IN_SCAN:
            hint = " (in [toplist] or [output])" if option in NOT_IN_SCAN else ""
            raise SurveyFileError(f"{definition.path}: [scan] {key}: not a scan option{hint}")
        try:
            tokens += _value_tokens(option, actions[option], value, definition.located)
        except SurveyFileError as exc:
            raise SurveyFileError(f"{definition.path}: [scan] {key}: {exc}") from None
    return tokens


def merge(file_tokens: list[str], cli_tokens: list[str],
          scan_parser: argparse.ArgumentParser) -> list[str]:
    """The file's tokens overridden by the command line's: a repeatable option given on the
    command line drops the file's values of it (argparse would add them up)."""
    given = {s for t in cli_tokens if t.startswith("--") for s in [t.split("=", 1)[0]]}
    repeatable = {s for a in scan_parser._actions if isinstance(a, argparse._AppendAction)
                  for s in a.option_strings}
    dropped = given & repeatable
    kept: list[str] = []
    skip = False
    for token in file_tokens:
        if skip:
            skip = False
            continue
        if token in dropped:
            skip = True
            continue
        kept.append(token)
    return kept + cli_tokens
