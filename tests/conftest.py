"""Shared fixtures: the catalogue's test internet (one per session) and custom worlds."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from survey.sim.catalogue import catalogue
from survey.sim.scenario import World
from survey.sim.world import RunningWorld, start_world

WorldFactory = Callable[..., RunningWorld]


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
