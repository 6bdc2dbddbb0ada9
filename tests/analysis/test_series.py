"""An evolved series of the test internet, scanned and published per date: ``diff`` finds exactly
the changes ``evolve`` made, ``series_first_modes`` the expected first modes, and the trends
notebook runs on it."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from survey.analysis import stats
from survey.analysis.diff import CHANGES, diff, series_first_modes, transitions
from survey.analysis.notebooks import execute_notebook, series_notebooks
from survey.analysis.publish import publish
from survey.cli import main
from survey.sim.evolve import CHURN, TRANSITIONS, Step, evolve
from survey.sim.generator import generate_world
from survey.sim.scenario import Scenario, World
from survey.sim.world import start_world
from tests.core.test_catalogue import as_expectation, observations_for

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

N, SEED, CHURN_PER_STEP = 400, 1, 3
DATES = ("2026-09-01", "2026-10-01", "2026-11-01")
ADOPTED = ("none", "testing", "enforce")
#: default timeouts (a loaded CI machine must not turn a slow answer into an error row)
SCAN_OPTIONS = ["--rate", "50000", "--concurrency", "200", "--no-progress"]

State = tuple[str, str | None, str | None, bytes | None]  # status, mode, TXT id, policy body


def state(sc: Scenario) -> State:
    """What a scan of a clean scenario records: the oracle's view, from the scenario alone."""
    assert sc.expect is not None
    sts_id = "".join(sc.sts_txt[0]).split("id=")[1] if sc.sts_txt else None
    body = sc.policy_host.body if sc.policy_host is not None else None
    return sc.expect.status, sc.expect.mode, sts_id, body


def oracle(old: World, new: World) -> list[tuple[str, str]]:
    """diff's rules (survey/analysis/diff.py) applied to scenarios, independently of the scanner."""
    before = {sc.domain: state(sc) for sc in old.scenarios}
    after = {sc.domain: state(sc) for sc in new.scenarios}
    found = [(d, "disappeared") for d in before.keys() - after.keys()]
    for domain, (s1, m1, i1, b1) in after.items():
        if domain not in before:
            found.append((domain, "appeared"))
            found += [(domain, "enforce_without_testing")] if s1 == "enforce" else []
            continue
        s0, m0, i0, b0 = before[domain]
        body_changed = b0 is not None and b1 is not None and b0 != b1
        rules = {"adopted": s0 not in ADOPTED and s1 in ADOPTED,
                 "dropped": s0 in ADOPTED and s1 not in ADOPTED,
                 "mode_changed": s0 in ADOPTED and s1 in ADOPTED and m0 != m1,
                 "policy_changed": body_changed,
                 "id_not_bumped": body_changed and i0 is not None and i0 == i1,
                 "enforce_without_testing": s1 == "enforce" and s0 not in ADOPTED}
        found += [(domain, kind) for kind, hit in rules.items() if hit]
    return sorted(found)


@pytest.fixture(scope="module")
def series() -> tuple[World, list[Step]]:
    world = generate_world(N, SEED)
    return world, evolve(world, len(DATES) - 1, seed=SEED, churn=CHURN_PER_STEP)


def test_deterministic_and_same_toplist() -> None:
    world = generate_world(N, SEED)
    steps = evolve(world, 2, seed=SEED)
    assert evolve(world, 2, seed=SEED) == steps
    assert evolve(world, 2, seed=SEED + 1) != steps
    assert [s.index for s in steps] == [1, 2]
    for step in steps:
        assert not {t for _, t in step.transitions} & set(CHURN)
        assert [s.domain for s in step.world.scenarios] == [s.domain for s in world.scenarios]
        changed = {d for d, _ in step.transitions}
        assert len(changed) == len(step.transitions), "a domain changes once per step"
        assert 0.02 * N <= len(changed) <= 0.05 * N  # a few percent
    assert evolve(world, 0, seed=SEED) == []


def test_churn_keeps_the_order_and_appends_newcomers(series: tuple[World, list[Step]]) -> None:
    world, steps = series
    for old, step in zip([world, *(s.world for s in steps)], steps, strict=False):
        moves = dict(step.transitions)
        gone = {d for d, t in moves.items() if t == "disappear"}
        new = [d for d, t in moves.items() if t.startswith("appear_")]
        assert len(gone) == len(new) == CHURN_PER_STEP
        domains = [s.domain for s in step.world.scenarios]
        assert domains == [s.domain for s in old.scenarios if s.domain not in gone] + new
        assert len(set(domains)) == len(domains)


def test_answer_key_matches_the_rules_and_every_kind_occurs(
        series: tuple[World, list[Step]]) -> None:
    world, steps = series
    for old, step in zip([world, *(s.world for s in steps)], steps, strict=False):
        assert list(step.changes) == oracle(old, step.world)
        assert {t for _, t in step.transitions} == set(TRANSITIONS) | set(CHURN), "each step"
        before = {s.domain: s for s in old.scenarios}
        untouched = [s for s in step.world.scenarios if s.domain not in dict(step.transitions)]
        assert all(before[s.domain] == s for s in untouched)
        assert len(untouched) == len(old.scenarios) - len(step.transitions) + CHURN_PER_STEP
    assert {c for s in steps for _, c in s.changes} == set(CHANGES)


def test_changed_expectations_are_what_classify_gives(series: tuple[World, list[Step]]) -> None:
    _, steps = series
    for step in steps:
        by_domain = {s.domain: s for s in step.world.scenarios}
        for domain, transition in step.transitions:
            if transition == "disappear":
                continue
            sc = by_domain[domain]
            assert as_expectation(observations_for(sc)) == sc.expect, (transition, sc)


def expected_first_enforce(worlds: list[World]) -> set[str]:
    """Domains whose first status in effect over the series is enforce, never testing."""
    statuses: dict[str, list[str]] = {}
    for w in worlds:
        for sc in w.scenarios:
            assert sc.expect is not None
            if sc.expect.status in ADOPTED:
                statuses.setdefault(sc.domain, []).append(sc.expect.status)
    return {d for d, seen in statuses.items() if seen[0] == "enforce" and "testing" not in seen}


def expected_in_effect(worlds: list[World]) -> set[str]:
    return {sc.domain for w in worlds for sc in w.scenarios
            if sc.expect is not None and sc.expect.status in ADOPTED}


def scan_and_publish(world: World, date: str, index: int, root: Path) -> Path:
    """Scan ``world`` with the real CLI as the survey of ``date`` and publish it."""
    out = root / f"run{index}"
    with start_world(world, root / f"world{index}") as running:
        assert main(["scan", str(running.toplist), "-o", str(out), *running.scan_args(),
                     *SCAN_OPTIONS, "--toplist-name", "sim", "--run-id", f"run{index}",
                     "--run-date", date, "--vantage-point", "the test internet (loopback)"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "complete" and manifest["run_date"] == date
    snapshot = publish(out, root / "datasets").path
    datasheet = (snapshot / "README.md").read_text()
    assert "Vantage point: the test internet (loopback)." in datasheet
    return snapshot


@pytest.fixture(scope="module")
def snapshots(series: tuple[World, list[Step]],
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    world, steps = series
    root = tmp_path_factory.mktemp("series")
    worlds = [world, *(s.world for s in steps)]
    yield [scan_and_publish(w, d, i, root) for i, (w, d) in enumerate(zip(worlds, DATES,
                                                                          strict=True))]


def test_every_scan_matches_its_worlds_expectations(series: tuple[World, list[Step]],
                                                     snapshots: list[Path]) -> None:
    world, steps = series
    for w, snapshot in zip([world, *(s.world for s in steps)], snapshots, strict=True):
        rows = stats.load(snapshot).select("domain", "status", "mode", "mistakes").collect()
        seen = {d: (st, m, frozenset(mi)) for d, st, m, mi in rows.iter_rows()}
        wanted = {sc.domain: (sc.expect.status, sc.expect.mode, sc.expect.mistakes)
                  for sc in w.scenarios if sc.expect is not None}
        assert len(wanted) == len(w.scenarios) == rows.height
        assert seen == wanted


def test_diff_finds_exactly_the_changes_made(series: tuple[World, list[Step]],
                                             snapshots: list[Path]) -> None:
    _, steps = series
    assert [p.name[:10] for p in snapshots] == list(DATES)
    assert sorted(p.name for p in snapshots[0].parent.iterdir() if p.is_dir()) == [
        p.name for p in snapshots]
    for (old, new), step in zip(itertools.pairwise(snapshots), steps, strict=True):
        changes = diff(old, new).changes
        found = sorted(zip(changes["domain"].to_list(), changes["change"].to_list(), strict=True))
        assert found == list(step.changes)
        per_kind = Counter(c for _, c in step.changes)
        summary = dict(diff(old, new).summary.iter_rows())
        assert summary == {kind: per_kind.get(kind, 0) for kind in CHANGES}
    moves = transitions(snapshots)
    for (old_date, new_date), step in zip(itertools.pairwise(DATES), steps, strict=True):
        per_kind = Counter(c for _, c in step.changes)
        interval = moves.filter((moves["from"] == old_date) & (moves["to"] == new_date))
        assert dict(interval.select("change", "domains").iter_rows()) == {
            kind: per_kind.get(kind, 0) for kind in CHANGES}


def test_series_first_modes_flags_the_expected_domains(series: tuple[World, list[Step]],
                                                       snapshots: list[Path]) -> None:
    world, steps = series
    first = series_first_modes(snapshots)
    flagged = set(first.filter(first["enforce_without_testing"])["domain"].to_list())
    expected = expected_first_enforce([world, *(s.world for s in steps)])
    assert flagged == expected
    # straight to enforce at the last date: flagged (earlier ones may have tried testing since)
    assert {d for d, t in steps[-1].transitions if t == "adopt_enforce"} <= flagged
    assert len(first) == len(expected_in_effect([world, *(s.world for s in steps)]))


def test_trends_notebook_runs_on_the_series(series: tuple[World, list[Step]],
                                            snapshots: list[Path], tmp_path: Path) -> None:
    world, steps = series
    nb = execute_notebook(series_notebooks()[0], {"SNAPSHOTS": str(snapshots[0].parent)},
                          out_html=tmp_path / "trends.html", timeout=180)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert f"{len(DATES)} snapshots" in text
    expected = expected_first_enforce([world, *(s.world for s in steps)])
    assert f"enforce without testing: {len(expected)} of" in text
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) >= 2
