"""A self-contained HTML report of one dataset, and the headline table for the terminal.

One file with inline SVG figures and plain tables: it opens anywhere, offline, and can be mailed
to an operator or attached to a CERT advisory. Every number comes from ``survey.analysis.stats``.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from survey import __version__
from survey.analysis import charts, stats
from survey.analysis.publish import SUMS
from survey.core.mistakes import MISTAKES
from survey.dataset.manifest import read_manifest as read_run_manifest


@dataclass(frozen=True, slots=True)
class ReportSection:
    title: str
    intro: str
    table: pl.DataFrame | None = None
    figure_svg: str | None = None
    sentences: tuple[str, ...] = ()  # the headline: one sentence per status


#: What each status means for mail, completing "N domains (share) ..." in the headline.
STATUS_SENTENCES: dict[str, str] = {
    "enforce": "enforce MTA-STS: compliant senders deliver to them only over authenticated TLS",
    "testing": "test MTA-STS: senders report TLS failures but still deliver",
    "none": "publish a policy in mode none, which switches MTA-STS off",
    "invalid": "publish MTA-STS records that senders cannot use (invalid)",
    "absent": "publish no MTA-STS policy at all",
    "error": "could not be measured (DNS failures on our side); they are counted apart, "
             "never as absent",
}


def share_text(value: float | None) -> str:
    """A share as a percentage with three significant digits (0.01265 -> 1.26%, 0.5 -> 50%,
    0.000123 -> 0.0123%): readable at a glance, yet small shares keep their digits."""
    if value is None or value != value:
        return ""
    if value == 0:
        return "0%"
    return f"{value * 100:.3g}%"


def _is_share(column: str) -> bool:
    return "share" in column or column.endswith(("_ci_low", "_ci_high"))


def _cell(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if _is_share(column):
            return share_text(value)
        return "" if value != value else f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool) and column != "rank":
        return f"{value:,}"
    if isinstance(value, list):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape(str(value))


def with_intervals(df: pl.DataFrame) -> pl.DataFrame:
    """Fewer, readable columns: ``X_share`` with ``X_ci_low``/``X_ci_high`` becomes one text
    column ``X_share (95% CI)`` such as ``1.26% (0.91-1.74%)``."""
    for prefix in [c.removesuffix("_ci_low") for c in df.columns if c.endswith("_ci_low")]:
        share, low, high = f"{prefix}_share", f"{prefix}_ci_low", f"{prefix}_ci_high"
        if share not in df.columns or high not in df.columns:
            continue
        text = [f"{share_text(v)} ({share_text(lo).removesuffix('%')}-{share_text(hi)})"
                if v is not None else "" for v, lo, hi in df.select(share, low, high).iter_rows()]
        df = df.with_columns(pl.Series(f"{share} (95% CI)", text)).drop(share, low, high)
    return df


def table_html(df: pl.DataFrame, max_rows: int = 50) -> str:
    """A table in a horizontally scrolling container, so a wide one never widens the page."""
    df = with_intervals(df)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    numeric = [dtype.is_numeric() for dtype in df.dtypes]
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if n else ''}>{_cell(v, c)}</td>"
                         for v, c, n in zip(row, df.columns, numeric, strict=True)) + "</tr>"
        for row in df.head(max_rows).iter_rows()
    )
    more = f"<p class=more>{df.height - max_rows} more rows</p>" if df.height > max_rows else ""
    return (f"<div class=table-wrap><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table></div>{more}")


def headline_sentences(status: pl.DataFrame) -> tuple[str, ...]:
    """One sentence per status, over every scanned domain, largest first."""
    total = int(status["domains"].sum())
    rows = sorted(status.select("status", "domains", "share").iter_rows(),
                  key=lambda r: -int(r[1]))
    return tuple(
        f"{domains:,} of {total:,} domains ({share_text(share) or '0%'}) "
        f"{STATUS_SENTENCES[name]}." for name, domains, share in rows)


def headline(lf: pl.LazyFrame) -> pl.DataFrame:
    """Domains per status with shares: the table printed at the end of a report."""
    return stats.status_counts(lf)


def format_headline(df: pl.DataFrame) -> str:
    lines = [f"{'status':<10} {'domains':>10} {'share':>9}"]
    for status, domains, share in df.select("status", "domains", "share").iter_rows():
        pct = f"{share:.3%}" if share is not None else "-"
        lines.append(f"{status:<10} {domains:>10,} {pct:>9}")
    lines.append(f"{'total':<10} {int(df['domains'].sum()):>10,}")
    return "\n".join(lines)


def read_manifest(dataset: Path) -> dict[str, Any]:
    """The dataset's manifest ({} without one; an unreadable one raises ValueError)."""
    return read_run_manifest(dataset) or {}


def build_sections(lf: pl.LazyFrame) -> list[ReportSection]:
    funnel = stats.funnel(lf)
    status = stats.status_counts(lf)
    by_rank = stats.adoption_by_rank(lf)
    tlsrpt = stats.tlsrpt_by_status(lf)
    freq = stats.mistake_frequency(lf)
    mx_prov = stats.mx_providers(lf)
    hosting = stats.policy_hosting(lf)
    expiry = stats.certificate_expiry(lf)
    explained = freq.with_columns(
        pl.col("code").replace_strict(
            {c: m.explanation for c, m in MISTAKES.items()}, default="").alias("meaning")
    )
    return [
        ReportSection("Headline", "What a compliant sending mail server would do for the "
                      "domains of this survey.", sentences=headline_sentences(status)),
        ReportSection("Domains by status", "What a compliant sending MTA would do for each "
                      "domain; errors are our measurement failures, counted apart.", status,
                      charts.to_svg(charts.status_chart(status))),
        ReportSection("Adoption funnel", "Each step as a count and a share of measured domains.",
                      funnel, charts.to_svg(charts.funnel_chart(funnel))),
        ReportSection("Adoption by rank", "Share of measured domains with a policy in effect, "
                      "with Wilson 95% confidence intervals.", by_rank,
                      charts.to_svg(charts.rank_chart(by_rank))),
        ReportSection("TLS-RPT", "TLS reporting (RFC 8460) by MTA-STS status.",
                      tlsrpt, charts.to_svg(charts.tlsrpt_chart(tlsrpt))),
        ReportSection("Mistakes", "Domains affected by each mistake code.", explained,
                      charts.to_svg(charts.mistakes_chart(freq)) if freq.height else None),
        ReportSection("Worst offenders", "Highest-ranked domains with mistakes that lose mail "
                      "or void the policy.", stats.worst_offenders(lf)),
        ReportSection("MX consistency", "Enforce policies that would block one of the domain's "
                      "own MX hosts.", stats.mx_consistency(lf)),
        ReportSection("MX providers", "Most preferred MX host's suffix.", mx_prov,
                      charts.to_svg(charts.providers_chart(mx_prov, "mx_provider",
                                                           "MX providers")) if mx_prov.height
                      else None),
        ReportSection("Policy hosting", "Who serves the policies (CNAME target, else the "
                      "certificate issuer).", hosting),
        ReportSection("Policy host certificates", "Time from the scan to expiry.", expiry,
                      charts.to_svg(charts.expiry_chart(expiry))),
        ReportSection("HTTPS outcomes", "Policy fetches of publishing domains.",
                      stats.https_errors(lf)),
        *dane_sections(lf),
        *_sender_sections(lf),
    ]


def dane_sections(lf: pl.LazyFrame) -> list[ReportSection]:
    """DANE beside MTA-STS (issue 16); none for a dataset scanned before its columns."""
    if not stats.has_dane_columns(lf):
        return []
    caveat = (" Meaningful only for a scan through a validating resolver (the manifest's "
              "resolver_validates).")
    return [
        ReportSection("MTA-STS, DANE, both or neither", "Per rank bucket: MTA-STS at testing "
                      "or enforce, DANE with secure TLSA records a DANE sender uses; shares of "
                      "measured domains with Wilson 95% intervals." + caveat,
                      stats.mechanisms_by_rank(lf)),
        ReportSection("Co-deployment matrix", "MTA-STS status x DANE verdict, all domains "
                      "(per bucket in the published aggregates).",
                      stats.codeployment(lf).filter(pl.col("bucket") == "all")),
        ReportSection("DNSSEC-signed MX", "Share of domains with MX hosts whose MX answer is "
                      "DNSSEC-secure." + caveat, stats.dnssec_signed_mx(lf)),
        ReportSection("What a sender with both does", "Mechanism and protection a sender "
                      "implementing MTA-STS and DANE applies (RFC 8461 §2, RFC 7672).",
                      stats.protection_by_mechanism(lf)),
    ]


def _sender_sections(lf: pl.LazyFrame) -> list[ReportSection]:
    """Issue 15: the RFC's verdict beside what deployed senders do (survey.core.senders); none
    for a dataset scanned before the column existed."""
    if not stats.has_sender_columns(lf):
        return []
    return [
        ReportSection("In effect by the RFC, and for k of n senders",
                      "Domains publishing MTA-STS by how many sender profiles apply their "
                      "policy; in_effect_by_rfc counts those the RFC's letter applies.",
                      stats.senders_in_effect(lf)),
        ReportSection("Per sender", "Domains on which each sender profile applies a policy "
                      "(rfc8461 is the status above; unknown: a construct whose handling by that "
                      "sender is not established).", stats.sender_adoption(lf)),
        ReportSection("Where senders disagree", "Who applies (in which mode) and who ignores, "
                      "by class, with the domain count.", stats.disagreement_classes(lf)),
    ]


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
.table-wrap{max-width:100%;overflow-x:auto;margin:1em 0}
table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
td{max-width:32em;overflow-wrap:anywhere} td.num{text-align:right;white-space:nowrap}
th{background:#f3f3f3} .figure{margin:1em 0;max-width:100%;overflow-x:auto}
.figure svg{max-width:100%;height:auto} .meta{color:#555;font-size:.9em;overflow-wrap:anywhere}
ul.headline li{margin:.3em 0}
"""


def render_html(sections: list[ReportSection], manifest: dict[str, Any], dataset: Path) -> str:
    meta = {
        "dataset": str(dataset),
        "toplist": manifest.get("toplist", {}).get("name") if isinstance(
            manifest.get("toplist"), dict) else manifest.get("toplist"),
        "run": manifest.get("run_id"),
        "started": manifest.get("started_at"),
        "finished": manifest.get("finished_at"),
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tool": f"mta-sts-survey {__version__}",
    }
    meta_html = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in meta.items() if v
    )
    parts = [
        "<!doctype html><html><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width, initial-scale=1'>",
        "<title>MTA-STS and TLS-RPT adoption report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>MTA-STS and TLS-RPT adoption report</h1>",
        f"<ul class=meta>{meta_html}</ul>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2><p>{html.escape(section.intro)}</p>")
        if section.sentences:
            items = "".join(f"<li>{html.escape(s)}</li>" for s in section.sentences)
            parts.append(f"<ul class=headline>{items}</ul>")
        if section.figure_svg:
            parts.append(f"<div class=figure>{section.figure_svg}</div>")
        if section.table is not None:
            parts.append(table_html(section.table) if section.table.height else "<p>none</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def default_output(dataset: Path) -> Path | None:
    """None (the report's own default, inside DATASET) unless DATASET is a published snapshot,
    which stays exactly as SHA256SUMS lists it: then beside it."""
    if (dataset / SUMS).is_file():
        return dataset.resolve().parent / f"{dataset.resolve().name}-report.html"
    return None


def write_report(dataset: str | Path, out: str | Path | None = None) -> tuple[Path, str]:
    """Write the HTML report; returns its path and the headline table as text.

    By default into the dataset, except a published snapshot: its files are fixed by
    ``SHA256SUMS``, so the report goes beside it (``default_output``).
    """
    root = Path(dataset)
    lf = stats.load(root)
    target = Path(out) if out is not None else default_output(root) or root / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(build_sections(lf), read_manifest(root), root)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target, format_headline(headline(lf))
