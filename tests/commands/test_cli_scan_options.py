"""`scan` options and exit statuses, each pinned by what the test internet saw or what the run
wrote, so that a test here fails when the option is ignored or its behaviour inverted."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import survey.scan.pool
from survey import __version__
from survey.cli import main
from survey.sim.catalogue import policy_body
from survey.sim.scenario import HttpsFault, MxHost, PolicyHost, Scenario, World
from survey.sim.world import RunningWorld, free_port
from survey.sink import read_manifest
from tests.commands.test_cli_scan import FAST as CLI_FAST
from tests.conftest import WorldFactory

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

FAST = [*CLI_FAST, "--no-progress"]  # the end-to-end deadlines of test_cli_scan


def scan(world: RunningWorld, toplist: Path, out: Path, *extra: str) -> int:
    return main(["scan", str(toplist), "-o", str(out), *world.scan_args(), *FAST, *extra])


def rows(out: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = pq.read_table(out / "parts").to_pylist()
    return found


def manifest(out: Path) -> dict[str, Any]:
    found = read_manifest(out)
    assert found is not None
    return found


def write_toplist(path: Path, domains: list[str]) -> Path:
    path.write_text("".join(f"{rank},{domain}\n" for rank, domain in enumerate(domains, 1)))
    return path


@pytest.fixture
def nx_domains(catalogue_world: RunningWorld) -> list[str]:
    """Names under a zone the test internet serves that do not exist: quick NXDOMAIN rows."""
    zone = catalogue_world.world.scenarios[0].domain
    return [f"nx{i}.{zone}" for i in range(20)]


def _policy_domains(world: RunningWorld, n: int) -> list[str]:
    """``n`` catalogue domains whose policy host answers (the requests reach the server)."""
    picked = [s.domain for s in world.world.scenarios if s.name.startswith("enforce_ok")
              or s.name.startswith("testing_ok")]
    assert len(picked) >= 1
    return picked[:n]


def test_toplist_date_and_contact_reach_rows_manifest_and_servers(
        catalogue_world: RunningWorld, tmp_path: Path) -> None:
    server = catalogue_world.https
    assert server is not None
    toplist = write_toplist(tmp_path / "list.csv", _policy_domains(catalogue_world, 3))
    contact = "https://scanner.example/about"
    seen = len(server.user_agents)
    assert scan(catalogue_world, toplist, tmp_path / "dated", "--toplist-date", "2026-11-01",
                "--contact", contact) == 0
    asked = server.user_agents[seen:]
    assert asked and set(asked) == {f"mta-sts-survey/{__version__} (+{contact})"}
    assert {r["toplist_date"] for r in rows(tmp_path / "dated")} == {dt.date(2026, 11, 1)}
    assert manifest(tmp_path / "dated")["toplist"]["date"] == "2026-11-01"
    seen = len(server.user_agents)
    assert scan(catalogue_world, toplist, tmp_path / "plain") == 0
    assert set(server.user_agents[seen:]) == {f"mta-sts-survey/{__version__}"}
    assert {r["toplist_date"] for r in rows(tmp_path / "plain")} == {None}
    assert manifest(tmp_path / "plain")["toplist"]["date"] is None


def _slow_world(n: int) -> World:
    """``n`` domains whose policy hosts send a byte a second: each fetch holds its connection
    until the scanner's deadline, so fetches overlap unless ``--per-destination`` forbids it."""
    scenarios = []
    for i in range(n):
        domain = f"slow{i}.per-destination.test"
        scenarios.append(Scenario(
            domain=domain, mx=(MxHost(f"mx1.{domain}"),), sts_txt=(("v=STSv1; id=1",),),
            policy_host=PolicyHost(body=policy_body("enforce", (f"mx1.{domain}",)),
                                   fault=HttpsFault.SLOW_DRIP)))
    return World(tuple(scenarios))


def test_per_destination_1_fetches_one_policy_at_a_time(make_world: WorldFactory,
                                                         tmp_path: Path) -> None:
    """Three policy hosts on one address, each holding its fetch to the 1 s deadline: with
    --per-destination 1 the fetches run one after another, so the scan takes at least 3 s
    (a lower bound: a slow machine only adds to it); allowed to overlap, they take about 1 s."""
    running = make_world(_slow_world(3))
    out = tmp_path / "out"
    start = time.monotonic()
    assert main(["scan", str(running.toplist), "-o", str(out), *running.scan_args(),
                 "--timeout", "1", "--dns-timeout", "2", "--no-progress",
                 "--per-destination", "1"]) == 0
    assert time.monotonic() - start >= 3 * 1.0
    assert {r["domain"] for r in rows(out)} == {s.domain for s in running.world.scenarios}
    assert manifest(out)["options"]["per_destination"] == 1


def test_shard_through_the_cli_splits_the_list(catalogue_world: RunningWorld,
                                               nx_domains: list[str], tmp_path: Path) -> None:
    toplist = write_toplist(tmp_path / "list.csv", nx_domains)
    got = []
    for i in range(2):
        out = tmp_path / f"shard{i}"
        assert scan(catalogue_world, toplist, out, "--shard", f"{i}/2") == 0
        assert manifest(out)["options"]["shard"] == f"{i}/2"
        got.append({r["domain"] for r in rows(out)})
    assert got[0] and got[1] and not got[0] & got[1]
    assert got[0] | got[1] == set(nx_domains)


def test_a_changed_exclude_file_refuses_to_resume(
        catalogue_world: RunningWorld, nx_domains: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    toplist = write_toplist(tmp_path / "list.csv", nx_domains[:3])
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("192.0.2.0/24\n")
    out = tmp_path / "out"
    assert scan(catalogue_world, toplist, out, "--exclude", str(exclude)) == 0
    assert scan(catalogue_world, toplist, out, "--exclude", str(exclude)) == 0  # same list
    before = manifest(out)
    exclude.write_text("192.0.2.0/24\n198.51.100.0/24\n")  # same path, other contents
    capsys.readouterr()
    assert scan(catalogue_world, toplist, out, "--exclude", str(exclude)) == 2
    err = capsys.readouterr().err
    assert "exclude_sha256" in err and err.strip().endswith("use another OUTDIR")
    assert manifest(out) == before


# --- exit 1: the run stopped short of its end, and can be resumed --------------------------------


def test_toplist_unreadable_mid_way_exits_1_and_keeps_what_was_read(
        catalogue_world: RunningWorld, nx_domains: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    whole = "".join(f"{rank},{domain}\n" for rank, domain in enumerate(nx_domains, 1))
    packed = gzip.compress(whole.encode() * 50)  # repeated: rows once per domain
    toplist = tmp_path / "list.csv.gz"
    toplist.write_bytes(packed[: len(packed) // 2])  # the stream ends without its trailer
    out = tmp_path / "out"
    assert scan(catalogue_world, toplist, out) == 1
    err = capsys.readouterr().err
    assert f"scan: {toplist}: " in err
    assert manifest(out)["state"] == "running"
    assert 0 < len({r["domain"] for r in rows(out)} & set(nx_domains)) == len(rows(out))


def test_internal_errors_exit_1_and_the_run_stays_resumable(
        catalogue_world: RunningWorld, nx_domains: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A bug while making one domain's row (injected into the row builder, after the probes)
    costs that domain and exit 1; the same command then finishes the run with exit 0."""
    toplist = write_toplist(tmp_path / "list.csv", nx_domains[:4])
    real_row_for = survey.scan.pool.row_for

    def buggy_row_for(entry: Any, *args: Any, **kwargs: Any) -> Any:
        if entry.domain == nx_domains[1]:
            raise RuntimeError("injected bug")
        return real_row_for(entry, *args, **kwargs)

    monkeypatch.setattr(survey.scan.pool, "row_for", buggy_row_for)
    out = tmp_path / "out"
    assert scan(catalogue_world, toplist, out) == 1
    assert "1 internal error(s)" in capsys.readouterr().err
    assert manifest(out)["state"] == "running"
    assert {r["domain"] for r in rows(out)} == set(nx_domains[:4]) - {nx_domains[1]}
    monkeypatch.setattr(survey.scan.pool, "row_for", real_row_for)
    assert scan(catalogue_world, toplist, out) == 0
    assert manifest(out)["state"] == "complete"
    assert {r["domain"] for r in rows(out)} == set(nx_domains[:4])


def test_sharded_scan_whose_cluster_cannot_be_reached_exits_1(
        nx_domains: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The scheduler's address is checked, then nothing answers there: OSError, exit 1, and the
    manifest stays "running" (the command can be run again). The client's 30 s wait for the
    scheduler is cut to 1 s here."""
    import survey.cluster

    monkeypatch.setattr(survey.cluster, "open_client",
                        functools.partial(survey.cluster.open_client, timeout=1.0))
    toplist = write_toplist(tmp_path / "list.csv", nx_domains[:2])
    out = tmp_path / "out"
    port = free_port("127.0.0.1")  # free: nothing listens there
    assert main(["scan", str(toplist), "-o", str(out), "--resolver", "127.0.0.1:1",
                 "--no-progress", "--cluster", f"tcp://127.0.0.1:{port}"]) == 1
    assert capsys.readouterr().err.startswith("scan: ")
    assert manifest(out)["state"] == "running"
