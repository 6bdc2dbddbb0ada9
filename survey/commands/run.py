"""`mta-sts-survey run SURVEY.toml [--date YYYY-MM-DD] [scan options]`: one periodic step.

scan → retry the errors once → publish the dated snapshot → report → diff against the previous
snapshot of the same survey (from the publication's ``index.json``) → add it to the index.
Every stage looks at what is already there before doing anything, so the same command resumes
a step killed anywhere, and a second run for a finished date does nothing new:

| stage   | done when                                                                   |
|---------|-----------------------------------------------------------------------------|
| scan    | ``runs/<date>/manifest.json`` says complete (else the scan resumes)         |
| retry   | ``runs/<date>/run-state.json`` says the errors were retried (or none)      |
| publish | the snapshot's ``SHA256SUMS`` is at the destination (written last)          |
| report  | ``<snapshot>-report.html`` is at the destination                            |
| diff    | ``diff-<previous>-<snapshot>.parquet`` is at the destination (or no previous) |
| index   | ``index.json`` lists the snapshot                                           |
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

STATE = "run-state.json"
STAGES = ("scan", "retry", "publish", "report", "diff", "index")


class StageFailed(Exception):
    """A stage did not finish; the message says why; the exit status is ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="one periodic survey step from a survey definition file",
        usage="%(prog)s SURVEY.toml [--date YYYY-MM-DD] [scan options]",
        description="Scan the toplist SURVEY.toml defines (scan options given here override "
        "the file's), retry the errors once, publish the dated snapshot, write its report, "
        "diff it against the survey's previous snapshot and add it to the publication index. "
        "Resumable: run the same command again after a stop or a kill; for a finished date it "
        "does nothing. See docs/periodic.md.",
    )
    parser.add_argument("survey", type=Path, help="survey definition file (TOML)")
    parser.add_argument("options", nargs=argparse.REMAINDER, metavar="...",
                        help="--date YYYY-MM-DD (default: today, UTC), then scan options")
    parser.set_defaults(func=run)


def scan_parser() -> argparse.ArgumentParser:
    """The ``scan`` command's own parser: a survey definition's options and ``run``'s trailing
    ones are scan options, read by the very parser ``mta-sts-survey scan`` uses."""
    from survey.commands import scan

    parser = argparse.ArgumentParser(prog="mta-sts-survey")
    subparsers = parser.add_subparsers()
    scan.register(subparsers)
    found: argparse.ArgumentParser = subparsers.choices["scan"]
    return found


def _split_date(tokens: list[str]) -> tuple[str, list[str]]:
    """``--date`` out of the tokens after SURVEY.toml; the rest are scan options."""
    from survey.commands.scan_plan import parse_date

    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--date")
    known, rest = own.parse_known_args(tokens)
    if known.date is None:
        return dt.datetime.now(dt.UTC).date().isoformat(), rest
    try:
        return parse_date("--date", known.date), rest
    except ValueError as exc:
        raise StageFailed(str(exc), 2) from None


def run(args: argparse.Namespace) -> int:
    from survey.analysis.publish import PublishError
    from survey.commands.survey_file import SurveyFileError

    try:
        return _run(args)
    except SurveyFileError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 2
    except PublishError as exc:  # its message says what to do
        print(f"run: {exc}", file=sys.stderr)
        return 1
    except (StageFailed, ValueError, OSError) as exc:
        print(f"run: {exc}", file=sys.stderr)
        status = getattr(exc, "status", 1)
        if status == 1:
            print("run: re-run the same command to resume", file=sys.stderr)
        return int(status)


def _log(stage: str, text: str) -> None:
    print(f"run: {stage:<8} {text}", flush=True)


def _run(args: argparse.Namespace) -> int:
    from survey.commands import survey_file
    from survey.dataset.destination import open_destination

    definition = survey_file.load(args.survey)
    date, overrides = _split_date(list(args.options))
    parser = scan_parser()
    tokens = survey_file.merge(survey_file.scan_tokens(definition, parser, date), overrides,
                               parser)
    try:
        scan_args = parser.parse_args(tokens)
    except SystemExit as exc:  # argparse printed why
        raise StageFailed(f"{args.survey}: bad scan options (see above)", 2) from exc
    outdir = definition.outdir(date)
    destination = definition.destination()
    dest = open_destination(destination)
    _log("survey", f"{definition.name} for {date}: {outdir} -> {dest.location}")

    manifest = _scan(scan_args, outdir, quiet=bool(scan_args.no_progress))
    manifest = _record_definition(outdir, manifest, definition.record(overrides))
    manifest = _retry(outdir, manifest, quiet=bool(scan_args.no_progress))
    name = _publish(outdir, destination, dest, manifest)
    report = _report(outdir, dest, name)
    diff_name = _diff(outdir, dest, name, definition.name, date)
    files = {"report": report, **({"diff": diff_name} if diff_name else {})}
    from survey.analysis.publish import add_to_index

    if add_to_index(dest, name, **files):
        _log("index", f"{name} added to {dest.location}/index.json")
    else:
        _log("index", f"{name} already listed")
    return 0


def _read_state(outdir: Path) -> dict[str, Any]:
    path = outdir / STATE
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(outdir: Path, state: dict[str, Any]) -> None:
    from survey.dataset.fsio import atomic_write_bytes

    text = json.dumps(state, indent=1, sort_keys=True) + "\n"
    atomic_write_bytes(outdir / STATE, text.encode())


def _scan(scan_args: argparse.Namespace, outdir: Path, *, quiet: bool) -> dict[str, Any]:
    from survey.commands import scan
    from survey.dataset.sink import read_manifest

    manifest = read_manifest(outdir) if outdir.is_dir() else None
    if manifest is not None and manifest.get("state") == "complete":
        _log("scan", f"complete ({_counts_text(manifest)})")
        return manifest
    if manifest is not None and manifest.get("retrying"):
        _log("scan", "finishing the interrupted retry of the errors")
        status = scan.run(_retry_args(outdir, quiet=quiet))
    else:
        _log("scan", "resuming" if manifest is not None else "starting")
        status = scan.run(scan_args)
    manifest = read_manifest(outdir) if outdir.is_dir() else None
    if status != 0 or manifest is None or manifest.get("state") != "complete":
        raise StageFailed(f"the scan into {outdir} did not finish (exit status {status})",
                          status or 1)
    return manifest


def _retry_args(outdir: Path, *, quiet: bool) -> argparse.Namespace:
    return scan_parser().parse_args(["--retry-errors", str(outdir),
                                      *(["--no-progress"] if quiet else [])])


def _record_definition(outdir: Path, manifest: dict[str, Any],
                       record: dict[str, Any]) -> dict[str, Any]:
    """The definition file's content into the run's manifest, once (the file that made the
    scan; later sessions' edits do not rewrite a finished run's record)."""
    from survey.dataset.sink import write_manifest

    if isinstance(manifest.get("survey"), dict):
        return manifest
    manifest = {**manifest, "survey": record}
    write_manifest(outdir, manifest)
    return manifest


def _retry(outdir: Path, manifest: dict[str, Any], *, quiet: bool) -> dict[str, Any]:
    from survey.commands import scan
    from survey.dataset.sink import read_manifest

    state = _read_state(outdir)
    errors = int((manifest.get("counts") or {}).get("error", 0))
    if state.get("retried") or not errors:
        _log("retry", "done before" if state.get("retried") else "no errors to retry")
        return manifest
    _write_state(outdir, {**state, "retried": True, "errors_before_retry": errors})
    _log("retry", f"probing {errors:,} domain(s) with status error again")
    status = scan.run(_retry_args(outdir, quiet=quiet))
    manifest = read_manifest(outdir) or {}
    if status != 0 or manifest.get("state") != "complete":
        raise StageFailed(f"the retry of the errors in {outdir} did not finish", status or 1)
    after = int((manifest.get("counts") or {}).get("error", 0))
    _write_state(outdir, {**_read_state(outdir), "errors_after_retry": after})
    _log("retry", f"{errors - after:,} resolved, {after:,} still error")
    return manifest


def _publish(outdir: Path, destination: str, dest: Any, manifest: dict[str, Any]) -> str:
    from survey.analysis.publish import publish, published_manifest, snapshot_name

    name = snapshot_name(manifest)
    if published_manifest(dest, name) is not None:
        _log("publish", f"{dest.location}/{name} already published")
        return name
    snapshot = publish(outdir, destination, index=False)
    _log("publish", f"{snapshot.rows:,} rows to {snapshot.location}")
    return name


def _report(outdir: Path, dest: Any, name: str) -> str:
    from survey.analysis.report import write_report
    from survey.dataset.destination import LocalDestination

    report = f"{name}-report.html"
    if dest.exists(report):
        _log("report", f"{report} already written")
        return report
    if isinstance(dest, LocalDestination):
        path, _ = write_report(dest.root / name, dest.root / report)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path, _ = write_report(outdir, Path(tmp) / report)
            dest.put(path, report)
    _log("report", f"{dest.location}/{report}")
    return report


def _diff(outdir: Path, dest: Any, name: str, survey: str, date: str) -> str | None:
    from survey.analysis.diff import diff
    from survey.dataset.destination import LocalDestination
    from survey.dataset.index import previous, read_index

    earlier = previous(read_index(dest), survey, date)
    if earlier is None:
        _log("diff", f"no earlier snapshot of {survey} in the index")
        return None
    old = str(earlier["snapshot"])
    out = f"diff-{old}-{name}.parquet"
    if dest.exists(out):
        _log("diff", f"{out} already written")
        return out
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(dest, LocalDestination):
            old_path, new_path = dest.root / old, dest.root / name
        else:  # the previous snapshot's files come down; this one's rows are OUTDIR's
            old_path, new_path = Path(tmp) / old, outdir
            dest.fetch(old, old_path)
        result = diff(old_path, new_path)
        local = Path(tmp) / out
        result.changes.write_parquet(local, compression="zstd")
        dest.put(local, out)
    summary = ", ".join(f"{change} {n:,}" for change, n in result.summary.iter_rows() if n)
    _log("diff", f"{old} -> {name}: {summary or 'no changes'}")
    return out


def _counts_text(manifest: dict[str, Any]) -> str:
    counts = manifest.get("counts") or {}
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "no rows"
