"""Per-sender statistics (issue 15) over the rows the classifier gives the scenario catalogue."""

from __future__ import annotations

import datetime as dt

import polars as pl

from survey.analysis import stats
from survey.core.classify import classify
from survey.dataset.schema import RunContext, rows_to_table, to_row
from tests.core.test_catalogue import SCENARIOS, observations_for

NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


def catalogue_frame() -> pl.LazyFrame:
    rows = []
    for rank, sc in enumerate(SCENARIOS, 1):
        obs = observations_for(sc)
        rows.append(to_row(RunContext("r", "catalogue"), rank, obs, classify(obs), NOW))
    return pl.from_arrow(rows_to_table(rows)).lazy()  # type: ignore[union-attr]


LF = catalogue_frame()
DF = LF.collect()


def test_senders_in_effect_puts_the_rfc_beside_k_of_n() -> None:
    table = stats.senders_in_effect(LF)
    publishing = DF.filter(pl.col("status").is_in(["invalid", "none", "testing", "enforce"]))
    assert int(table["domains"].sum()) == publishing.height
    assert int(table["in_effect_by_rfc"].sum()) == DF.filter(
        pl.col("status").is_in(["none", "testing", "enforce"])).height
    n = int(table["senders"][0])
    assert table["senders_applying"].to_list() == list(range(n + 1))
    # the RFC applying means at least one sender applies: never in row k = 0
    assert int(table.filter(pl.col("senders_applying") == 0)["in_effect_by_rfc"][0]) == 0
    for outcomes, k in zip(publishing["sender_outcomes"].to_list(),
                           publishing["sender_outcomes"].list.eval(
                               pl.element().struct.field("applies").fill_null(False)
                               .cast(pl.Int32)).list.sum().to_list(), strict=True):
        assert k == sum(o["applies"] is True for o in outcomes)


def test_sender_adoption_rfc_row_equals_the_statuses() -> None:
    table = stats.sender_adoption(LF)
    assert table["sender"][0] == "rfc8461"
    rfc = table.row(0, named=True)
    for mode in ("none", "testing", "enforce"):
        assert rfc[f"mode_{mode}"] == DF.filter(pl.col("status") == mode).height
    assert rfc["unknown"] == 0


def test_disagreement_classes_count_every_disagreeing_domain() -> None:
    table = stats.disagreement_classes(LF)
    disagreeing = DF.filter(pl.col("mistakes").list.contains("senders_disagree")).height
    assert disagreeing > 0 and int(table["domains"].sum()) == disagreeing
    assert table["domains"].to_list() == sorted(table["domains"].to_list(), reverse=True)
    assert any("ignored: rfc8461" in c and "enforce: " in c for c in table["senders"])


def test_valid_record_and_policy_allow_warnings() -> None:
    """A duplicated field is a warning: the funnel still counts the policy as valid."""
    row = DF.filter(pl.col("domain") == "policy-duplicate-fields.test")
    assert row["policy_errors"].to_list() == [["duplicate_key"]]
    assert row.select(stats.VALID_POLICY).item()
    space = DF.filter(pl.col("domain") == "txt-space-before-semicolon.test")
    assert space["sts_record_errors"].to_list() == [["space_before_semicolon"]]
    assert space.select(stats.VALID_STS_RECORD).item()


def test_a_dataset_without_the_column_gives_empty_tables() -> None:
    """Scanned before schema 1.1: publish's aggregates and the notebook still run."""
    old = LF.drop("sender_outcomes")
    assert not stats.has_sender_columns(old)
    assert stats.sender_adoption(old).height == 0
    assert stats.disagreement_classes(old).height == 0
    assert int(stats.senders_in_effect(old)["domains"].sum()) == DF.filter(
        pl.col("status").is_in(["invalid", "none", "testing", "enforce"])).height
