"""Smoke test of the ``make bench`` driver on a tiny world: every piece runs and its figures are
plausible. Not a timed test: no figure is compared with a target.

DNS is served by the test internet's own server here (``server="world"``) and policies by its
HTTPS server (the ``https-sim`` row), so that the test needs neither NSD nor nginx; the NSD zone
export is ``survey.sim.zonefile``'s (tested with NSD in test_zonefile.py), the nginx site export
is checked here file by file (tests/test_bench_nginx.py).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

DOMAINS = 200


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("bench")
    return run.bench(DOMAINS, seed=3, processes=2, https_count=40,
                     only={"naive", "dnsclient", "scan", "scan-xN", "https"},
                     work=work / "w", server="world", https_servers=("sim",), repeat=2)


def rows_by_label(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["label"]: r for r in results["rows"]}


def test_every_contender_produces_figures(results: dict[str, Any]) -> None:
    rows = rows_by_label(results)
    assert set(rows) == {"naive", "dnsclient", "scan", "scan-w2", "https-sim"}
    for label, row in rows.items():
        assert row["error"] is None, (label, row["error"])
        assert 0 < row["wall_s"] < 120, label
        assert row["cpu_s"] > 0, label
        assert 5 < row["max_rss_mb"] < 1000, label
        # no core count can exceed the machine's
        extra = row["extra"]
        assert extra["server_cpu_s"] >= 0, label
        for key in ("server_cores", "client_cores", "other_cores"):
            assert 0 <= extra[key] <= (os.cpu_count() or 1) + 0.5, (label, key, extra[key])


def test_server_cpu_is_the_test_internet_s(results: dict[str, Any]) -> None:
    # the test internet's thread answered every DNS query and policy fetch (CPU is counted in
    # 10 ms ticks: a short row alone may show none)
    rows = rows_by_label(results)
    assert sum(r["extra"]["server_cpu_s"] for r in rows.values()) > 0.05
    assert rows["https-sim"]["extra"]["server_cpu_s"] > 0  # 40 handshakes and certificates


def test_dns_rows_count_every_domain_and_four_queries(results: dict[str, Any]) -> None:
    rows = rows_by_label(results)
    for label in ("naive", "dnsclient", "scan", "scan-w2"):
        row = rows[label]
        assert row["domains"] == DOMAINS, label
        # four questions per domain, plus the odd address lookup of an MX/CNAME target
        assert 4 * DOMAINS <= row["queries"] < 6 * DOMAINS, label
        assert row["queries_per_s"] == pytest.approx(row["queries"] / row["wall_s"], rel=0.01)
        assert row["cpu_s_per_1000_domains"] > 0
    assert rows["scan-w2"]["processes"] == 2
    # the coordinating process and its two workers (plus any helper multiprocessing starts)
    assert len(rows["scan-w2"]["extra"]["per_process_rss_mb"]) >= 3


def test_https_row_fetches_policies(results: dict[str, Any]) -> None:
    row = rows_by_label(results)["https-sim"]
    assert row["domains"] == 40
    # the world mixes in hosts that answer 404 or present a bad certificate: most, not all, ok
    assert 0 < row["extra"]["ok"] < 40
    assert row["domains_per_s"] > 1
    assert row["extra"]["warm_up"] is True
    # the timed pass is part of the child's life; its CPU is the client's alone
    assert row["cpu_s"] <= row["extra"]["process_cpu_s"]


def test_scaling_figures(results: dict[str, Any]) -> None:
    scaling = results["scaling"]
    single, multi = rows_by_label(results)["scan"], rows_by_label(results)["scan-w2"]
    assert scaling["processes"] == 2
    # the row's rate is stored to 0.1 q/s: half of it may round the other way
    assert abs(scaling["per_process_queries_per_s"] - multi["queries_per_s"] / 2) <= 0.55
    assert scaling["efficiency"] == pytest.approx(
        multi["queries_per_s"] / (2 * single["queries_per_s"]), abs=0.001)
    assert scaling["target_met"] is (scaling["efficiency"] >= 0.8)
    assert scaling["dns_server_cores"]["all"] == multi["extra"]["server_cores"]
    assert scaling["cores_busy"]["all"] >= scaling["scanner_cores"]["all"]
    # each worker seen alive with its own CPU and life (sampled from /proc)
    assert len(scaling["worker_processes"]) == 2
    for worker in scaling["worker_processes"]:
        assert 0 < worker["cpu_s"] <= multi["cpu_s"] and 0 < worker["life_s"] <= multi["wall_s"]
        assert 0 < worker["cores"] <= 1.5  # life is first-to-last sample: a bit short
    assert 0 <= scaling["coordinator_cpu_s"] < multi["cpu_s"]


def test_ratios_and_json(results: dict[str, Any], tmp_path: Path) -> None:
    ratios = results["ratios"]
    assert ratios["scan/naive"] is not None and ratios["scan/naive"] > 0
    assert ratios["scan/dnsperf"] is None  # dnsperf was not run
    assert ratios["scan-w2/(N*scan)"] is not None
    path = run.write_results(results, tmp_path)
    assert json.loads(path.read_text()) == results
    assert path.name.startswith(results["date"]) and results["git_sha"] in path.name
    assert not (tmp_path / "latest.json").exists()  # a partial, small run is not "latest"
    full = {**results, "domains": 200_000, "contenders": list(run.CONTENDERS)}
    run.write_results(full, tmp_path)
    assert json.loads((tmp_path / "latest.json").read_text()) == full
    rows = [run.Row(**{k: v for k, v in r.items() if k in run.Row.__dataclass_fields__})
            for r in results["rows"]]
    text = run.table(rows, ratios)
    assert "scan-w2" in text and "scan/naive" in text and "FAILED" not in text


def test_query_file_has_the_four_questions(tmp_path: Path) -> None:
    path = tmp_path / "q.txt"
    assert run.write_queries(["a.test", "b.example"], path) == 8
    lines = path.read_text().splitlines()
    assert lines[:4] == ["_mta-sts.a.test TXT", "_smtp._tls.a.test TXT", "a.test MX",
                         "mta-sts.a.test A"]


def test_child_usage_measures_cpu_and_peak_rss() -> None:
    # a child that holds ~60 MB and burns some CPU; the parent's own size must not leak in
    code = "b = bytearray(60 * 2**20); b[::4096] = b'x' * len(b[::4096]); sum(range(3*10**6))"
    usage = run.run_child([sys.executable, "-c", code], timeout=60)
    assert usage.returncode == 0
    assert 60 < usage.max_rss_mb < 200
    assert usage.cpu_s > 0.01
    assert usage.wall_s >= usage.cpu_s * 0.5


def test_profile_summary_shares_and_categories() -> None:
    lines = [
        "process 1:main;run (trio/_core/_run.py);query (survey/probes/dns.py);"
        "from_wire_parser (dns/rdata.py) 6",
        "process 1:main;run (trio/_core/_run.py);_write (survey/scan/pool.py);"
        "add (survey/dataset/sink.py) 3",
        "process 1:main;run (trio/_core/_run.py) 1",
        "garbage line",
    ]
    summary = run.summarise_stacks(lines, top=3)
    assert summary["samples"] == 10
    assert summary["self_pct"][0] == ("from_wire_parser (dns/rdata.py)", 60.0)
    assert ("run (trio/_core/_run.py)", 100.0) in summary["inclusive_pct"]
    assert dict(summary["category_pct"]) == {"dnspython": 60.0, "parquet sink": 30.0,
                                             "trio scheduling + I/O": 10.0}


def test_child_usage_names_each_descendant_s_command_line() -> None:
    # what workers_row tells workers (``-m survey.runs.workers``) from short-lived helpers by
    helper = "import time; time.sleep(0.3)"
    code = f"import subprocess,sys; subprocess.run([sys.executable, '-c', {helper!r}])"
    usage = run.run_child([sys.executable, "-c", code], timeout=60)
    assert usage.returncode == 0
    assert len(usage.descendant_cmdline) == len(usage.descendant_rss_mb) == 1
    assert usage.descendant_cmdline[0].split("\0")[1:3] == ["-c", helper]
    assert run.WORKER_ARGV not in usage.descendant_cmdline[0]
    assert run.cmdline(-1) == ""  # no such process


def test_a_worker_is_the_shards_module_under_the_pid_it_names() -> None:
    argv = "\0".join(["/usr/bin/python3", "-m", "survey.runs.workers", "4242", ""])
    assert run.is_scan_worker(argv, 4242)
    assert not run.is_scan_worker(argv, 4343)  # a fork of a worker, before its exec
    assert not run.is_scan_worker("\0".join(["/usr/bin/python3", "-c", "pass", ""]), 4242)
    assert not run.is_scan_worker("", 0)
    assert run.parent_pid(os.getpid()) == os.getppid() and run.parent_pid(-1) == 0


def test_repeated_scan_rows_report_their_median_run(results: dict[str, Any]) -> None:
    rows = rows_by_label(results)
    for label in ("scan", "scan-w2"):
        extra = rows[label]["extra"]
        assert extra["runs"] == 2 and len(extra["runs_wall_s"]) == 2, label
        assert rows[label]["wall_s"] == pytest.approx(min(extra["runs_wall_s"]), abs=0.01)
    assert results["repeat"] == 2
    assert len(results["scaling"]["efficiency_per_pair"]) == 2


def test_median_rows_pick_the_median_run_and_keep_the_others() -> None:
    runs = [run.Row("scan", 10, 40, wall, 1.0, 50.0) for wall in (3.0, 1.0, 2.0)]
    runs.insert(1, run.Row("scan-w2", 10, 40, 1.0, 1.0, 50.0, processes=2))
    rows = run.median_rows(runs)
    assert [r.label for r in rows] == ["scan", "scan-w2"]
    assert rows[0].wall_s == 2.0 and rows[0].extra["runs_wall_s"] == [3.0, 1.0, 2.0]
    assert "runs" not in rows[1].extra  # a single run is reported as it is
    assert run.paired_efficiency(runs) == {}  # one pair: nothing to list
