"""Shared fixtures: the catalogue's test internet (one per session) and custom worlds."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from survey.sim.catalogue import catalogue
from survey.sim.scenario import World
from survey.sim.world import RunningWorld, start_world

WorldFactory = Callable[..., RunningWorld]

# Hypothesis: in CI (CI=true) the examples are derandomised, so a CI failure replays anywhere
# with the same code; locally they are random and failures are kept in .hypothesis/ (replayed
# first on the next run). HYPOTHESIS_PROFILE picks one by name (`make mutation` uses "ci").
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev"))


@pytest.fixture(scope="session")
def catalogue_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    """Every catalogue scenario served on loopback for the whole session (free ports)."""
    with start_world(World(catalogue()), tmp_path_factory.mktemp("catalogue")) as running:
        yield running


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[WorldFactory]:
    """``make_world(world, **start_world_options)`` starts a world, stopped after the test."""
    with contextlib.ExitStack() as stack:
        count = 0

        def make(world: World, **options: Any) -> RunningWorld:
            nonlocal count
            count += 1
            return stack.enter_context(start_world(world, tmp_path / f"world{count}", **options))

        yield make
