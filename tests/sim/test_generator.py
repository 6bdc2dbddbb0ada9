"""Synthetic worlds: deterministic, realistic proportions, expectations that classify() agrees
with, fast, and a Tranco-style toplist."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from survey.cli import main
from survey.sim.generator import KINDS, SIGNED_SHARE, generate_world, write_toplist
from survey.sim.scenario import DNSSEC_CHECK_NAME, Dnssec, Scenario, World
from tests.commands.test_cli_scan import FAST, _expect, check_expectations, rows_by_domain
from tests.conftest import WorldFactory
from tests.core.test_catalogue import (
    LABEL,
    as_dane_expectation,
    as_expectation,
    dane_expected,
    full_expectation,
    observations_for,
)


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


@pytest.mark.slow
def test_two_hundred_thousand_distinct_domains() -> None:
    """How fast is for the benchmarks (``make bench`` times the world it scans)."""
    world = generate_world(200_000, 1)
    assert len(world.scenarios) == 200_000 == len({s.domain for s in world.scenarios})


def test_write_toplist(tmp_path: Path) -> None:
    world = generate_world(100, 2)
    path = tmp_path / "top.csv"
    write_toplist(world, path)
    lines = path.read_text().splitlines()
    assert lines[0] == f"1,{world.scenarios[0].domain}"
    assert lines == [f"{i},{s.domain}" for i, s in enumerate(world.scenarios, 1)]
    write_toplist(World(()), path)
    assert path.read_text() == ""


@pytest.mark.slow
def test_signed_worlds_differ_only_in_dnssec_and_dane() -> None:
    """``signed`` draws from a stream of its own: the same seed gives the same domains, kinds
    and MTA-STS expectations, signed or not (a benchmark compares the two)."""
    plain, signed = generate_world(20_000, 4), generate_world(20_000, 4, signed=SIGNED_SHARE)
    assert generate_world(500, 4, signed=0.0) == generate_world(500, 4)
    assert plain.scenarios[0].dane is None and plain.scenarios[0].dnssec is Dnssec.INSECURE
    for a, b in zip(plain.scenarios, signed.scenarios, strict=True):
        assert (a.domain, a.name, a.expect, a.sts_txt, a.policy_host, a.tlsrpt_txt) == (
            b.domain, b.name, b.expect, b.sts_txt, b.policy_host, b.tlsrpt_txt)
        assert [m.name for m in a.mx] == [m.name for m in b.mx]
    share = sum(s.dnssec is Dnssec.SECURE for s in signed.scenarios) / len(signed.scenarios)
    assert 0.6 * SIGNED_SHARE < share < 1.4 * SIGNED_SHARE
    verdicts = Counter(s.dane.dane for s in signed.scenarios if s.dane is not None)
    assert set(verdicts) == {"usable", "none"} and verdicts["usable"] > 20


def _one_per_kind_and_dane() -> list[Scenario]:
    seen: dict[tuple[str, str | None], Scenario] = {}
    for s in generate_world(20_000, 5, signed=0.3).scenarios:
        seen.setdefault((s.name, s.dane.dane if s.dane else None), s)
    return list(seen.values())


@pytest.mark.parametrize("scenario", _one_per_kind_and_dane(),
                         ids=lambda s: f"{s.name}-{s.dane.dane if s.dane else 'unsigned'}")
def test_signed_expectations_are_what_classify_gives(scenario: Scenario) -> None:
    for smtp in (False, True):
        obs = observations_for(scenario, smtp=smtp)
        assert as_expectation(obs) == full_expectation(scenario, smtp=smtp)
        if scenario.dane is not None:
            assert as_dane_expectation(obs, smtp=smtp) == dane_expected(scenario, smtp=smtp)


@pytest.mark.slow
def test_a_signed_world_scans_as_expected(make_world: WorldFactory, tmp_path: Path) -> None:
    """Through the sim's validating resolver: every row, MTA-STS and DANE columns, as expected."""
    world = generate_world(300, 6, signed=0.4)
    assert any(s.dane and s.dane.dane == "usable" for s in world.scenarios)
    running = make_world(world)
    out = tmp_path / "out"
    assert main(["scan", str(running.toplist), "-o", str(out), *running.scan_args(), *FAST,
                 "--no-progress", "--dnssec-check", DNSSEC_CHECK_NAME]) == 0
    check_expectations(world, rows_by_domain(out), _expect)
