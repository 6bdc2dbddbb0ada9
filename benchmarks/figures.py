"""The results: from the rows, the issue's ratios, the all-cores scaling, medians of repeated
runs, the printed table and the results JSON (``latest.json`` only from a full run). Named
``figures``, not ``results``: ``benchmarks/results/`` is the directory the JSON goes to."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.contenders import CONTENDERS
from benchmarks.measurement import ROOT, Row


def ratios(rows: Sequence[Row]) -> dict[str, float | None]:
    """The issue's ratios: scan vs. naive and scan vs. dnsperf (queries/s), N-process scaling
    by wall clock and by queries per CPU second."""
    by = {r.label: r for r in rows if r.error is None}

    def ratio(a: str, b: str, n: int = 1, per_cpu: bool = False) -> float | None:
        if a not in by or b not in by:
            return None
        top, bottom = ((by[a].queries_per_cpu_s, by[b].queries_per_cpu_s) if per_cpu
                       else (by[a].queries_per_s, by[b].queries_per_s))
        return round(top / (n * bottom), 3) if bottom else None

    out = {"scan/naive": ratio("scan", "naive"), "scan/dnsperf": ratio("scan", "dnsperf"),
           "dnsclient/naive": ratio("dnsclient", "naive")}
    for r in by.values():
        if r.label.startswith(("scan-x", "scan-w")):
            out[f"{r.label}/(N*scan)"] = ratio(r.label, "scan", r.processes)
            out[f"{r.label}/scan per CPU s"] = ratio(r.label, "scan", per_cpu=True)
    return out


def scaling(rows: Sequence[Row], cores: int) -> dict[str, Any]:
    """What judging "all cores: >= 80 % of N x one process while the DNS server keeps up" needs.

    The efficiency by wall clock is the target's figure. The one by CPU says whether each
    process did as much per CPU second as the single one (then only the cores were missing),
    and the cores the scanner and the DNS server kept busy say whether the machine was full:
    with ``cores`` cores shared by N scanner processes, the server and other work (the cores
    the rest of the machine used meanwhile), N x is out of reach once they add up to ``cores``.
    """
    by = {r.label: r for r in rows if r.error is None}
    single = by.get("scan")
    multi = next((r for r in by.values() if r.label.startswith(("scan-x", "scan-w"))), None)
    if single is None or multi is None or not single.queries_per_s:
        return {}
    n = multi.processes

    def busy(r: Row) -> float:
        return round((r.cpu_s + float(r.extra.get("server_cpu_s", 0.0))) / r.wall_s, 2)

    return {
        "processes": n, "machine_cores": cores,
        "single_queries_per_s": round(single.queries_per_s),
        "all_queries_per_s": round(multi.queries_per_s),
        "per_process_queries_per_s": round(multi.queries_per_s / n),
        "efficiency": round(multi.queries_per_s / (n * single.queries_per_s), 3),
        "efficiency_per_cpu_s": round(multi.queries_per_cpu_s / single.queries_per_cpu_s, 3),
        "scanner_cores": {"single": single.extra.get("client_cores"),
                          "all": multi.extra.get("client_cores")},
        "dns_server_cores": {"single": single.extra.get("server_cores"),
                             "all": multi.extra.get("server_cores")},
        "cores_busy": {"single": busy(single), "all": busy(multi)},
        "other_work_cores": {"single": single.extra.get("other_cores"),
                             "all": multi.extra.get("other_cores")},
        "worker_processes": multi.extra.get("worker_processes"),
        "coordinator_cpu_s": multi.extra.get("coordinator_cpu_s"),
        "target_met": multi.queries_per_s >= 0.8 * n * single.queries_per_s,
    }


def median_rows(runs: Sequence[Row]) -> list[Row]:
    """One row per label, in first-run order: a repeated label's run of median wall time (the
    lower one of an even count), its runs' wall times and queries/s kept in ``extra``.

    Why: on 2 shared cores one scan row varies by +-5 % from run to run; a ratio of two single
    runs varies twice that, so the scaling figure compares medians of alternating runs.
    """
    by: dict[str, list[Row]] = {}
    for run in runs:
        by.setdefault(run.label, []).append(run)
    rows: list[Row] = []
    for group in by.values():
        ok = sorted((r for r in group if r.error is None), key=lambda r: r.wall_s)
        row = ok[(len(ok) - 1) // 2] if ok else group[0]
        if len(group) > 1:
            row.extra.update(runs=len(group),
                             runs_wall_s=[round(r.wall_s, 2) for r in group],
                             runs_queries_per_s=[round(r.queries_per_s) for r in group])
        rows.append(row)
    return rows


def paired_efficiency(runs: Sequence[Row]) -> dict[str, Any]:
    """All-cores / (N x one process) for each pair of runs made one after the other."""
    singles = [r for r in runs if r.label == "scan" and r.error is None]
    multis = [r for r in runs if r.label.startswith(("scan-x", "scan-w")) and r.error is None]
    pairs = [round(m.queries_per_s / (m.processes * s.queries_per_s), 3)
             for s, m in zip(singles, multis, strict=False) if s.queries_per_s]
    return {"efficiency_per_pair": pairs} if len(pairs) > 1 else {}


def table(rows: Sequence[Row], extra: dict[str, float | None]) -> str:
    head = (f"{'contender':<26}{'procs':>6}{'domains':>10}{'queries':>11}{'wall s':>9}"
            f"{'domains/s':>11}{'queries/s':>11}{'q/CPU s':>9}{'CPU s/1k':>10}{'RSS MB':>9}"
            f"{'srv CPU':>9}{'load':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"{r.label:<26}{r.processes:>6}  FAILED: "
                         f"{r.error.strip().splitlines()[-1][:70] if r.error.strip() else '?'}")
            continue
        lines.append(f"{r.label:<26}{r.processes:>6}{r.domains:>10,}{r.queries:>11,}"
                     f"{r.wall_s:>9.2f}{r.domains_per_s:>11,.0f}{r.queries_per_s:>11,.0f}"
                     f"{r.queries_per_cpu_s:>9,.0f}{r.cpu_per_1000:>10.3f}{r.max_rss_mb:>9.1f}"
                     f"{r.extra.get('server_cpu_s', 0):>9.2f}"
                     f"{r.extra.get('loadavg_1min_before', 0):>6.1f}")
    lines.append("")
    lines += [f"{k}: {'n/a' if v is None else f'{v:.2f}'}" for k, v in extra.items()]
    return "\n".join(lines)


def git_sha() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


def write_results(results: dict[str, Any], directory: Path) -> Path:
    """``<date>-<sha>[-<size>-<subset>].json`` in ``directory``; returns its path.

    Only a full run (every default contender, the default size) also becomes ``latest.json``,
    the figures the README quotes; partial and other-size runs keep their own names.
    """
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    full = set(CONTENDERS) <= set(results["contenders"]) and results["domains"] == 200_000
    name = f"{results['date']}-{results['git_sha']}"
    if not full:
        name += f"-{results['domains']}-{'+'.join(sorted(results['contenders']))}"
    path = directory / f"{name}.json"
    path.write_text(text)
    latest = directory / "latest.json"
    if full:
        latest.write_text(text)
    elif "latency" in results and latest.exists():
        # a latency-only run updates the latest figures' latency section (with its own command
        # and commit): the loopback rows stay those of the last full run
        figures = json.loads(latest.read_text())
        figures["latency"] = {
            **results["latency"], "date": results["date"], "git_sha": results["git_sha"],
            "domains": results["domains"], "command": latency_command(results),
            "rows": [r for r in results["rows"] if r["label"].startswith("path-")]}
        latest.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return path


def latency_command(results: dict[str, Any]) -> str:
    return (f"python -m benchmarks.run --domains {results['domains']} --only latency "
            f"--repeat {results.get('repeat', 1)}")
