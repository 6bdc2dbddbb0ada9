"""The HTML report renders from a dataset: valid HTML, every section, every figure inline."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from survey.analysis import stats
from survey.analysis.report import build_sections
from survey.cli import main
from survey.dataset.schema import rows_to_table
from tests.analysis.test_stats import ROWS


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)
        self._in_h2 = tag == "h2"

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data)
            self._in_h2 = False


@pytest.mark.slow
def test_report_command_writes_self_contained_html(tmp_path: Path, capsys) -> None:
    (tmp_path / "parts").mkdir()
    pq.write_table(rows_to_table(ROWS), tmp_path / "parts" / "part-1.parquet")
    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "enforce" in out and "total" in out and "10" in out
    page = (tmp_path / "report.html").read_text()
    parser = _Collector()
    parser.feed(page)

    from survey.analysis import stats

    sections = build_sections(stats.load(tmp_path))
    assert parser.h2 == [s.title for s in sections]
    figures = sum(1 for s in sections if s.figure_svg)
    assert figures >= 6
    assert parser.tags.count("svg") == figures
    assert "<script" not in page  # static: no JavaScript, opens offline
    assert "h.test" in page  # the MX-consistency offender is listed
    counts = dict(stats.funnel(stats.load(tmp_path)).select("step", "count").iter_rows())
    errors = sum(r["status"] == "error" for r in ROWS)
    assert (counts["scanned"], counts["measurement_error"], counts["measured"]) == (
        len(ROWS), errors, len(ROWS) - errors)


def test_report_refuses_missing_dataset(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no Parquet files" in capsys.readouterr().err


@pytest.mark.slow
def test_report_of_a_snapshot_goes_beside_it_and_verify_still_passes(tmp_path: Path) -> None:
    """A snapshot's files are fixed by SHA256SUMS: the API's default, like the CLI's, writes
    the report next to it, and the snapshot still verifies."""
    from survey.analysis.publish import publish, verify
    from survey.analysis.report import write_report
    from tests.analysis.test_publish import make_run

    snap = publish(make_run(tmp_path / "run", ROWS), tmp_path / "datasets").path
    path, headline = write_report(snap)
    assert path == snap.parent / f"{snap.name}-report.html"
    assert "enforce" in headline and path.stat().st_size > 10_000
    assert not (snap / "report.html").exists()
    assert verify(snap) == []
    assert main(["report", str(snap)]) == 0 and main(["verify", str(snap)]) == 0
    run_path, _ = write_report(tmp_path / "run")  # a scan's output: the report goes inside
    assert run_path == tmp_path / "run" / "report.html"


def test_shares_read_as_percentages_and_the_headline_has_a_sentence_per_status() -> None:
    import polars as pl

    from survey.analysis.report import (
        STATUS_SENTENCES,
        headline_sentences,
        share_text,
        table_html,
        with_intervals,
    )

    assert set(STATUS_SENTENCES) == set(stats.STATUSES)  # one vocabulary
    assert [share_text(v) for v in (0.01265, 0.5, 1.0, 0.000123, 0.0, None)] == [
        "1.26%", "50%", "100%", "0.0123%", "0%", ""]
    status = pl.DataFrame({"status": list(stats.STATUSES), "domains": [5, 1, 0, 2, 2, 0]}
                          ).with_columns((pl.col("domains") / 10).alias("share"))
    sentences = headline_sentences(status)
    assert len(sentences) == len(stats.STATUSES)
    assert sentences[0] == ("5 of 10 domains (50%) publish no MTA-STS policy at all.")
    assert any(s.startswith("2 of 10 domains (20%) enforce MTA-STS") for s in sentences)
    rank = pl.DataFrame({"bucket": ["top 1k"], "adopted_share": [0.01265],
                         "adopted_ci_low": [0.0091], "adopted_ci_high": [0.0174]})
    assert with_intervals(rank).columns == ["bucket", "adopted_share (95% CI)"]
    assert with_intervals(rank).item(0, 1) == "1.26% (0.91-1.74%)"
    page = table_html(rank)
    assert page.startswith("<div class=table-wrap>") and "0.01265" not in page
