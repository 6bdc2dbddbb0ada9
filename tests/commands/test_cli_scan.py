"""`scan` and `check` on the command line: option errors, progress output, the summary table."""

from __future__ import annotations

import io
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from survey.cli import main
from survey.commands.scan import parse_resolver
from survey.core.mistakes import MISTAKES
from survey.dataset.sink import completed_domains, read_manifest
from survey.runs.shards import ShardResult, summarise
from survey.scan.progress import Progress, format_counts, summary_table
from survey.sim.catalogue import (
    EXCLUDED_PREFIX,
    SMTP_EXTRA_MISTAKES,
    catalogue,
    dane_with_smtp,
    default_dane,
    expectation_with_smtp,
    mistakes_of,
)
from survey.sim.generator import generate_world
from survey.sim.scenario import Expectation, Scenario, World
from survey.sim.world import RunningWorld, start_world
from tests.conftest import Spawn, deadline_bound
from tests.core.test_catalogue_dane import per_lookup


@pytest.fixture
def toplist(tmp_path: Path) -> Path:
    path = tmp_path / "list.csv"
    path.write_text("1,example.test\n2,other.test\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rate", "0"], "--rate"),
        (["--rate", "nan"], "--rate"),
        (["--concurrency", "0"], "--concurrency"),
        (["--shard", "3/2"], "--shard '3/2': need 0 <= I < N"),
        (["--shard", "x"], "--shard 'x': expected I/N"),
        (["--resolver", "dns.example:53"], "bad resolver"),
        (["--resolver", "127.0.0.1:99999"], "--resolver"),
        (["--toplist-date", "2026-13-01"], "--toplist-date"),
        (["--toplist-date", "20261101"], "--toplist-date '20261101': expected a date"),
        (["--run-date", "2026-02-30"], "--run-date '2026-02-30': expected a date as YYYY-MM-DD"),
        (["--run-date", "2026-W48-1"], "--run-date '2026-W48-1': expected a date"),
        (["--run-date", "yesterday"], "--run-date 'yesterday': expected a date"),
        (["--ca-bundle", "/nonexistent.pem"], "--ca-bundle /nonexistent.pem: no such file"),
        (["--exclude", "/nonexistent.txt"], "--exclude /nonexistent.txt"),
        (["--workers", "2", "--shard", "0/2"], "--shard cannot be combined"),
        (["--cluster", "local:0"], "--cluster 'local:0'"),
        (["--dns-backoff", "-1"], "--dns-backoff"),
        (["--dns-backoff", "inf"], "--dns-backoff"),
        (["--dns-sockets", "0"], "--dns-sockets"),
        (["-o", "nosuch://bucket/out"], "-o nosuch://bucket/out: "),
        (["-o", "gs://bucket/out"], "gcsfs"),  # the backend is missing (not in `dev`)
        (["-o", "file://otherhost/out"], "expected a local or shared path"),
    ],
)
def test_option_errors_exit_2_with_one_line(
        toplist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        extra: list[str], message: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc_info:
        status = main(["scan", str(toplist), "-o", str(out), "--resolver", "127.0.0.1:1",
                       *extra])
        raise SystemExit(status)
    assert exc_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]
    assert not (out / "manifest.json").exists()


def test_cluster_without_distributed_is_a_usage_error(
        toplist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A None in sys.modules makes ``import distributed`` raise ImportError, as on a machine
    without the `cluster` extra; nothing is written, not even OUTDIR."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    out = tmp_path / "out"
    assert main(["scan", str(toplist), "-o", str(out), "--resolver", "127.0.0.1:1",
                 "--cluster", "local:2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["scan: --cluster needs Dask's distributed, which is not installed: "
                   "pip install 'mta-sts-survey[cluster]'"]
    assert not out.exists()


def test_missing_toplist_and_unwritable_outdir(
        toplist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o"),
                 "--resolver", "127.0.0.1"]) == 2
    assert "no such file" in capsys.readouterr().err
    missing_url = (tmp_path / "missing.csv").as_uri()
    assert main(["scan", missing_url, "-o", str(tmp_path / "o"), "--resolver", "127.0.0.1"]) == 2
    assert capsys.readouterr().err.startswith(f"scan: {missing_url}: ")
    assert not (tmp_path / "o").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["scan", str(toplist), "-o", str(blocker), "--resolver", "127.0.0.1"]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["scan", str(toplist), "-o", str(blocker / "sub"),
                 "--resolver", "127.0.0.1"]) == 2
    assert "cannot create" in capsys.readouterr().err


def test_check_rejects_a_bad_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "not a domain", "--resolver", "127.0.0.1"]) == 2
    assert "not a domain name" in capsys.readouterr().err


def test_parse_resolver_forms() -> None:
    assert parse_resolver("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_resolver("127.0.0.2:5353") == ("127.0.0.2", 5353)
    assert parse_resolver("::1") == ("::1", 53)
    assert parse_resolver("[::1]:5353") == ("::1", 5353)


def test_progress_log_lines_every_interval() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(total=10, mode="auto", stream=stream, interval=10.0,
                        clock=lambda: now[0])
    assert progress.mode == "log"  # StringIO is not a TTY
    for i in range(10):
        now[0] = i * 3.0
        progress.update("absent" if i % 2 else "enforce")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # at t=12 and t=24
    assert lines[0].startswith("scanned 5/10 domains") and "enforce=3 absent=2" in lines[0]
    assert "eta" in lines[0]


def test_progress_bar_on_a_tty() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = Progress(total=3, stream=stream)
    assert progress.mode == "bar"
    for status in ("enforce", "absent", "absent"):
        progress.update(status)
    progress.close()
    assert "3/3" in stream.getvalue() and "absent=2" in stream.getvalue()


def test_summary_table_orders_statuses_and_shares() -> None:
    table = summary_table({"absent": 3, "enforce": 1}, facts=[("queries sent", "12")],
                          toplist_lines=["invalid 1"])
    lines = table.splitlines()
    assert lines[1].split() == ["enforce", "1", "25.0%"]
    assert lines[5].split() == ["absent", "3", "75.0%"]
    assert lines[7].split() == ["total", "4"]
    assert "queries sent      12" in table and "  invalid 1" in table
    assert format_counts({"error": 0, "none": 2}) == "none=2"


def test_resume_refuses_other_result_options(
        toplist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from survey.commands.scan import RESULT_OPTIONS
    from survey.dataset.schema import SCHEMA_VERSION
    from survey.dataset.sink import read_manifest, write_manifest

    out = tmp_path / "out"
    out.mkdir()
    options: dict[str, object] = dict.fromkeys(RESULT_OPTIONS)
    options.update({"toplist_path": str(toplist.resolve()), "smtp": True, "https_port": 443,
                    "smtp_port": 25, "allow_private": False, "toplist_name": "list.csv",
                    "tlsa": "secure"})
    manifest = {"run_id": "r1", "state": "running", "options": options,
                "schema_version": SCHEMA_VERSION}
    write_manifest(out, manifest)
    assert main(["scan", str(toplist), "-o", str(out), "--resolver", "127.0.0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("use another OUTDIR") and "other options (smtp)" in err
    assert main(["scan", str(toplist), "-o", str(out), "--resolver", "127.0.0.1", "--smtp",
                 "--run-id", "r2"]) == 2
    assert "holds run 'r1', not 'r2'" in capsys.readouterr().err
    assert read_manifest(out) == manifest
    # parts of another schema version are never resumed into
    write_manifest(out, {**manifest, "schema_version": "0.9"})
    assert main(["scan", str(toplist), "-o", str(out), "--resolver", "127.0.0.1", "--smtp"]) == 2
    assert "other options (schema_version)" in capsys.readouterr().err


# --- end to end against the test internet -------------------------------------------------------

#: Short deadlines for scans of the test internet. The DNS one is the HTTPS one (as in
#: test_resilience): at 0.5 s a late answer on a loaded machine made a row an error
#: (test_cli_retry: dns_sts_truncated); only dns_sts_timeout pays it (2 attempts of 2 s).
FAST = ["--timeout", "2", "--dns-timeout", "2", "--retries", "1"]
VOLATILE = {"run_id", "scanned_at", "https_elapsed_ms", "smtp"}


def scan_cmd(toplist: Path | str, out: Path, world: RunningWorld, *extra: str) -> list[str]:
    return [sys.executable, "-m", "survey", "scan", str(toplist), "-o", str(out),
            *world.scan_args(), *FAST, "--no-progress", *extra]


def rows_by_domain(out: Path) -> dict[str, dict[str, Any]]:
    table = pq.read_table(out / "parts")
    rows = table.to_pylist()
    by_domain = {r["domain"]: r for r in rows}
    assert len(by_domain) == len(rows), "a domain appears twice"
    return by_domain


def stable(row: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in row.items() if k not in VOLATILE}
    kept["smtp"] = [{k: v for k, v in s.items() if k != "elapsed_ms"} for s in row["smtp"]]
    return kept


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, RunningWorld]]:
    world = generate_world(3000, seed=8)
    with start_world(world, tmp_path_factory.mktemp("generated")) as running:
        yield world, running


@pytest.fixture(scope="module")
def catalogue_running(tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[tuple[World, RunningWorld, Path]]:
    world = World(catalogue())
    directory = tmp_path_factory.mktemp("catalogue")
    exclude = directory / "exclude.txt"
    exclude.write_text(f"# the catalogue's opt-out\n{EXCLUDED_PREFIX}\n")
    with start_world(world, directory) as running:
        yield world, running, exclude


def wait_for_new_part(out: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    before = len(list((out / "parts").glob("*.parquet")))
    deadline = time.monotonic() + timeout
    while len(list((out / "parts").glob("*.parquet"))) == before:
        assert proc.poll() is None and time.monotonic() < deadline, "no part written"
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_and_resume_equals_a_clean_run(generated: tuple[World, RunningWorld],
                                            tmp_path: Path, spawn: Spawn) -> None:
    world, running = generated
    # deadlines far above what a correct answer needs on a starved machine (the generated world
    # has no tarpit, so they cost nothing): at 2 s a policy fetch of the clean run timed out at
    # load 15 and its row differed from the resumed one for the machine's reason, not the resume's
    patient = ["--timeout", "10", "--dns-timeout", "5"]
    fast = ["--rate", "50000", "--concurrency", "200", *patient]
    clean = tmp_path / "clean"  # in two worker processes: the sharded path gives the same rows
    subprocess.run(scan_cmd(running.toplist, clean, running, *fast, "--workers", "2"),
                   check=True, capture_output=True, timeout=60)
    assert (clean / "shards").is_dir()
    out = tmp_path / "killed"
    rng = random.Random(8)
    kills = 0
    for _ in range(rng.randint(3, 5)):
        proc = spawn(scan_cmd(running.toplist, out, running, "--rate", "3000",
                                         "--part-rows", "100", *patient),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_new_part(out, proc)  # a random moment after some progress, however loaded
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=10)
    assert kills >= 3
    assert read_manifest(out)["state"] == "running"  # type: ignore[index]
    assert 0 < len(completed_domains(out)) < len(world.scenarios)
    done = subprocess.run(scan_cmd(running.toplist, out, running, *fast), check=True,
                          capture_output=True, text=True, timeout=60)
    assert "state             complete" in done.stdout
    manifest = read_manifest(out)
    assert manifest is not None and manifest["state"] == "complete"
    assert sum(manifest["counts"].values()) == len(world.scenarios)
    clean_rows, resumed_rows = rows_by_domain(clean), rows_by_domain(out)
    assert sorted(resumed_rows) == sorted(s.domain for s in world.scenarios)
    for domain, row in clean_rows.items():
        assert stable(resumed_rows[domain]) == stable(row), domain
    for scenario in world.scenarios:
        row = resumed_rows[scenario.domain]
        assert scenario.expect is not None
        assert (row["status"], row["mode"], set(row["mistakes"])) == (
            scenario.expect.status, scenario.expect.mode, set(mistakes_of(scenario))), \
            scenario.name


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_promptly_with_flushed_parts(generated: tuple[World, RunningWorld],
                                                  tmp_path: Path, signum: int,
                                                  spawn: Spawn) -> None:
    world, running = generated
    out = tmp_path / "out"
    base = running.dns_query_count()
    proc = spawn(scan_cmd(running.toplist, out, running, "--rate", "1000",
                                     "--part-rows", "100000", "--part-seconds", "600"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # readiness, not a delay: past the limiter's burst (100), queries come from a scan that
    # has run for several trio batches, so its signal receiver is in place; ~1 s of 12 s
    deadline = time.monotonic() + 30
    while running.dns_query_count() - base < 1000:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signum)
    sent = time.monotonic()
    stdout, stderr = proc.communicate(timeout=60)
    # in-flight probes are cancelled, not finished: at most the 2 s --timeout, far less than the
    # ~12 s the rest of the list would take at --rate 1000
    assert time.monotonic() - sent < deadline_bound(2.0)
    assert proc.returncode == 0, stderr
    assert "re-run the same command to resume" in stderr
    manifest = read_manifest(out)
    assert manifest is not None and manifest["state"] == "running"
    done = completed_domains(out)
    assert 0 < len(done) < len(world.scenarios)
    assert sum(manifest["counts"].values()) == len(done)
    assert f"scanned now       {len(done):,}" in stdout


@pytest.mark.slow
def test_rate_holds_at_the_test_internets_dns_server(generated: tuple[World, RunningWorld],
                                                     tmp_path: Path, spawn: Spawn) -> None:
    """``--rate`` over a whole scan of 500 domains (2,000 queries, about 3.5 s), counted by the
    test internet's DNS server. Per-second windows are checked in tests/scan/test_scan.py, where
    the server shares the scanner's loop; here the server is a thread of a possibly loaded
    test process, whose stalls would make short windows lie."""
    _, running = generated
    rate, domains = 600, 500
    base = running.dns_query_count()
    proc = spawn(scan_cmd(running.toplist, tmp_path / "out", running,
                                     "--rate", str(rate), "--limit", str(domains)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[tuple[float, int]] = []
    try:
        while proc.poll() is None:
            samples.append((time.monotonic(), running.dns_query_count() - base))
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()
    total = running.dns_query_count() - base
    assert total >= 4 * domains
    burst = rate // 10  # the limiter lets a tenth of a second's worth through at once
    start = next(t for t, n in samples if n > burst)
    end = next(t for t, n in samples if n >= total)
    measured = (total - burst) / (end - start)
    print(f"measured {measured:.0f} queries/s for --rate {rate}")
    # a ceiling, never a floor: a busy machine only scans slower (throughput is for the
    # benchmarks); without --rate the scan would go at the default 1000 queries/s
    assert measured <= 1.1 * rate, measured


def check_expectations(world: World, rows: dict[str, dict[str, Any]],
                       expectation: Callable[[Scenario], Expectation]) -> None:
    """Status, mode and every mistake (MTA-STS's and DANE's: ``mistakes_of``) as expected."""
    wrong = []
    smtp = expectation is expectation_with_smtp
    for scenario in world.scenarios:
        expect = expectation(scenario)
        row = rows[scenario.domain]
        got = (row["status"], row["mode"], sorted(row["mistakes"]))
        want = (expect.status, expect.mode, sorted(mistakes_of(scenario, smtp=smtp)))
        if got != want:
            wrong.append(f"{scenario.name}: got {got}, expected {want}")
        if dane_columns(row, smtp=smtp) != expected_dane_columns(scenario, smtp=smtp):
            wrong.append(f"{scenario.name}: got {dane_columns(row, smtp=smtp)}, expected "
                         f"{expected_dane_columns(scenario, smtp=smtp)}")
    assert not wrong, "\n".join(wrong)


def dane_columns(row: dict[str, Any], *, smtp: bool) -> dict[str, Any]:
    """The DNSSEC and DANE columns of a row (issue 16), as ``expected_dane_columns`` has them."""
    hosts = row["dane_hosts"] or []
    mechanism, protection = row["sender_mechanism"], row["sender_protection"]
    return {**{c: row[c] for c in ("sts_txt_dnssec", "mx_dnssec", "tlsrpt_dnssec", "dane")},
            "sender": None if mechanism is None else (mechanism, protection),
            "usable": sorted(h["host"] for h in hosts if h["usable"]),
            "smtp_dane": sorted((h["host"], h["smtp_dane"]) for h in hosts
                                if smtp and h["smtp_dane"])}


def expected_dane_columns(scenario: Scenario, *, smtp: bool) -> dict[str, Any]:
    want = dane_with_smtp(scenario) if smtp else (scenario.dane or default_dane(scenario))
    return {**per_lookup(scenario), "dane": want.dane, "sender": want.sender,
            "usable": sorted(want.usable),
            "smtp_dane": sorted(want.smtp_dane) if smtp else []}


def _expect(scenario: Scenario) -> Expectation:
    assert scenario.expect is not None
    return scenario.expect


@pytest.mark.slow
def test_catalogue_through_scan(catalogue_running: tuple[World, RunningWorld, Path],
                                tmp_path: Path) -> None:
    world, running, exclude = catalogue_running
    out = tmp_path / "out"
    url = running.toplist.as_uri()  # a file:// URL reads like the path (fsspec-style sources)
    command = scan_cmd(url, out, running, "--exclude", str(exclude), "--dns-backoff", "0.25",
                       "--dns-sockets", "2")
    command[command.index(str(out))] = out.as_uri()  # OUT as file:///abs/path is that path
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    manifest = read_manifest(out)
    assert manifest is not None and manifest["options"]["toplist_path"] == url
    assert (manifest["options"]["dns_backoff"], manifest["options"]["dns_sockets"]) == (0.25, 2)
    session = manifest["sessions"][-1]
    assert session["trust_store"]["ca_bundle"] == str(running.ca_bundle)
    assert session["trust_store"]["source"]
    # --allow-private: nothing blocked; the opt-out prefix holds the catalogue's excluded hosts
    assert session["blocked_addresses"] == 0 and session["excluded_addresses"] >= 1
    assert f"excluded IPs {session['excluded_addresses']:,}" in " ".join(
        result.stdout.split())
    rows = rows_by_domain(out)
    assert len(rows) == len(world.scenarios)
    check_expectations(world, rows, _expect)
    assert all(r["toplist"] == "toplist.csv" for r in rows.values())


@pytest.mark.slow
def test_catalogue_through_scan_with_smtp(
        catalogue_running: tuple[World, RunningWorld, Path], tmp_path: Path) -> None:
    world, running, exclude = catalogue_running
    out = tmp_path / "run:2026"  # given relative: a colon in a path is no URI scheme
    result = subprocess.run(scan_cmd(running.toplist, Path(out.name), running, "--exclude",
                                     str(exclude), "--smtp", "--ehlo-name", "scanner.test",
                                     # a PKIX failure costs a second, unverified session for
                                     # the chain DANE checks: room for both on a busy machine
                                     "--timeout", "5"),
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = rows_by_domain(out)
    check_expectations(world, rows, expectation_with_smtp)
    probed = rows[next(s.domain for s in world.scenarios if s.name == "enforce_ok")]["smtp"]
    assert probed and probed[0]["error"] is None and probed[0]["starttls_offered"]
    assert rows[next(s.domain for s in world.scenarios if s.name == "absent_nothing")][
        "smtp"] == []


@pytest.mark.slow
def test_catalogue_through_check(catalogue_running: tuple[World, RunningWorld, Path],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    world, running, exclude = catalogue_running
    rows = {}
    codes = {"pass": 0, "warn": 1, "fail": 3, None: 4}
    statuses = set()
    for scenario in world.scenarios:
        status = main(["check", scenario.domain, "--json", *running.scan_args(), *FAST,
                       "--exclude", str(exclude)])
        row = json.loads(capsys.readouterr().out)
        errors = [m for m in row["mistakes"] if MISTAKES[m].severity == "error"]
        expected = 5 if row["grade"] == "pass" and errors else codes[row["grade"]]
        assert status == expected, scenario.name
        statuses.add(status)
        rows[scenario.domain] = row
    check_expectations(world, rows, _expect)
    assert statuses == {0, 1, 3, 4, 5}  # the catalogue exercises every documented status


@pytest.mark.slow
def test_check_enforce_with_error_mistakes_exits_5(
        catalogue_running: tuple[World, RunningWorld, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    """Enforce blocking its own MX, or an MX without STARTTLS (--smtp): grade pass, mail lost."""
    world, running, _ = catalogue_running
    by_name = {s.name: s for s in world.scenarios}
    cases = [("mx_not_in_policy", []), ("mx_no_starttls", ["--smtp"]),
             ("enforce_without_tlsrpt", []), ("mx_no_starttls", [])]
    got = []
    for name, extra in cases:
        got.append(main(["check", by_name[name].domain, *extra, *running.scan_args(), *FAST]))
        report = capsys.readouterr().out
        assert ("mail can be lost (exit status 5)" in report) == (got[-1] == 5), name
    # warning-severity mistakes (and --smtp not asked: nothing known of STARTTLS) still pass
    assert got == [5, 5, 0, 0]


@pytest.mark.slow
def test_smtp_scenarios_through_check(catalogue_running: tuple[World, RunningWorld, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    world, running, _ = catalogue_running
    smtp_world = World(tuple(s for s in world.scenarios
                             if s.name.startswith("mx_") or s.name in SMTP_EXTRA_MISTAKES))
    assert set(SMTP_EXTRA_MISTAKES) <= {s.name for s in smtp_world.scenarios}
    rows = {}
    for scenario in smtp_world.scenarios:
        main(["check", scenario.domain, "--json", "--smtp", *running.scan_args(), *FAST])
        rows[scenario.domain] = json.loads(capsys.readouterr().out)
    check_expectations(smtp_world, rows, expectation_with_smtp)


def test_check_report_explains_mistakes(catalogue_running: tuple[World, RunningWorld, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    world, running, _ = catalogue_running
    scenario = next(s for s in world.scenarios if s.name == "mx_not_in_policy")
    assert main(["check", scenario.domain, *running.scan_args(), *FAST]) == 5
    report = capsys.readouterr().out
    assert f"MTA-STS check of {scenario.domain}" in report
    assert "_mta-sts TXT" in report and "policy fetch" in report and "HTTP 200" in report
    assert "- mx_not_in_policy (error, RFC 8461 §4.1)" in report
    assert MISTAKES["mx_not_in_policy"].fix in report


@pytest.mark.slow
def test_garbage_lines_are_counted_by_reason(
        catalogue_running: tuple[World, RunningWorld, Path], tmp_path: Path) -> None:
    _, running, _ = catalogue_running
    toplist = tmp_path / "garbage.csv"
    toplist.write_bytes(b"1,enforce-ok.test\n2,not a domain\n3,192.0.2.1\n4,\xff\xfe.test\n"
                        b"5,enforce-ok.test\nthis line has no comma at all\n6,absent-nothing.test\n"
                        + b"7," + b"a" * 300 + b".test\n")
    out = tmp_path / "out"
    result = subprocess.run(scan_cmd(toplist, out, running, "--format", "tranco"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(rows_by_domain(out)) == ["absent-nothing.test", "enforce-ok.test"]
    manifest = read_manifest(out)
    assert manifest is not None
    stats = manifest["toplist_stats"]
    assert stats["duplicates"] == 1 and stats["entries"] == 2
    assert sum(stats["invalid"].values()) == 5
    assert "ip_address" in stats["invalid"]
    for reason in stats["invalid"]:
        assert reason in result.stdout


def test_sharded_summary_sums_the_guards_counts() -> None:
    """--workers: each shard's blocked/excluded address counts add up in the session's."""
    results = [ShardResult(0, 2, "complete", blocked_addresses=3, excluded_addresses=1),
               ShardResult(1, 2, "complete", blocked_addresses=4, excluded_addresses=0)]
    summary, _ = summarise(results, 1.0)
    assert (summary.blocked_addresses, summary.excluded_addresses) == (7, 1)


def test_check_prints_the_per_sender_table(catalogue_running: tuple[World, RunningWorld, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15: blank lines split the senders; the table says who applies and who ignores."""
    world, running, _ = catalogue_running
    scenario = next(s for s in world.scenarios if s.name == "policy_blank_lines")
    main(["check", scenario.domain, *running.scan_args(), *FAST])
    report = capsys.readouterr().out
    table = report[report.index("per sender"):]
    assert "rfc8461" in table and "ignores (policy:blank_line)" in table
    assert any("chasquid" in line and "applies, mode enforce" in line
               for line in table.splitlines())
    assert "- senders_disagree (warning" in report
    main(["check", scenario.domain, "--json", *running.scan_args(), *FAST])
    row = json.loads(capsys.readouterr().out)
    outcomes = {o["sender"]: o for o in row["sender_outcomes"]}
    assert outcomes["rfc8461"] == {"sender": "rfc8461", "applies": False, "mode": None,
                                   "reason": "policy:blank_line"}
    applying = sum(o["applies"] is True for o in row["sender_outcomes"])
    assert f"in effect for {applying} of {len(outcomes)} senders" in table
