"""The Hypothesis profile conftest.py loads: replayable in CI, remembering failures locally."""

from __future__ import annotations

import os

from hypothesis import settings


def test_profile_follows_ci() -> None:
    ci = os.environ.get("CI", "").lower() in ("1", "true")
    chosen = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if ci else "dev")
    assert settings.default == settings.get_profile(chosen)
    if chosen == "ci":
        assert settings.default.derandomize and settings.default.database is None
    if chosen == "dev":
        assert not settings.default.derandomize and settings.default.database is not None
