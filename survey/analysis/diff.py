"""Compare two snapshots (or runs): who adopted, dropped, changed mode or policy.

It also finds the longitudinal mistakes one snapshot cannot show (``id_not_bumped``,
``enforce_without_testing``). Pure polars over two datasets; joins on the domain.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from survey.analysis import stats
from survey.analysis.publish import run_date, snapshot_name, toplist_name
from survey.dataset.manifest import read_manifest

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


def _manifest(path: str | Path) -> dict[str, Any] | None:
    """A snapshot's manifest, None when it has none or it is unreadable (labels fall back)."""
    try:
        return read_manifest(Path(path))
    except ValueError:
        return None


def snapshot_label(path: str | Path) -> str:
    """A snapshot's date label: its manifest's run date (``analysis.publish.run_date``), else the
    directory name."""
    manifest = _manifest(path)
    label = run_date(manifest) if manifest is not None else None
    return label or Path(path).name


def series_label(path: str | Path) -> str:
    """A snapshot's label in a series: its name (``<run date>-<toplist>-<run>``, what `publish`
    names it), as snapshots of several toplists or runs can share a date; the directory name
    without a manifest."""
    manifest = _manifest(path)
    if manifest is None:
        return Path(path).name
    return str(manifest.get("snapshot") or snapshot_name(manifest))


def latest_toplist_series(snapshots: Sequence[str | Path]) -> tuple[str | None, list[Path]]:
    """The snapshots of one toplist: the one surveyed last (by run date, then position), so
    that a directory holding several toplists' snapshots still gives one series."""
    paths = [Path(p) for p in snapshots]
    if not paths:
        return None, []
    manifests = [_manifest(p) for p in paths]
    toplists = [toplist_name(m) if m is not None else None for m in manifests]
    latest = max(range(len(paths)), key=lambda i: (snapshot_label(paths[i]), i))
    return toplists[latest], [p for p, t in zip(paths, toplists, strict=True)
                              if t == toplists[latest]]


def adoption_over_time(snapshots: Sequence[str | Path]) -> pl.DataFrame:
    """Domains per status in each snapshot of a series, with the adopted share of measured.

    Raises ValueError when two snapshots share a label (``series_label``, e.g. one snapshot
    given twice): their counts would otherwise be added up as if they were one survey.
    """
    labels = [series_label(p) for p in snapshots]
    repeated = sorted(label for label, n in Counter(labels).items() if n > 1)
    if repeated:
        raise ValueError(f"several snapshots labelled {', '.join(repeated)}: a series needs "
                         "distinct snapshots (see series_label)")
    frames = []
    for path, label in zip(snapshots, labels, strict=True):
        counts = stats.status_counts(stats.load(path))
        frames.append(counts.with_columns(pl.lit(label).alias("snapshot")))
    data = pl.concat(frames)
    wide = data.pivot(on="status", index="snapshot", values="domains")
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
