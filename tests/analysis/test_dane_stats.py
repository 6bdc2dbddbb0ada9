"""The DANE statistics (issue 16) against an eight-domain dataset counted by hand below."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from survey.analysis import stats
from survey.dataset.schema import rows_to_table
from tests.analysis.test_stats import ROWS as OLD_ROWS
from tests.analysis.test_stats import row

MX = {"mx_hosts": [{"preference": 10, "host": "mx.example.test"}]}


def dane(status: str, verdict: str | None, mx_dnssec: str, **kw: Any) -> dict[str, Any]:
    return {"status": status, "dane": verdict, "mx_dnssec": mx_dnssec, **MX, **kw}


ROWS = [
    row("a.test", 1, **dane("enforce", "usable", "secure", sender_mechanism="dane",
                             sender_protection="authenticated")),
    row("b.test", 2, **dane("enforce", None, "insecure", sender_mechanism="mta-sts",
                             sender_protection="authenticated")),
    row("c.test", 5, **dane("absent", "usable", "secure", sender_mechanism="dane",
                             sender_protection="authenticated")),
    row("d.test", 2000, **dane("testing", "partial", "secure", sender_mechanism="dane",
                                sender_protection="testing")),
    row("e.test", 2001, **dane("absent", "none", "secure", sender_mechanism="none",
                                sender_protection="none")),
    row("f.test", 3000, **dane("absent", None, "insecure", sender_mechanism="none",
                                sender_protection="none")),
    row("g.test", 4000, **dane("error", None, "error")),
    row("h.test", 5000, **dane("absent", "bogus", "bogus", sender_mechanism="dane",
                                sender_protection="deferred")),
]


@pytest.fixture(scope="module")
def lf(tmp_path_factory: pytest.TempPathFactory) -> pl.LazyFrame:
    directory: Path = tmp_path_factory.mktemp("dane") / "parts"
    directory.mkdir()
    pq.write_table(rows_to_table(ROWS), directory / "p.parquet")
    return stats.load(directory.parent)


def _counts(df: pl.DataFrame, bucket: str, key: str) -> dict[str, int]:
    part = df.filter(pl.col("bucket") == bucket)
    return dict(zip(part[key].to_list(), part["domains"].to_list(), strict=True))


def test_mechanisms_by_rank(lf: pl.LazyFrame) -> None:
    df = stats.mechanisms_by_rank(lf)
    assert _counts(df, "all", "mechanism") == {"both": 2, "mta-sts only": 1, "dane only": 1,
                                               "neither": 3}  # g: error, counted apart
    assert _counts(df, "top 1k", "mechanism") == {"both": 1, "mta-sts only": 1, "dane only": 1}
    assert _counts(df, "1k-10k", "mechanism") == {"both": 1, "neither": 3}
    both = df.filter((pl.col("bucket") == "all") & (pl.col("mechanism") == "both")).row(
        0, named=True)
    assert both["domains_share"] == pytest.approx(2 / 7)
    low, high = stats.wilson_interval(2, 7)
    assert (both["domains_ci_low"], both["domains_ci_high"]) == pytest.approx((low, high))
    assert df["bucket"].unique(maintain_order=True).to_list() == ["all", "top 1k", "1k-10k"]


def test_codeployment_matrix(lf: pl.LazyFrame) -> None:
    df = stats.codeployment(lf).filter(pl.col("bucket") == "all")
    cells = {(s, d): n for s, d, n in df.select("status", "dane", "domains").iter_rows()}
    assert cells == {("enforce", "usable"): 1, ("enforce", "not probed"): 1,
                     ("absent", "usable"): 1, ("testing", "partial"): 1, ("absent", "none"): 1,
                     ("absent", "not probed"): 1, ("absent", "bogus"): 1}
    assert df["domains_share"].to_list() == pytest.approx([1 / 7] * 7)


def test_dnssec_signed_mx(lf: pl.LazyFrame) -> None:
    df = stats.dnssec_signed_mx(lf)
    by = {r["bucket"]: r for r in df.iter_rows(named=True)}
    assert (by["all"]["judged"], by["all"]["signed"], by["all"]["bogus"]) == (6, 4, 1)
    assert by["all"]["signed_share"] == pytest.approx(4 / 6)
    assert (by["all"]["signed_ci_low"], by["all"]["signed_ci_high"]) == pytest.approx(
        stats.wilson_interval(4, 6))
    assert (by["top 1k"]["judged"], by["top 1k"]["signed"]) == (3, 2)
    assert (by["1k-10k"]["judged"], by["1k-10k"]["signed"], by["1k-10k"]["bogus"]) == (3, 2, 1)


def test_protection_by_mechanism(lf: pl.LazyFrame) -> None:
    assert stats.sender_outcomes is stats.protection_by_mechanism  # issue 16's first name
    df = stats.protection_by_mechanism(lf)
    cells = {(m, p): n for m, p, n in df.select("mechanism", "protection", "domains").iter_rows()}
    assert cells == {("dane", "authenticated"): 2, ("mta-sts", "authenticated"): 1,
                     ("dane", "testing"): 1, ("none", "none"): 2, ("dane", "deferred"): 1}


def test_old_datasets_have_no_dane_columns(tmp_path: Path, lf: pl.LazyFrame) -> None:
    assert stats.has_dane_columns(lf)
    table = rows_to_table(OLD_ROWS).drop_columns(list(stats.DANE_COLUMNS))
    (tmp_path / "parts").mkdir()
    pq.write_table(table, tmp_path / "parts" / "old.parquet")
    assert not stats.has_dane_columns(stats.load(tmp_path))


def test_report_has_the_dane_sections_only_with_dane_columns(lf: pl.LazyFrame,
                                                             tmp_path: Path) -> None:
    from survey.analysis.report import dane_sections, render_html

    sections = dane_sections(lf)
    assert [s.title for s in sections] == ["MTA-STS, DANE, both or neither",
                                           "Co-deployment matrix", "DNSSEC-signed MX",
                                           "What a sender with both does"]
    assert sections[0].table is not None and sections[0].table.equals(
        stats.mechanisms_by_rank(lf))
    page = render_html(sections, {}, tmp_path)
    assert "Co-deployment matrix" in page and "dane only" in page
    table = rows_to_table(OLD_ROWS).drop_columns(list(stats.DANE_COLUMNS))
    (tmp_path / "parts").mkdir()
    pq.write_table(table, tmp_path / "parts" / "old.parquet")
    assert dane_sections(stats.load(tmp_path)) == []
