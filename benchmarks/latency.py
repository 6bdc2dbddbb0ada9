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
scan's manifest says of the resolver (timeout and SERVFAIL rates). A lossy row then runs
``scan --retry-errors`` on its output through the same impaired path and adds
``errors_after_retry`` (the error rows left), with ``error_rows_within_budget``: whether the
error rows stay below the 99.9 % Poisson bound of the prediction, and
``predicted_error_rows_at_measured_timeouts``: the budget at the share of attempts that timed
out (drops plus answers a starved scanner read too late).
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import time
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

ScanRow = Callable[..., Any]  # contenders.scan_row with the rate and extra options


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


def poisson_bound(mean: float, confidence: float = 0.999) -> int:
    """The smallest k with P(X <= k) >= ``confidence`` for X ~ Poisson(``mean``): the most error
    rows a correct retry budget shows, but for one run in a thousand."""
    k, term = 0, math.exp(-mean)
    total = term
    while total < confidence:
        k += 1
        term *= mean / k
        total += term
    return k


def retry_errors(out: Path, timeout: float = 1800) -> dict[str, Any]:
    """``scan --retry-errors OUT`` (its toplist, resolver and options come from the manifest:
    the same impaired path, still running): the error rows left and what the retry cost."""
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("mta-sts-survey")), "scan",
                           "--retry-errors", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=timeout, check=False)
    wall = round(time.perf_counter() - started, 2)
    if done.returncode:
        return {"retry_errors_failed": (done.stderr or done.stdout)[-400:]}
    after = manifest_figures(out)["error_rows"]
    return {"errors_after_retry": after, "retry_errors_wall_s": wall}


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
                    if impairment.loss:
                        result.extra.update(retry_errors(work / f"{name}-0"))
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
        predicted = predicted_error_rows(r.domains, Impairment(0, loss), per_domain)
        r.extra["predicted_error_rows"] = predicted
        if "error_rows" in r.extra:
            r.extra["error_rows_within_budget"] = r.extra["error_rows"] <= poisson_bound(
                predicted)
        # the same budget at the share of attempts that did time out: on a starved scanner
        # answers read late time out too (the 0 ms row shows how many), not only the drops
        timed_out = r.extra.get("manifest_dns", {}).get("timeout_share")
        if timed_out is not None:
            r.extra["predicted_error_rows_at_measured_timeouts"] = predicted_error_rows(
                r.domains, Impairment(0, float(timed_out)), per_domain)
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
