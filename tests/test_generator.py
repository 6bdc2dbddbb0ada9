"""Synthetic worlds: deterministic, realistic proportions, expectations that classify() agrees
with, fast, and a Tranco-style toplist."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from survey.sim.generator import KINDS, generate_world, write_toplist
from survey.sim.scenario import Scenario, World
from tests.test_catalogue import LABEL, as_expectation, observations_for


def test_deterministic_from_seed() -> None:
    assert generate_world(500, 7) == generate_world(500, 7)
    assert generate_world(500, 7).scenarios != generate_world(500, 8).scenarios
    assert generate_world(0, 1).scenarios == ()


def test_names_are_unique_valid_and_ranked() -> None:
    world = generate_world(5000, 3)
    domains = [s.domain for s in world.scenarios]
    assert len(set(domains)) == len(domains)
    for rank, d in enumerate(domains, 1):
        assert d.startswith(f"d{rank}-")
        assert all(LABEL.fullmatch(label) for label in d.split("."))
        assert d.rsplit(".", 1)[1] in ("test", "example")


def test_proportions_are_realistic() -> None:
    world = generate_world(20_000, 11)
    kinds = Counter(s.name for s in world.scenarios)
    n = len(world.scenarios)
    sts = sum(1 for s in world.scenarios if s.sts_txt)
    assert 0.01 < sts / n < 0.05  # a few percent publish MTA-STS
    assert sum(1 for s in world.scenarios if s.mx) / n > 0.8
    assert set(kinds) == set(KINDS)  # every kind shows up in a 20k world
    assert sum(w for w, _, _ in KINDS.values()) == 10_000  # weights are per 10,000
    broken = sum(1 for s in world.scenarios if s.expect and s.expect.status == "invalid")
    assert 0.1 < broken / sts < 0.4  # a notable share of deployments is broken
    # MX hosts are shared: one provider's host serves a large share of all domains
    hosts = Counter(m.name for s in world.scenarios for m in s.mx)
    assert hosts.most_common(1)[0][1] > 0.3 * n
    assert len(hosts) < n / 5


def _one_per_kind() -> list[Scenario]:
    seen: dict[str, Scenario] = {}
    for s in generate_world(20_000, 5).scenarios:
        seen.setdefault(s.name, s)
    return list(seen.values())


@pytest.mark.parametrize("scenario", _one_per_kind(), ids=lambda s: s.name)
def test_expectation_is_what_classify_gives(scenario: Scenario) -> None:
    assert scenario.expect is not None
    assert as_expectation(observations_for(scenario)) == scenario.expect


def test_fast_and_lean() -> None:
    start = time.perf_counter()
    world = generate_world(200_000, 1)
    elapsed = time.perf_counter() - start
    assert len(world.scenarios) == 200_000
    assert elapsed < 12, f"{elapsed:.1f} s for 200k domains"  # ~1.6 s on an idle core


def test_write_toplist(tmp_path: Path) -> None:
    world = generate_world(100, 2)
    path = tmp_path / "top.csv"
    write_toplist(world, path)
    lines = path.read_text().splitlines()
    assert lines[0] == f"1,{world.scenarios[0].domain}"
    assert lines == [f"{i},{s.domain}" for i, s in enumerate(world.scenarios, 1)]
    write_toplist(World(()), path)
    assert path.read_text() == ""
