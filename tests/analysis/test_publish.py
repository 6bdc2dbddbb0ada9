"""publish → verify → corruption detected; refused publishes write nothing; diff finds changes."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from survey.analysis.diff import diff, series_first_modes
from survey.analysis.publish import PublishError, publish, verify
from survey.cli import main
from survey.dataset.schema import SCHEMA_VERSION, rows_to_table
from tests.analysis.test_stats import ROWS


def make_run(root: Path, rows: list[dict[str, Any]], *, state: str = "complete",
             run_id: str = "0123456789abcdef", finished: str = "2026-11-28T10:00:00+00:00",
             run_date: str | None = None) -> Path:
    (root / "parts").mkdir(parents=True)
    table = rows_to_table(rows)
    pq.write_table(table.slice(0, 4), root / "parts" / "part-000001.parquet")
    pq.write_table(table.slice(4), root / "parts" / "part-000002.parquet")
    manifest = {"run_id": run_id, "state": state, "schema_version": SCHEMA_VERSION,
                "toplist": {"name": "tranco-6P7X", "date": "2026-11-27"},
                "started_at": "2026-11-28T09:00:00+00:00", "finished_at": finished,
                "options": {"rate": 1000, "resolvers": ["127.0.0.1:53"]}}
    if run_date is not None:
        manifest["run_date"] = run_date
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.mark.slow
def test_publish_then_verify_then_detect_corruption(tmp_path: Path, capsys) -> None:
    run = make_run(tmp_path / "run", ROWS)
    datasets = tmp_path / "datasets"
    assert main(["publish", str(run), "--to", str(datasets)]) == 0
    snap = datasets / "2026-11-28-tranco-6p7x-01234567"
    assert snap.is_dir()
    assert sorted(p.name for p in (snap / "data").iterdir()) == [
        "status=absent", "status=enforce", "status=error", "status=invalid", "status=none",
        "status=testing"]
    enforce = pl.read_parquet(snap / "data" / "status=enforce")
    assert sorted(enforce["domain"].to_list()) == ["a.test", "h.test"]
    whole = pl.scan_parquet(str(snap / "data" / "**" / "*.parquet"), hive_partitioning=False)
    assert whole.select(pl.len()).collect().item() == len(ROWS)
    for name in ("funnel", "status", "mistakes", "rank_buckets", "mx_providers"):
        assert (snap / "aggregates" / f"{name}.csv").is_file()
        assert json.loads((snap / "aggregates" / f"{name}.json").read_text())
    renamed = snap / "aggregates" / "protection_by_mechanism.csv"  # issue 16, and its old name
    assert renamed.read_text() == (snap / "aggregates" / "sender_outcomes.csv").read_text()
    assert renamed.read_text().splitlines()[0] == "mechanism,protection,domains,share"
    for name in ("senders_in_effect", "sender_adoption", "sender_disagreements"):  # issue 15
        assert isinstance(json.loads((snap / "aggregates" / f"{name}.json").read_text()), list)
        assert (snap / "aggregates" / f"{name}.csv").read_text().splitlines()[0]
    sheet = (snap / "README.md").read_text()
    for heading in ("Motivation", "Composition", "Collection process", "Preprocessing", "Uses",
                    "Distribution", "Maintenance", "How to cite", "Columns", "Mistake codes"):
        assert f"## {heading}" in sheet
    assert "tranco-6P7X" in sheet and "| enforce | 2 |" in sheet
    assert "2026-11-28-tranco-6p7x-01234567" in (datasets / "README.md").read_text()
    assert verify(snap) == []
    assert main(["verify", str(snap)]) == 0
    # one flipped byte in a data file is found
    victim = snap / "data" / "status=enforce" / "part-0.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert verify(snap) == ["data/status=enforce/part-0.parquet: checksum mismatch"]
    assert main(["verify", str(snap)]) == 1
    (snap / "extra.txt").write_text("x")
    (snap / "aggregates" / "funnel.csv").unlink()
    problems = verify(snap)
    assert "aggregates/funnel.csv: missing" in problems
    assert "extra.txt: not listed in SHA256SUMS" in problems


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(state="running"), "not finished"),
        (lambda m: m.update(schema_version="0.9"), "schema version"),
    ],
)
def test_refused_publish_writes_nothing(tmp_path: Path, change, message: str) -> None:
    run = make_run(tmp_path / "run", ROWS)
    manifest = json.loads((run / "manifest.json").read_text())
    change(manifest)
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PublishError, match=message):
        publish(run, tmp_path / "datasets")
    assert not (tmp_path / "datasets").exists()


def test_refused_publish_on_schema_mismatch_and_existing_target(tmp_path: Path, capsys) -> None:
    run = make_run(tmp_path / "run", ROWS)
    publish(run, tmp_path / "datasets")
    before = sorted(p.as_posix() for p in (tmp_path / "datasets").rglob("*"))
    assert main(["publish", str(run), "--to", str(tmp_path / "datasets")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.as_posix() for p in (tmp_path / "datasets").rglob("*")) == before
    bad = make_run(tmp_path / "bad", ROWS, run_id="ffff0000")
    pq.write_table(pa.table({"domain": ["x.test"]}), bad / "parts" / "part-000003.parquet")
    with pytest.raises(PublishError, match="schema mismatch"):
        publish(bad, tmp_path / "datasets2")
    assert not (tmp_path / "datasets2").exists()


def evolve(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The next snapshot: known changes only."""
    new = copy.deepcopy(rows)
    by = {r["domain"]: r for r in new}
    by["b.test"].update(status="enforce", mode="enforce")  # testing -> enforce
    by["e.test"].update(status="enforce", mode="enforce", sts_id="7", policy_sha256="e1")
    by["c.test"].update(status="absent", mode=None)  # dropped
    by["a.test"].update(sts_id="1", policy_sha256="new")  # body changed, id kept
    by["h.test"].update(sts_id="2", policy_sha256="new-h")  # body changed, id bumped
    new.remove(by["f.test"])
    new.append({**copy.deepcopy(by["i.test"]), "domain": "k.test", "rank": 7, "status": "absent"})
    return new


def changed_runs(tmp_path: Path) -> tuple[list[dict[str, Any]], Path, Path]:
    """OLD and NEW runs with every kind of change; a.test and h.test change their policies."""
    old_rows = copy.deepcopy(ROWS)
    for r in old_rows:
        if r["domain"] in ("a.test", "h.test"):
            r.update(sts_id="1", policy_sha256=f"old-{r['domain']}")
    return (old_rows, make_run(tmp_path / "old", old_rows),
            make_run(tmp_path / "new", evolve(old_rows)))


def test_diff_finds_exactly_the_changes(tmp_path: Path, capsys) -> None:
    _, old, new = changed_runs(tmp_path)
    result = diff(old, new)
    found = {(c, d) for c, d in result.changes.select("change", "domain").iter_rows()}
    assert found == {
        ("mode_changed", "b.test"),
        ("adopted", "e.test"), ("enforce_without_testing", "e.test"),
        ("dropped", "c.test"),
        ("policy_changed", "a.test"), ("id_not_bumped", "a.test"),
        ("policy_changed", "h.test"),
        ("disappeared", "f.test"), ("appeared", "k.test"),
    }
    summary = dict(result.summary.iter_rows())
    assert summary["adopted"] == 1 and summary["id_not_bumped"] == 1 and summary["dropped"] == 1
    assert main(["diff", str(old), str(new), "-o", str(tmp_path / "d.parquet")]) == 0
    assert pl.read_parquet(tmp_path / "d.parquet").height == len(found)
    assert "id_not_bumped" in capsys.readouterr().out


def test_series_enforce_without_testing(tmp_path: Path) -> None:
    first = make_run(tmp_path / "s1", ROWS)
    second = make_run(tmp_path / "s2", evolve(ROWS))
    series = series_first_modes([first, second])
    flags = dict(series.select("domain", "enforce_without_testing").iter_rows())
    # a.test and h.test start in enforce; b.test went through testing; e.test jumped in later
    assert flags == {"a.test": True, "h.test": True, "b.test": False, "c.test": False,
                     "e.test": True}


def test_series_tables(tmp_path: Path) -> None:
    from survey.analysis.diff import adoption_over_time, mode_transitions, transitions

    first = make_run(tmp_path / "s1", ROWS, run_date="2026-10-01")
    second = make_run(tmp_path / "s2", evolve(ROWS), run_date="2026-11-01")
    over = adoption_over_time([first, second])
    assert over["snapshot"].to_list() == ["2026-10-01-tranco-6p7x-01234567",
                                          "2026-11-01-tranco-6p7x-01234567"]
    assert over["enforce"].to_list() == [2, 4]
    assert over["adopted_share"].to_list() == [pytest.approx(4 / 9), pytest.approx(4 / 9)]
    moves = transitions([first, second])
    assert dict(moves.select("change", "domains").iter_rows())["adopted"] == 1
    matrix = mode_transitions(first, second)
    pairs = {(a, b): n for a, b, n in matrix.iter_rows()}
    assert pairs[("testing", "enforce")] == 1 and pairs[("none", "absent")] == 1


def test_run_date_is_the_one_date_of_names_and_labels(tmp_path: Path) -> None:
    """scan's run_date names the snapshot and labels it in diffs; manifests older than
    --run-date fall back to the start, then the finish time (one function: run_date)."""
    from survey.analysis.diff import snapshot_label
    from survey.analysis.publish import run_date, snapshot_name

    assert run_date({"run_date": "2026-09-01", "started_at": "2026-11-28T23:59:00+00:00",
                     "finished_at": "2026-11-29T01:00:00+00:00"}) == "2026-09-01"
    assert run_date({"started_at": "2026-11-28T23:59:00+00:00",
                     "finished_at": "2026-11-29T01:00:00+00:00"}) == "2026-11-28"
    assert run_date({"finished_at": "2026-11-29T01:00:00+00:00"}) == "2026-11-29"
    assert run_date({}) is None
    run = make_run(tmp_path / "run", ROWS, run_date="2026-09-01")
    assert snapshot_label(run) == "2026-09-01"
    assert snapshot_label(tmp_path) == tmp_path.name  # no manifest: the directory's name
    snapshot = publish(run, tmp_path / "datasets").path
    assert snapshot.name == "2026-09-01-tranco-6p7x-01234567"
    assert snapshot_name(json.loads((snapshot / "manifest.json").read_text())) == snapshot.name
    assert snapshot_label(snapshot) == "2026-09-01"
    datasheet = (snapshot / "README.md").read_text()
    assert "the survey of 2026-09-01, from\n  2026-11-28T09:00:00+00:00" in datasheet
    assert "measured 2026-09-01" in datasheet and "Vantage point: not recorded." in datasheet


@pytest.mark.slow
def test_diff_never_writes_into_a_snapshot(tmp_path: Path, capsys) -> None:
    datasets = tmp_path / "datasets"
    old = publish(make_run(tmp_path / "old", ROWS, run_date="2026-10-01", run_id="a" * 16),
                  datasets).path
    new = publish(make_run(tmp_path / "new", evolve(ROWS), run_date="2026-11-01",
                           run_id="b" * 16), datasets).path
    assert main(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2026-10-01 -> 2026-11-01\n")
    written = datasets / f"diff-{old.name}-{new.name}.parquet"
    assert f"changes written to {written}" in out
    assert pl.read_parquet(written).height > 0
    assert main(["report", str(new)]) == 0
    assert (datasets / f"{new.name}-report.html").is_file()
    assert verify(new) == []  # the snapshot is untouched by diff and report
    run_old, run_new = tmp_path / "old", tmp_path / "new"
    assert main(["diff", str(run_old), str(run_new)]) == 0  # runs: the changes go into NEW
    assert (run_new / "diff-old.parquet").is_file()
    assert diff(run_old, run_new).changes.height == pl.read_parquet(written).height


def test_index_counts_a_status_without_domains_as_zero(tmp_path: Path) -> None:
    rows = [r for r in ROWS if r["status"] != "testing"]
    publish(make_run(tmp_path / "run", rows), tmp_path / "datasets")
    line = next(x for x in (tmp_path / "datasets" / "README.md").read_text().splitlines()
                if x.startswith("| [2026-11-28"))
    enforce, testing, none = line.split(" | ")[2:5]
    assert (enforce, testing) == ("2", "0")
    assert none == str(sum(r["status"] == "none" for r in rows))
    assert "?" not in line


@pytest.mark.slow
@pytest.mark.parametrize("name", ["/etc/hostname", "../outside.txt", "data/../../outside.txt",
                                  "link.txt", "linkdir/outside.txt"])
def test_verify_never_reads_outside_the_snapshot(tmp_path: Path, name: str) -> None:
    snap = publish(make_run(tmp_path / "run", ROWS), tmp_path / "datasets").path
    outside = tmp_path / "datasets" / "outside.txt"
    outside.write_text("secret\n")
    (snap / "link.txt").symlink_to(outside)
    (snap / "linkdir").symlink_to(tmp_path / "datasets", target_is_directory=True)
    digest = hashlib.sha256(b"secret\n").hexdigest()
    sums = snap / "SHA256SUMS"
    lines = sums.read_text().splitlines()
    sums.write_text("\n".join([*lines, f"{digest}  {name}"]) + "\n")
    problems = verify(snap)  # the digest is right: only refusing the name reports a problem
    assert f"SHA256SUMS line {len(lines) + 1}: malformed" in problems
    assert main(["verify", str(snap)]) == 1


def test_publish_a_run_whose_path_has_a_colon(tmp_path: Path) -> None:
    """pyarrow reads a path string like "run:2026/..." as a URI: parts are read through files."""
    run = make_run(tmp_path / "plain", ROWS).rename(tmp_path / "run:2026")
    snapshot = publish(run, tmp_path / "datasets")
    assert snapshot.rows == sum(snapshot.counts.values()) == len(ROWS)


def test_verify_exit_statuses(tmp_path: Path, capsys) -> None:
    """0 clean, 1 problems (above), 2 when SNAPSHOT is not a directory: nothing to check."""
    assert main(["verify", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err == f"verify: {tmp_path / 'missing'}: not a directory\n"
    afile = tmp_path / "file"
    afile.write_text("x")
    assert main(["verify", str(afile)]) == 2
    snap = publish(make_run(tmp_path / "run", ROWS), tmp_path / "datasets").path
    assert main(["verify", str(snap)]) == 0
    (snap / "SHA256SUMS").unlink()
    assert main(["verify", str(snap)]) == 1


def test_diff_exit_2_without_two_datasets(tmp_path: Path, capsys) -> None:
    """OLD or NEW not a directory, or a directory holding no dataset: exit 2, nothing written."""
    run = make_run(tmp_path / "run", ROWS)
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "d.parquet"
    for old, new in [(tmp_path / "missing", run), (run, tmp_path / "missing"), (empty, run),
                     (run, empty)]:
        assert main(["diff", str(old), str(new), "-o", str(out)]) == 2, (old, new)
        assert capsys.readouterr().err.startswith("diff: ")
    assert not out.exists() and sorted(p.name for p in run.iterdir()) == ["manifest.json",
                                                                          "parts"]
    assert main(["diff", str(run), str(run), "-o", str(out)]) == 0 and out.is_file()


def test_diff_show_lists_the_highest_ranked_of_each_change(tmp_path: Path, capsys) -> None:
    old_rows, old, new = changed_runs(tmp_path)
    ranks = {r["domain"]: r["rank"] for r in old_rows}
    changed = sorted(("a.test", "h.test"), key=ranks.__getitem__)  # policy_changed: two domains

    def listed(*show: str) -> list[str]:
        """The domains printed under the policy_changed line (indented sample lines)."""
        assert main(["diff", str(old), str(new), "-o", str(tmp_path / "d.parquet"),
                     *show]) == 0
        lines = capsys.readouterr().out.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("policy_changed "))
        block = itertools.takewhile(lambda line: line.startswith("    "), lines[start + 1:])
        return [line.split()[1] for line in block]

    assert listed() == changed  # default 10
    assert listed("--show", "1") == changed[:1]
    assert listed("--show", "0") == []
    with pytest.raises(SystemExit) as exc_info:
        main(["diff", str(old), str(new), "--show", "-1"])
    assert exc_info.value.code == 2
