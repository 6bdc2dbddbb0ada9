"""The one option table (``survey.dataset.manifest.OPTIONS``): every scan option is in it,
what ``scan`` records is what it lists, and the resume rule compares every option that changes
results, and the schema version."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from survey.cli import build_parser
from survey.commands.scan import record_options
from survey.dataset.manifest import (
    OPTIONS,
    RECORDED,
    RESULT_OPTIONS,
    SCAN_DEFAULTS,
    SESSION_ARGUMENTS,
    Option,
    read_manifest,
    resume_conflicts,
    saved_options,
)

SCHEMA = "7.1"  # any version: the rule compares equality


def scan_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    scan: argparse.ArgumentParser = commands.choices["scan"]
    return scan


def scan_dests() -> set[str]:
    return {a.dest for a in scan_parser()._actions if a.dest != "help"}


def test_every_scan_argument_is_in_the_table_or_a_session_argument() -> None:
    table = {o.dest for o in OPTIONS if o.dest}
    assert scan_dests() - SESSION_ARGUMENTS == table
    assert not SESSION_ARGUMENTS & table


def test_each_key_and_dest_is_in_the_table_once() -> None:
    keys = [o.key for o in OPTIONS if o.key]
    dests = [o.dest for o in OPTIONS if o.dest]
    assert len(keys) == len(set(keys)) and len(dests) == len(set(dests))


def test_an_option_that_is_not_compared_says_why() -> None:
    for option in OPTIONS:
        assert (option.effect == "result") == (not option.why), option
        assert option.effect != "result" or option.key is not None, option  # comparable


def test_what_scan_records_is_what_the_table_lists(tmp_path: Path) -> None:
    toplist = tmp_path / "list.csv"
    toplist.write_text("1,example.org\n")
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("example.net\n")
    args = scan_parser().parse_args([str(toplist), "-o", str(tmp_path / "out"), "--exclude",
                                     str(exclude)])
    for dest, value in SCAN_DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, value)
    record = record_options(args, (("127.0.0.1", 53),), None, "list", None)
    assert list(record) == list(RECORDED)
    assert record["exclude_sha256"] and record["toplist_path"] == str(toplist.resolve())
    json.dumps(record)  # the manifest is JSON


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.key], ids=lambda o: o.key)
def test_the_resume_rule_compares_exactly_the_result_options(option: Option) -> None:
    assert option.key is not None
    recorded = dict.fromkeys(RECORDED, "same")
    before = {"schema_version": SCHEMA, "options": recorded}
    now = {**recorded, option.key: "changed"}
    conflicts = resume_conflicts(before, now, SCHEMA)
    if option.effect == "result":
        assert conflicts == [option.key]
        assert option.key in RESULT_OPTIONS
    else:
        assert conflicts == []


def test_the_resume_rule_compares_the_schema_version() -> None:
    options = dict.fromkeys(RECORDED, 1)
    assert resume_conflicts({"schema_version": SCHEMA, "options": options}, options,
                            SCHEMA) == []
    assert resume_conflicts({"schema_version": "1.0", "options": options}, options,
                            SCHEMA) == ["schema_version"]
    assert resume_conflicts({"options": options}, options, SCHEMA) == ["schema_version"]


def test_saved_options_restore_what_was_recorded() -> None:
    manifest = {"options": {"rate": 50, "resolvers": ["::1:5353"], "smtp": True,
                            "exclude": "/x", "workers": 3}, "run_date": "2026-11-01"}
    assert saved_options(manifest) == {"rate": 50.0, "resolver": [("::1", 5353)], "smtp": True,
                                       "exclude": Path("/x"), "run_date": "2026-11-01"}


def test_one_reader_none_or_a_clear_error(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) is None
    (tmp_path / "manifest.json").write_text("[1]")
    with pytest.raises(ValueError, match="not a JSON object"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{bad")
    with pytest.raises(ValueError, match="unreadable manifest"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"run_id": "r"}')
    assert read_manifest(tmp_path) == {"run_id": "r"}
