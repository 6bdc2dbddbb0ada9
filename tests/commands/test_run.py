"""`mta-sts-survey run SURVEY.toml`: a survey definition file, and the periodic step on the test
internet's evolved monthly series: two snapshots, a diff equal to the series' answer key, the
index; a second run for a date does nothing; a run killed while publishing finishes with the
same SHA256SUMS as one never interrupted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from survey.analysis.publish import verify
from survey.cli import main
from survey.commands.run import scan_parser
from survey.commands.survey_file import SurveyFileError, load, merge, scan_tokens
from survey.sim.evolve import Step, evolve
from survey.sim.generator import generate_world
from survey.sim.scenario import World
from survey.sim.world import RunningWorld, start_world

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

DATES = ("2026-10-01", "2026-11-01")
SURVEY = """name = "sim-monthly"

[toplist]
source = "world-{date}/toplist.csv"
name = "tranco-SIM1"

[scan]
allow-private = true
rate = 50000
concurrency = 200
no-progress = true

[output]
runs = "runs"
publish = "%s"
"""


def write_survey(path: Path, publish_to: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SURVEY % publish_to)
    return path


# --- the definition file ----------------------------------------------------------------------

def test_every_scan_option_from_the_file_and_the_command_line_overrides(tmp_path: Path) -> None:
    (tmp_path / "optout.txt").write_text("example.org\n")
    survey = tmp_path / "conf" / "s.toml"
    survey.parent.mkdir()
    survey.write_text("""
[toplist]
source = "lists/tranco_6P7X.csv"
date = 2026-11-27
limit = 500
[scan]
resolver = ["127.0.0.1:5353", "127.0.0.2"]
rate = 2000
smtp = true
allow_private = false
exclude = "../optout.txt"
vantage-point = "AS64500"
[output]
runs = "/var/lib/survey/runs"
""")
    definition = load(survey)
    assert definition.name == "s" and definition.destination() == str(tmp_path / "conf" /
                                                                        "datasets")
    parser = scan_parser()
    tokens = scan_tokens(definition, parser, "2026-12-01")
    args = parser.parse_args(tokens)
    assert args.toplist == str(tmp_path / "conf" / "lists" / "tranco_6P7X.csv")
    assert args.output == "/var/lib/survey/runs/2026-12-01" and args.run_date == "2026-12-01"
    assert (args.toplist_date, args.limit, args.rate, args.smtp) == ("2026-11-27", 500, 2000.0,
                                                                     True)
    assert args.allow_private is None  # false: not given
    assert args.resolver == [("127.0.0.1", 5353), ("127.0.0.2", 53)]
    assert args.exclude == tmp_path / "conf" / ".." / "optout.txt"
    assert args.vantage_point == "AS64500"
    merged = parser.parse_args(merge(tokens, ["--resolver", "::1", "--rate", "10"], parser))
    assert merged.resolver == [("::1", 53)] and merged.rate == 10.0  # replaced, not added up
    assert merged.smtp is True


@pytest.mark.parametrize(("text", "message"), [
    ("[toplist]\nname='x'\n", "source"),
    ("[toplist]\nsource='a.csv'\n[scan]\nwarp = 9\n", "warp: not a scan option"),
    ("[toplist]\nsource='a.csv'\n[scan]\noutput = 'x'\n", "in [toplist] or [output]"),
    ("[toplist]\nsource='a.csv'\n[scan]\nrate = [1, 2]\n", "not repeatable"),
    ("[toplist]\nsource='a.csv'\n[scan]\nsmtp = 'yes'\n", "is a flag"),
    ("[toplist]\nsource='a.csv'\n[scans]\n", "unknown key(s) scans"),
    ("[toplist\n", "not TOML"),
    ("[toplist]\nsource='a.csv'\n[output]\nruns = 's3://b/runs'\n", "must be a local directory"),
])
def test_bad_definitions_say_why(tmp_path: Path, text: str, message: str) -> None:
    survey = tmp_path / "bad.toml"
    survey.write_text(text)
    with pytest.raises(SurveyFileError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)")):
        scan_tokens(load(survey), scan_parser(), "2026-12-01")
    assert main(["run", str(survey), "--date", "2026-12-01"]) == 2
    assert not (tmp_path / "runs").exists()


def test_a_bad_value_is_refused_as_scan_would(tmp_path: Path, capsys) -> None:
    survey = write_survey(tmp_path / "s.toml", "datasets")
    survey.write_text(survey.read_text().replace("rate = 50000", "rate = -1"))
    assert main(["run", str(survey), "--date", "2026-12-01"]) == 2
    assert "--rate: must be a positive number" in capsys.readouterr().err
    assert main(["run", str(survey), "--date", "2026-13-01"]) == 2


# --- the periodic step on the evolved series --------------------------------------------------

@pytest.fixture(scope="module")
def series() -> tuple[World, Step]:
    world = generate_world(100, 3)
    return world, evolve(world, 1, seed=3, churn=2)[0]


@pytest.fixture(scope="module")
def worlds(series: tuple[World, Step], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[dict[str, RunningWorld]]:
    """Both months' worlds running at once, each in the directory the definition names."""
    world, step = series
    root = tmp_path_factory.mktemp("worlds")
    with start_world(world, root / f"world-{DATES[0]}") as first, \
            start_world(step.world, root / f"world-{DATES[1]}") as second:
        yield {DATES[0]: first, DATES[1]: second}


def run_month(survey: Path, date: str, running: RunningWorld, *extra: str) -> int:
    """`run` as cron would start it, with the running world's ports as overrides."""
    source = survey.parent / f"world-{date}"
    if not source.exists():
        source.symlink_to(running.toplist.parent, target_is_directory=True)
    return main(["run", str(survey), "--date", date, *running.scan_args(), *extra])


def diff_pairs(frame: pl.DataFrame) -> list[tuple[str, str]]:
    return sorted(zip(frame["domain"].to_list(), frame["change"].to_list(), strict=True))


@pytest.fixture(scope="module")
def local(worlds: dict[str, RunningWorld], tmp_path_factory: pytest.TempPathFactory) -> Path:
    survey = write_survey(tmp_path_factory.mktemp("local") / "survey.toml", "datasets")
    for date in DATES:
        assert run_month(survey, date, worlds[date]) == 0
    return survey


def test_two_months_locally_with_the_answer_keys_diff(local: Path, series: tuple[World, Step],
                                                      capsys) -> None:
    _, step = series
    datasets = local.parent / "datasets"
    index = json.loads((datasets / "index.json").read_text())["snapshots"]
    assert [e["run_date"] for e in index] == list(DATES)
    assert {e["survey"] for e in index} == {"sim-monthly"}
    first, second = (datasets / e["snapshot"] for e in index)
    assert first.name.startswith("2026-10-01-tranco-sim1-")
    for snapshot in (first, second):
        assert verify(snapshot) == []
        assert (datasets / f"{snapshot.name}-report.html").is_file()
        manifest = json.loads((snapshot / "manifest.json").read_text())
        assert manifest["survey"]["definition"] == local.read_text()
        assert manifest["toplist"]["list_id"] == "SIM1"
        assert "Tranco list SIM1" in (snapshot / "README.md").read_text()
    assert "diff" not in index[0]["files"]
    diff_file = datasets / index[1]["files"]["diff"]
    assert diff_file.name == f"diff-{first.name}-{second.name}.parquet"
    assert diff_pairs(pl.read_parquet(diff_file)) == list(step.changes)
    # the README's table is the index's too
    assert second.name in (datasets / "README.md").read_text()


def test_a_second_run_for_a_date_does_nothing(local: Path, worlds: dict[str, RunningWorld],
                                              capsys) -> None:
    root = local.parent
    files = sorted(p for p in root.rglob("*") if p.is_file() and "world-" not in str(p))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    capsys.readouterr()
    assert run_month(local, DATES[1], worlds[DATES[1]]) == 0
    out = capsys.readouterr().out
    for stage in ("scan     complete", "retry    no errors", "already published",
                  "already written", "already listed"):
        assert stage in out
    after = sorted(p for p in root.rglob("*") if p.is_file() and "world-" not in str(p))
    assert after == files
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in after} == before


def kill_when(command: list[str], started: Any, *, env: dict[str, str] | None = None,
              interval: float = 0.002, timeout: float = 120) -> bool:
    """Start ``command``; SIGKILL it as soon as ``started()`` holds. False when it ended first."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if started():
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            time.sleep(interval)
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def copy_finished_scan(local: Path, root: Path) -> tuple[Path, str]:
    """The second month's finished scan in a new survey root; the reference snapshot's name."""
    index = json.loads((local.parent / "datasets" / "index.json").read_text())["snapshots"]
    shutil.copytree(local.parent / "runs" / DATES[1], root / "runs" / DATES[1])
    return local.parent / "datasets" / index[1]["snapshot"], index[1]["snapshot"]


def test_killed_while_publishing_locally_then_finished_gives_the_same_files(
        local: Path, tmp_path: Path) -> None:
    reference, name = copy_finished_scan(local, tmp_path)
    survey = write_survey(tmp_path / "survey.toml", "datasets")
    staging = tmp_path / "datasets" / f".{name}.tmp"
    command = [sys.executable, "-m", "survey", "run", str(survey), "--date", DATES[1]]
    assert kill_when(command, staging.exists), "the run ended before publishing began"
    assert not (tmp_path / "datasets" / name).exists()  # killed before the snapshot was whole
    assert main(["run", str(survey), "--date", DATES[1]]) == 0
    snapshot = tmp_path / "datasets" / name
    assert (snapshot / "SHA256SUMS").read_bytes() == (reference / "SHA256SUMS").read_bytes()
    assert verify(snapshot) == [] and not staging.exists()


# --- publication to an object store (moto's S3 server on 127.0.0.1) ---------------------------

BUCKET = "periodic-bucket"


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A local S3 API for this module: the environment (in-process and for subprocesses) and a
    fresh bucket."""
    moto_server = pytest.importorskip("moto.server")  # the dev extra installs it
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        from survey.dataset.destination import open_fs

        fs, _ = open_fs(f"s3://{BUCKET}/x")
        fs.mkdir(BUCKET)
        yield {**os.environ, **env}
        fs.clear_instance_cache()  # no later test may reach this server through a cached one
    server.stop()


def s3_fs() -> Any:
    from survey.dataset.destination import open_fs

    fs, _ = open_fs(f"s3://{BUCKET}/x")
    fs.invalidate_cache()
    return fs


@pytest.fixture(scope="module")
def on_s3(local: Path, worlds: dict[str, RunningWorld], s3_env: dict[str, str],
          tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same survey published to S3: the months' scans are the local test's (copied, so
    `run` finds them complete), everything after the scan goes to the bucket."""
    survey = write_survey(tmp_path_factory.mktemp("s3") / "survey.toml",
                          f"s3://{BUCKET}/mta-sts")
    shutil.copytree(local.parent / "runs", survey.parent / "runs")
    for date in DATES:
        assert run_month(survey, date, worlds[date]) == 0
    return survey


def test_two_months_to_s3_verify_and_diff_by_url(on_s3: Path, series: tuple[World, Step],
                                                 tmp_path: Path, capsys) -> None:
    _, step = series
    fs = s3_fs()
    index = json.loads(fs.cat_file(f"{BUCKET}/mta-sts/index.json"))["snapshots"]
    assert [e["run_date"] for e in index] == list(DATES)
    first, second = (f"s3://{BUCKET}/mta-sts/{e['snapshot']}" for e in index)
    assert verify(second) == [] and main(["verify", first]) == 0
    for url in (first, second):
        assert fs.exists(f"{url}-report.html")
    changes = pl.read_parquet(fs.cat_file(f"{BUCKET}/mta-sts/{index[1]['files']['diff']}"))
    assert diff_pairs(changes) == list(step.changes)
    capsys.readouterr()
    assert main(["diff", first, second, "-o", str(tmp_path / "d.parquet")]) == 0
    assert capsys.readouterr().out.startswith(f"{DATES[0]} -> {DATES[1]}\n")
    assert diff_pairs(pl.read_parquet(tmp_path / "d.parquet")) == list(step.changes)
    # a damaged object is found through the URL, as in a directory
    victim = f"{BUCKET}/mta-sts/{index[0]['snapshot']}/aggregates/status.csv"
    fs.pipe_file(victim, fs.cat_file(victim) + b"x")
    assert verify(first) == ["aggregates/status.csv: checksum mismatch"]
    assert main(["verify", first]) == 1


def test_publish_to_s3_then_refused_again(on_s3: Path, tmp_path: Path, capsys) -> None:
    run = on_s3.parent / "runs" / DATES[0]
    assert main(["publish", str(run), "--to", f"s3://{BUCKET}/plain"]) == 0
    fs = s3_fs()
    index = json.loads(fs.cat_file(f"{BUCKET}/plain/index.json"))["snapshots"]
    name = index[0]["snapshot"]
    assert main(["verify", f"s3://{BUCKET}/plain/{name}"]) == 0
    # the same layout and SHA256SUMS as a directory publication of the same run
    assert main(["publish", str(run), "--to", str(tmp_path / "datasets")]) == 0
    assert fs.cat_file(f"{BUCKET}/plain/{name}/SHA256SUMS") == (
        tmp_path / "datasets" / name / "SHA256SUMS").read_bytes()
    capsys.readouterr()
    assert main(["publish", str(run), "--to", f"s3://{BUCKET}/plain"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_killed_while_uploading_then_finished_gives_the_same_files(
        local: Path, s3_env: dict[str, str], tmp_path: Path) -> None:
    reference, name = copy_finished_scan(local, tmp_path)
    survey = write_survey(tmp_path / "survey.toml", f"s3://{BUCKET}/killed")
    fs = s3_fs()
    prefix = f"{BUCKET}/killed/{name}"

    def uploading() -> bool:
        fs.invalidate_cache()
        return bool(fs.find(prefix))

    command = [sys.executable, "-m", "survey", "run", str(survey), "--date", DATES[1]]
    assert kill_when(command, uploading, env=s3_env, interval=0.02), \
        "the run ended before uploading began"
    fs.invalidate_cache()
    assert not fs.exists(f"{prefix}/SHA256SUMS")  # killed before the snapshot was whole
    assert verify(f"s3://{prefix}") == [f"s3://{prefix}/SHA256SUMS: missing"]
    assert main(["run", str(survey), "--date", DATES[1]]) == 0
    fs.invalidate_cache()
    assert fs.cat_file(f"{prefix}/SHA256SUMS") == (reference / "SHA256SUMS").read_bytes()
    assert verify(f"s3://{prefix}") == []


def test_killed_while_scanning_then_finished(worlds: dict[str, RunningWorld],
                                             series: tuple[World, Step], tmp_path: Path) -> None:
    """Also: a toplist named by nothing but the file a symlink points at (tranco_K8W3Q.csv)."""
    world, _ = series
    running = worlds[DATES[0]]
    survey = write_survey(tmp_path / "survey.toml", "datasets")
    survey.write_text(survey.read_text().replace('source = "world-{date}/toplist.csv"\n'
                                                 'name = "tranco-SIM1"',
                                                 'source = "lists/tranco-current.csv"'))
    (tmp_path / "lists").mkdir()
    shutil.copy(running.toplist, tmp_path / "lists" / "tranco_K8W3Q.csv")
    (tmp_path / "lists" / "tranco-current.csv").symlink_to("tranco_K8W3Q.csv")
    manifest = tmp_path / "runs" / DATES[0] / "manifest.json"
    command = [sys.executable, "-m", "survey", "run", str(survey), "--date", DATES[0],
               *running.scan_args()]
    assert kill_when(command, manifest.exists), "the run ended before the scan began"
    assert json.loads(manifest.read_text())["state"] == "running"
    assert not (tmp_path / "datasets").exists()
    assert run_month(survey, DATES[0], running) == 0
    index = json.loads((tmp_path / "datasets" / "index.json").read_text())["snapshots"]
    assert [e["rows"] for e in index] == [len(world.scenarios)]
    assert verify(tmp_path / "datasets" / index[0]["snapshot"]) == []
    assert index[0]["snapshot"].startswith(f"{DATES[0]}-tranco-k8w3q-")
    recorded = json.loads(manifest.read_text())["toplist"]
    assert (recorded["name"], recorded["list_id"]) == ("tranco-K8W3Q", "K8W3Q")
    data = tmp_path / "datasets" / index[0]["snapshot"] / "data"
    rows = pl.read_parquet(data / "*" / "*.parquet", hive_partitioning=False)
    assert set(rows["toplist"].to_list()) == {"tranco-K8W3Q"}
