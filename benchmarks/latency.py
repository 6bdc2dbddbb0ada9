"""The scan rows through dnsdist: the same world and scan as the loopback ``scan`` row, with
the path's latency and loss of the internet (``benchmarks.dnsdist``).

Rows (``make bench``'s ``latency`` contender):

- ``path-0ms``: through dnsdist with nothing added, the rate cap lifted: the reference of the
  same path (dnsdist's own cost included);
- ``path-50ms-2pct``, ``path-200ms-5pct``: 50 ms / 2 % and 200 ms / 5 %, rate cap lifted; the
  target is ``path-50ms-2pct`` >= 90 % of ``path-0ms`` in domains/s at the default concurrency;
- ``path-200ms-5pct-rate1000``: the default rate (1,000 queries/s), on the first
  ``RATE_ROW_DOMAINS`` domains: the defaults must sustain the rate (queries/s >= 95 % of it).

Each row adds its error rows, its retries (queries beyond those of ``path-0ms`` for the same
domains: that row loses none), what the retry budget predicts for the error rows (a query is
lost on every one of its 1 + retries attempts with probability loss^(1+retries)), and what the
scan's manifest says of the resolver (timeout and SERVFAIL rates).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.dnsdist import DNSDIST_ADDRESS, Impairment, serve
from benchmarks.procstat import tree_cpu_seconds

#: The impaired paths, rate cap lifted.
IMPAIRMENTS = (Impairment(0, 0.0), Impairment(50, 0.02), Impairment(200, 0.05))
#: The default-rate row's path and rate (queries/s: the scan's ``--rate`` default).
DEFAULT_RATE_PATH = Impairment(200, 0.05)
DEFAULT_RATE = 1000
#: Domains of the default-rate row (at 1,000 queries/s a larger list only takes longer).
RATE_ROW_DOMAINS = 20_000
#: DNS attempts per query at the scan's defaults (``--retries 2``).
ATTEMPTS = 3

ScanRow = Callable[..., Any]  # run.scan_row with the rate and extra options


def label(impairment: Impairment, rate: int | None = None) -> str:
    return f"path-{impairment.label}" + (f"-rate{rate}" if rate else "")


def manifest_figures(out: Path) -> dict[str, Any]:
    """Error rows and the resolver's figures from a finished scan's manifest."""
    manifest = json.loads((out / "manifest.json").read_text())
    session = manifest["sessions"][-1]
    figures: dict[str, Any] = {"error_rows": int(manifest.get("counts", {}).get("error", 0))}
    for key in ("resolver", "dns"):
        if key in session:
            figures[f"manifest_{key}"] = session[key]
    return figures


def predicted_error_rows(domains: int, impairment: Impairment, queries_per_domain: float
                         ) -> float:
    """Error rows the retry budget allows: each query fails when all its attempts are lost."""
    return round(domains * queries_per_domain * impairment.loss ** ATTEMPTS, 2)


@contextlib.contextmanager
def path(work: Path, port: int, backend: tuple[str, int], impairment: Impairment,
         probe_name: str) -> Iterator[tuple[str, Callable[[], float]]]:
    """dnsdist's address for ``--resolver`` and a reading of its CPU seconds so far."""
    with serve(work / "dnsdist", (DNSDIST_ADDRESS, port), backend, impairment,
               probe_name) as proc:
        yield f"{DNSDIST_ADDRESS}:{port}", lambda: tree_cpu_seconds(proc.pid)


def measures(scan_row: ScanRow, work: Path, port: int, backend: tuple[str, int],
             probe_name: str, domains: int) -> list[tuple[str, Callable[[], Any]]]:
    """(label, measure) per latency row; each measure starts its dnsdist and runs one scan."""
    def row(impairment: Impairment, rate: int | None) -> Callable[[], Any]:
        def measure() -> Any:
            name = label(impairment, rate)
            with path(work, port, backend, impairment, probe_name) as (resolver, cpu):
                extra = ["--limit", str(min(domains, RATE_ROW_DOMAINS))] if rate else []
                before = cpu()
                result = scan_row(name, resolver=resolver, rate=str(rate) if rate else None,
                                  extra=extra)
                result.extra["dnsdist_cpu_s"] = round(cpu() - before, 2)
            if result.error is None:
                result.extra.update(manifest_figures(work / f"{name}-0"),
                                    delay_ms=impairment.delay_ms, loss=impairment.loss,
                                    rate_cap=rate)
            return result
        return measure

    out = [(label(i), row(i, None)) for i in IMPAIRMENTS]
    out.append((label(DEFAULT_RATE_PATH, DEFAULT_RATE), row(DEFAULT_RATE_PATH, DEFAULT_RATE)))
    return out


def annotate(rows: Sequence[Any]) -> dict[str, Any]:
    """Retries and predicted error rows per latency row, and the two targets' figures."""
    by = {r.label: r for r in rows if r.error is None}
    base = by.get(label(IMPAIRMENTS[0]))
    if base is None or not base.domains:
        return {}
    per_domain = base.queries / base.domains
    for r in by.values():
        if not r.label.startswith("path-"):
            continue
        loss = float(r.extra.get("loss", 0.0))
        r.extra["retries"] = max(0, round(r.queries - per_domain * r.domains))
        r.extra["predicted_error_rows"] = predicted_error_rows(
            r.domains, Impairment(0, loss), per_domain)
    summary: dict[str, Any] = {"queries_per_domain_0ms": round(per_domain, 3)}
    lossy = by.get(label(IMPAIRMENTS[1]))
    if lossy is not None and base.domains_per_s:
        share = lossy.domains_per_s / base.domains_per_s
        summary["50ms-2pct/0ms"] = round(share, 3)
        summary["50ms-2pct_target_met"] = share >= 0.9
    rated = by.get(label(DEFAULT_RATE_PATH, DEFAULT_RATE))
    if rated is not None:
        summary["200ms-5pct_rate1000_queries_per_s"] = round(rated.queries_per_s)
        summary["200ms-5pct_rate1000_target_met"] = rated.queries_per_s >= 0.95 * DEFAULT_RATE
    return summary
