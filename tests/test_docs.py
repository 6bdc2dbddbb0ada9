"""The README's reference tables are the code's (one source of truth)."""

from __future__ import annotations

from survey.mistakes import MISTAKES
from survey.readme import README, render
from survey.schema import SCHEMA


def test_readme_tables_match_the_code() -> None:
    text = README.read_text()
    assert render(text) == text, "run `python -m survey.readme` to regenerate the tables"


def test_every_column_and_mistake_is_documented() -> None:
    text = README.read_text()
    for field in SCHEMA:
        assert f"`{field.name}`" in text
        assert (field.metadata or {}).get(b"doc"), f"column {field.name} has no doc"
    for code in MISTAKES:
        assert f"`{code}`" in text
