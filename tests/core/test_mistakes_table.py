"""The generated mistake table (README, datasheets) read back as a Markdown table."""

from __future__ import annotations

from survey.core.mistakes import MISTAKES, reference_table_markdown


def test_the_reference_table_has_one_row_per_code_in_order_with_every_field() -> None:
    lines = reference_table_markdown().split("\n")
    assert lines[:2] == ["| code | severity | meaning | reference | fix |", "|---|---|---|---|---|"]
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]
    assert [r[0] for r in rows] == [f"`{code}`" for code in MISTAKES]
    for (_, severity, meaning, reference, fix), m in zip(rows, MISTAKES.values(), strict=True):
        assert severity == str(m.severity) + (" (snapshot comparison)" if m.longitudinal else "")
        assert (meaning, reference, fix) == (m.explanation, m.reference, m.fix)
    assert any(m.longitudinal for m in MISTAKES.values())
    assert not reference_table_markdown().endswith("\n")
