"""Compare two snapshots (or runs): who adopted, dropped, changed mode or policy.

It also finds the longitudinal mistakes one snapshot cannot show (``id_not_bumped``,
``enforce_without_testing``). Pure polars over two datasets; joins on the domain.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from survey import stats
from survey.publish import run_date

#: Change kinds, in the order the summary lists them.
CHANGES = (
    "adopted",  # no policy in effect before, one now
    "dropped",  # a policy in effect before, none now
    "mode_changed",  # both in effect, mode differs (testing -> enforce and back)
    "policy_changed",  # both fetched, the body's sha256 differs
    "id_not_bumped",  # policy body changed while the TXT id stayed the same
    "enforce_without_testing",  # first seen in enforce (not in effect, or unseen, before)
    "appeared",  # only in the new snapshot
    "disappeared",  # only in the old snapshot
)

_COLUMNS = ("domain", "rank", "status", "mode", "sts_id", "policy_sha256")


@dataclass(frozen=True, slots=True)
class DiffResult:
    changes: pl.DataFrame  # one row per (domain, change)
    summary: pl.DataFrame  # change -> domains


def _side(path: str | Path) -> pl.DataFrame:
    return stats.load(path).select(*_COLUMNS).unique("domain", keep="first").collect()


def compare(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Changes between two frames with the ``_COLUMNS`` (one row per domain each)."""
    joined = old.join(new, on="domain", how="full", suffix="_new", coalesce=True)
    old_in = pl.col("status").is_in(stats.ADOPTED).fill_null(False)
    new_in = pl.col("status_new").is_in(stats.ADOPTED).fill_null(False)
    both_measured = (pl.col("status") != "error") & (pl.col("status_new") != "error")
    body_changed = (
        pl.col("policy_sha256").is_not_null()
        & pl.col("policy_sha256_new").is_not_null()
        & (pl.col("policy_sha256") != pl.col("policy_sha256_new"))
    )
    rules = {
        "adopted": both_measured & ~old_in & new_in,
        "dropped": both_measured & old_in & ~new_in,
        "mode_changed": old_in & new_in & (pl.col("mode") != pl.col("mode_new")),
        "policy_changed": body_changed,
        "id_not_bumped": body_changed & pl.col("sts_id").is_not_null()
        & (pl.col("sts_id") == pl.col("sts_id_new")),
        "enforce_without_testing": (pl.col("status_new") == "enforce")
        & (pl.col("status").is_null() | ((pl.col("status") != "error") & ~old_in)),
        "appeared": pl.col("status").is_null(),
        "disappeared": pl.col("status_new").is_null(),
    }
    frames = [
        joined.filter(rule.fill_null(False)).select(
            "domain",
            pl.coalesce("rank_new", "rank").alias("rank"),
            pl.lit(change).alias("change"),
            pl.col("status").alias("old_status"),
            pl.col("status_new").alias("new_status"),
            pl.col("mode").alias("old_mode"),
            pl.col("mode_new").alias("new_mode"),
            pl.col("sts_id").alias("old_id"),
            pl.col("sts_id_new").alias("new_id"),
            pl.col("policy_sha256").alias("old_sha256"),
            pl.col("policy_sha256_new").alias("new_sha256"),
        )
        for change, rule in rules.items()
    ]
    return pl.concat(frames).sort(["change", "rank", "domain"], nulls_last=True)


def summarise(changes: pl.DataFrame) -> pl.DataFrame:
    counts = changes.group_by("change").agg(pl.len().alias("domains"))
    order = pl.DataFrame({"change": list(CHANGES), "order": list(range(len(CHANGES)))})
    return (
        order.join(counts, on="change", how="left")
        .with_columns(pl.col("domains").fill_null(0))
        .sort("order")
        .drop("order")
    )


def diff(old: str | Path, new: str | Path) -> DiffResult:
    changes = compare(_side(old), _side(new))
    return DiffResult(changes, summarise(changes))


def series_first_modes(snapshots: Sequence[str | Path]) -> pl.DataFrame:
    """Across a dated series: each domain's first mode in effect and whether testing ever came.

    ``enforce_without_testing`` over a whole series is a domain whose first status in effect is
    enforce and which was never seen in testing.
    """
    frames = [
        stats.load(s).select("domain", "status").with_columns(pl.lit(i).alias("snapshot"))
        for i, s in enumerate(snapshots)
    ]
    data = pl.concat(frames).filter(pl.col("status").is_in(stats.ADOPTED)).collect()
    return (
        data.sort("snapshot")
        .group_by("domain")
        .agg(
            pl.col("status").first().alias("first_status"),
            pl.col("snapshot").first().alias("first_snapshot"),
            (pl.col("status") == "testing").any().alias("ever_testing"),
        )
        .with_columns(
            ((pl.col("first_status") == "enforce") & ~pl.col("ever_testing"))
            .alias("enforce_without_testing")
        )
        .sort("domain")
    )


def snapshot_label(path: str | Path) -> str:
    """A snapshot's date label: its manifest's run date (``survey.publish.run_date``), else the
    directory name."""
    manifest = Path(path) / "manifest.json"
    data: object = None
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            data = None
    label = run_date(data) if isinstance(data, dict) else None
    return label or Path(path).name


def adoption_over_time(snapshots: Sequence[str | Path]) -> pl.DataFrame:
    """Domains per status in each snapshot of a series, with the adopted share of measured."""
    frames = []
    for path in snapshots:
        counts = stats.status_counts(stats.load(path))
        frames.append(counts.with_columns(pl.lit(snapshot_label(path)).alias("snapshot")))
    data = pl.concat(frames)
    wide = data.pivot(on="status", index="snapshot", values="domains", aggregate_function="sum")
    measured = pl.sum_horizontal(*(pl.col(s) for s in stats.STATUSES if s != "error"))
    adopted = pl.sum_horizontal(*(pl.col(s) for s in stats.ADOPTED))
    return wide.with_columns((adopted / measured).alias("adopted_share")).select(
        "snapshot", *stats.STATUSES, "adopted_share"
    )


def transitions(snapshots: Sequence[str | Path]) -> pl.DataFrame:
    """Changes between consecutive snapshots of a series: (from, to, change, domains)."""
    frames = []
    for old, new in itertools.pairwise(snapshots):
        summary = diff(old, new).summary
        frames.append(summary.with_columns(
            pl.lit(snapshot_label(old)).alias("from"), pl.lit(snapshot_label(new)).alias("to")))
    if not frames:
        return pl.DataFrame(schema={"from": pl.String, "to": pl.String, "change": pl.String,
                                    "domains": pl.Int64})
    return pl.concat(frames).select("from", "to", "change", pl.col("domains").cast(pl.Int64))


def mode_transitions(old: str | Path, new: str | Path) -> pl.DataFrame:
    """Status transition matrix between two snapshots: (old_status, new_status, domains)."""
    a = stats.load(old).select("domain", pl.col("status").alias("old_status"))
    b = stats.load(new).select("domain", pl.col("status").alias("new_status"))
    return (
        a.join(b, on="domain", how="inner")
        .group_by("old_status", "new_status")
        .agg(pl.len().alias("domains"))
        .sort("old_status", "new_status")
        .collect()
    )
