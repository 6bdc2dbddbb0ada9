"""Figures for notebooks and the HTML report, built from ``survey.analysis.stats`` tables.

Altair (Vega-Lite) because it takes polars frames directly, produces publication-quality
declarative charts, and renders to static SVG/PNG through ``vl-convert`` with no browser, so the
report and CI need nothing beyond PyPI. Charts take the stats frames; they compute no numbers.
"""

from __future__ import annotations

from typing import Any, cast

import altair as alt
import polars as pl
import vl_convert as vlc

WIDTH = 520

STATUS_COLOURS = {
    "enforce": "#1a9850", "testing": "#91cf60", "none": "#d9ef8b",
    "invalid": "#fc8d59", "absent": "#bdbdbd", "error": "#7b3294",
}


def _sized(chart: Any) -> Any:
    return chart.properties(width=WIDTH)


def _status_scale() -> alt.Scale:
    return alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))


def funnel_chart(funnel: pl.DataFrame) -> alt.Chart:
    data = funnel.filter(~pl.col("step").is_in(["scanned", "measurement_error"]))
    return cast(alt.Chart, _sized(
        alt.Chart(data, title="Adoption funnel (measured domains)")
        .mark_bar()
        .encode(
            y=alt.Y("step:N", sort=None, title=None),
            x=alt.X("count:Q", title="domains", scale=alt.Scale(type="symlog")),
            tooltip=["step", "count", alt.Tooltip("share:Q", format=".3%")],
        )
    ))


def status_chart(status_counts: pl.DataFrame) -> alt.Chart:
    return cast(alt.Chart, _sized(
        alt.Chart(status_counts, title="Domains by status")
        .mark_bar()
        .encode(
            x=alt.X("status:N", sort=list(STATUS_COLOURS), title=None),
            y=alt.Y("domains:Q", scale=alt.Scale(type="symlog")),
            color=alt.Color("status:N", scale=_status_scale(), legend=None),
            tooltip=["status", "domains", alt.Tooltip("share:Q", format=".3%")],
        )
    ))


def rank_chart(by_rank: pl.DataFrame) -> alt.LayerChart:
    data = by_rank.filter(pl.col("measured") > 0)
    base = alt.Chart(data, title="Adoption by rank bucket (Wilson 95% CI)").encode(
        x=alt.X("bucket:N", sort=None, title="rank bucket")
    )
    points = base.mark_point(filled=True, size=60).encode(
        y=alt.Y("adopted_share:Q", axis=alt.Axis(format="%"), title="share with a policy"),
        tooltip=["bucket", "measured", "adopted", alt.Tooltip("adopted_share:Q", format=".3%")],
    )
    bars = base.mark_rule().encode(y="adopted_ci_low:Q", y2="adopted_ci_high:Q")
    return cast(alt.LayerChart, _sized(bars + points))


def tlsrpt_chart(by_status: pl.DataFrame) -> alt.Chart:
    data = by_status.filter(pl.col("domains") > 0)
    return cast(alt.Chart, _sized(
        alt.Chart(data, title="TLS-RPT by MTA-STS status")
        .mark_bar()
        .encode(
            x=alt.X("status:N", sort=list(STATUS_COLOURS), title=None),
            y=alt.Y("tlsrpt_share:Q", axis=alt.Axis(format="%"), title="share with TLS-RPT"),
            color=alt.Color("status:N", scale=_status_scale(), legend=None),
            tooltip=["status", "domains", "with_tlsrpt"],
        )
    ))


def mistakes_chart(frequency: pl.DataFrame) -> alt.Chart:
    return cast(alt.Chart, _sized(
        alt.Chart(frequency, title="Mistakes (domains affected)")
        .mark_bar()
        .encode(
            y=alt.Y("code:N", sort="-x", title=None),
            x=alt.X("domains:Q"),
            color=alt.Color("severity:N", scale=alt.Scale(domain=["error", "warning"],
                                                           range=["#d73027", "#fdae61"])),
            tooltip=["code", "severity", "domains"],
        )
    ))


def providers_chart(providers: pl.DataFrame, key: str, title: str) -> alt.Chart:
    return cast(alt.Chart, _sized(
        alt.Chart(providers.head(15), title=title)
        .mark_bar()
        .encode(
            y=alt.Y(f"{key}:N", sort="-x", title=None),
            x=alt.X("domains:Q"),
            tooltip=[key, "domains", "adopted", "enforce", "mistakes"],
        )
    ))


def expiry_chart(expiry: pl.DataFrame) -> alt.Chart:
    return cast(alt.Chart, _sized(
        alt.Chart(expiry, title="Policy host certificates: time to expiry")
        .mark_bar()
        .encode(x=alt.X("expiry:N", sort=None, title=None), y="hosts:Q",
                tooltip=["expiry", "hosts"])
    ))


def to_svg(chart: Any) -> str:
    """Static SVG (no JavaScript), for self-contained HTML."""
    svg: str = vlc.vegalite_to_svg(chart.to_json())
    return svg


def to_png(chart: Any, scale: float = 2.0) -> bytes:
    png: bytes = vlc.vegalite_to_png(chart.to_json(), scale=scale)
    return png
