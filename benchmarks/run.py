"""``make bench``: the scanner against NSD on loopback, side by side with its ceiling and a
naive reference, in one run.

Why this shape: the issue's targets are ratios measured in the same run on the same machine
(scan vs. naive, scan vs. ``dnsperf``), so every contender runs here against one NSD serving one
synthetic world. Each contender is a child process; its CPU time and peak RSS come from
``os.wait4`` on that child (no ``/usr/bin/time`` needed), its wall time is the child's whole life
(start-up included, as a user sees it) unless the child reports its own scan time.

Rows: ``dnsperf`` (the ceiling), ``naive`` (``benchmarks.naive_scanner``), ``dnsclient``
(``benchmarks.dns_client``: the DNS fast path alone), ``scan`` (``mta-sts-survey scan``, one
process), ``scan-wN`` (``scan --workers N``; ``scan-xN``, N ``--shard`` processes at once, where
the command has no ``--workers``), ``https`` (policy fetches through the scanner's fetcher, a new
TLS connection per host, against nginx serving the world's policy hosts: ``benchmarks.nginx``)
and ``https-sim`` (the same against the test internet's own Python HTTPS server).

Every row also records its server's CPU seconds (NSD, nginx or the test internet's thread, from
``/proc``) and the cores client and server kept busy, so that a row limited by its server or by
a shared machine can be told from one limited by the client.

    BENCH_DOMAINS=20000 python -m benchmarks.run --out benchmarks/results

The pieces, one idea each: ``benchmarks.measurement`` (a child's cost, a row's load and server
CPU), ``benchmarks.nsd`` (the DNS server), ``benchmarks.contenders`` (the rows),
``benchmarks.profiling`` (``--only profile``) and ``benchmarks.figures`` (ratios, table, JSON);
this module builds the world, serves it and runs the chosen rows. Their names stay importable
from here (``benchmarks.run.Row``, ``run.bench``, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import dnsdist, latency, nginx
from benchmarks.contenders import (
    CONTENDERS,
    SCAN_RATE,
    WORKER_ARGV,
    dnsperf_row,
    https_row,
    is_scan_worker,
    reference_row,
    scan_argv,
    scan_has_workers,
    scan_row,
    with_option,
    without_resolver,
    workers_row,
    write_queries,
)
from benchmarks.figures import (
    git_sha,
    latency_command,
    median_rows,
    paired_efficiency,
    ratios,
    scaling,
    table,
    write_results,
)
from benchmarks.measurement import (
    ROOT,
    Child,
    Row,
    Usage,
    cmdline,
    collect,
    finish,
    finish_all,
    measured,
    parent_pid,
    poll,
    run_child,
    spawn,
)
from benchmarks.naive_scanner import QUERIES
from benchmarks.nsd import NSD_ADDRESS, free_udp_tcp_port, nsd
from benchmarks.procstat import thread_cpu_seconds, tree_cpu_seconds
from benchmarks.profiling import CATEGORIES, category, frame_file, profile_scan, summarise_stacks
from survey.sim.ca import TestCA
from survey.sim.world import start_world

#: What ``benchmarks.run`` offers besides ``main`` and ``bench``: the pieces' names, as before
#: the split (scripts and tests import them from here).
__all__ = [
    "CATEGORIES", "CONTENDERS", "EXTRAS", "HTTPS_SERVERS", "NSD_ADDRESS", "REPEAT", "REPEATED",
    "ROOT", "SCAN_RATE", "WORKER_ARGV", "Child", "Row", "Usage", "bench", "category",
    "cmdline", "collect", "dnsperf_row", "finish", "finish_all", "frame_file",
    "free_udp_tcp_port", "git_sha", "https_row", "is_scan_worker", "latency_command", "main",
    "measured", "median_rows", "nsd", "paired_efficiency", "parent_pid", "poll",
    "profile_scan", "ratios", "reference_row", "run_child", "scaling", "scan_argv",
    "scan_has_workers", "scan_row", "spawn", "summarise_stacks", "table", "workers_row",
    "write_queries", "write_results"]

# --- the run ---------------------------------------------------------------------------------

#: The HTTPS rows' servers: nginx (row ``https``, the target's figure) and the test internet.
HTTPS_SERVERS = ("nginx", "sim")
#: Rows run ``--repeat`` times (alternately), each reporting its median run.
REPEATED = ("scan", "scan-xN")
#: Default of ``--repeat``: three runs of each, so that one slow run moves no figure.
REPEAT = 3
#: Not part of the default run (py-spy slows the scan a little): ``--only profile``.
EXTRAS = ("profile",)


def main(argv: list[str] | None = None) -> int:
    # SIGTERM unwinds like Ctrl-C, so that NSD, nginx and a running contender are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--domains", type=int,
                        default=int(os.environ.get("BENCH_DOMAINS", "200000")))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="scan processes for the all-cores row")
    parser.add_argument("--https-count", type=int, default=2000,
                        help="policy fetches per HTTPS row (each a distinct host while the "
                             "world has enough)")
    parser.add_argument("--https-servers", default=",".join(HTTPS_SERVERS),
                        help="HTTPS rows: nginx (row 'https'), sim (row 'https-sim')")
    parser.add_argument("--nsd-cpu", default=str((os.cpu_count() or 1) - 1),
                        help="core NSD is pinned to ('none': not pinned)")
    parser.add_argument("--repeat", type=int, default=REPEAT,
                        help="runs of the scan rows, alternating one process and all cores; "
                             "each row reports its median run")
    parser.add_argument("--only", default=",".join(CONTENDERS),
                        help=f"comma-separated subset of {','.join(CONTENDERS + EXTRAS)}")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mta-sts-bench"))
    parser.add_argument("--out", type=lambda t: Path(t) if t else None,
                        default=ROOT / "benchmarks" / "results",
                        help="results directory ('' to write nothing)")
    args = parser.parse_args(argv)
    results = bench(args.domains, args.seed, args.processes, args.https_count,
                    set(args.only.split(",")), args.work,
                    https_servers=tuple(args.https_servers.split(",")),
                    nsd_cpu=None if args.nsd_cpu == "none" else int(args.nsd_cpu),
                    repeat=max(1, args.repeat))
    print(table([Row(**{k: v for k, v in r.items() if k in Row.__dataclass_fields__})
                 for r in results["rows"]], results["ratios"]))
    if results.get("latency"):
        print("\n".join(f"{k}: {v}" for k, v in results["latency"].items()))
    if results.get("scaling"):
        print("\n".join(f"{k}: {v}" for k, v in results["scaling"].items()))
    if "profile" in results:
        print(json.dumps(results["profile"], indent=1))
    if args.out:
        print(f"\nwrote {write_results(results, args.out)}")
    return 0 if all(r["error"] is None for r in results["rows"]) else 1


def bench(domains: int, seed: int, processes: int, https_count: int, only: set[str],
          work: Path, *, server: str = "nsd", https_servers: Sequence[str] = HTTPS_SERVERS,
          nsd_cpu: int | None = None, repeat: int = 1) -> dict[str, Any]:
    """Build the world, serve it, run the chosen contenders; the JSON-ready results.

    ``server="world"`` answers DNS with the test internet's own (Python) server instead of NSD:
    the smoke test's way to drive every piece on a machine without NSD (figures then measure
    that server, not the scanner's ceiling). ``https_servers`` picks the HTTPS rows: ``nginx``
    (the row ``https``) and ``sim`` (``https-sim``, the test internet's Python server).
    """
    from survey.sim.dns_server import AddressPlan
    from survey.sim.generator import generate_world, write_toplist
    from survey.sim.zonefile import export_world

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    world = generate_world(domains, seed)
    plan = AddressPlan()
    toplist = work / "toplist.csv"
    write_toplist(world, toplist)
    nsd_port = free_udp_tcp_port(NSD_ADDRESS)
    conf = export_world(world, work / "nsd", address=NSD_ADDRESS, port=nsd_port, plan=plan) \
        if server == "nsd" else None
    names = [s.domain for s in world.scenarios]
    query_file = work / "queries.txt"
    queries = write_queries(names, query_file)
    hosts_file = work / "policy_hosts.txt"
    hosts_file.write_text("".join(f"{d} {a}\n" for d, a in nginx.servable_hosts(world, plan)))
    prepare_s = time.perf_counter() - t0
    with contextlib.ExitStack() as stack:
        dns_proc = stack.enter_context(nsd(conf, NSD_ADDRESS, nsd_port, names[0], nsd_cpu)) \
            if conf is not None else None
        internet = stack.enter_context(start_world(world, work / "internet", plan=plan,
                                                   dns=conf is None))
        sim_cpu = functools.partial(thread_cpu_seconds, internet.thread_id)
        if dns_proc is not None:
            address, port = NSD_ADDRESS, nsd_port
            dns_cpu: Callable[[], float] = functools.partial(tree_cpu_seconds, dns_proc.pid)
        else:
            (address, port), dns_cpu = internet.resolver, sim_cpu
        resolver = f"{address}:{port}"
        world_args = without_resolver(internet.scan_args())
        site = None
        scanning = bool(only & {"scan", "scan-xN", "profile"})
        if "nginx" in https_servers and ("https" in only or scanning):
            site = nginx.export_site(world, work / "nginx", TestCA(internet.ca_bundle.parent),
                                     plan=plan)
        nginx_proc = stack.enter_context(nginx.serve(site)) if site is not None else None
        # the scan rows fetch policies from nginx when it mirrors every host: the test
        # internet's Python thread would otherwise take a third of a core from the scanners
        scan_https = "nginx" if site is not None and not site.skipped else "sim"
        if scan_https == "nginx" and site is not None:
            world_args = with_option(world_args, "--https-port", str(site.port))
        fetch = functools.partial(https_row, hosts=hosts_file, ca_bundle=internet.ca_bundle,
                                  count=https_count, distinct=https_count)
        contenders: dict[str, list[tuple[Callable[[], Row], Callable[[], float]]]] = {
            "dnsperf": [(lambda: dnsperf_row(query_file, queries, address, port), dns_cpu)],
            "naive": [(lambda: reference_row("naive", "benchmarks.naive_scanner", toplist,
                                             resolver), dns_cpu)],
            "dnsclient": [(lambda: reference_row("dnsclient", "benchmarks.dns_client", toplist,
                                                 resolver), dns_cpu)],
            "scan": [(lambda: scan_row("scan", toplist, work, world_args, resolver, 1),
                      dns_cpu)],
            "scan-xN": [(lambda: workers_row(f"scan-w{processes}", toplist, work, world_args,
                                             resolver, processes) if scan_has_workers()
                         else scan_row(f"scan-x{processes}", toplist, work, world_args,
                                       resolver, processes), dns_cpu)],
            "https": [(lambda: fetch("https-sim", port=internet.https_port, warm_up=True),
                       sim_cpu)] if "sim" in https_servers else [],
        }
        if "latency" in only and dns_proc is not None and dnsdist.available():
            path_cpu = functools.partial(tree_cpu_seconds, dns_proc.pid)  # NSD; dnsdist below
            contenders["latency"] = [
                (m, path_cpu) for _, m in latency.measures(
                    functools.partial(scan_row, toplist=toplist, work=work,
                                      world_args=world_args, processes=1),
                    work, free_udp_tcp_port(dnsdist.DNSDIST_ADDRESS), (address, port),
                    names[0], domains)]
        if site is not None and nginx_proc is not None and "https" in only:
            contenders["https"].insert(0, (lambda: fetch("https", port=site.port,
                                                         warm_up=False),
                                           functools.partial(tree_cpu_seconds, nginx_proc.pid)))
        chosen = [(name, measure, server_cpu) for name, measures in contenders.items()
                  if name in only and not (name == "scan-xN" and processes < 2)
                  for measure, server_cpu in measures]
        runs: list[Row] = []
        repeated = [c for c in chosen if c[0] in REPEATED]
        for name, measure, server_cpu in chosen:
            if name not in REPEATED:
                runs.append(measured(measure, server_cpu))
            elif name == repeated[0][0]:  # one process and all cores, in turns
                for _ in range(repeat):
                    runs.extend(measured(m, c) for _, m, c in repeated)
        rows = median_rows(runs)
        profile = profile_scan(toplist, work, world_args, resolver) if "profile" in only \
            else None
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ"),
        "git_sha": git_sha(),
        "domains": domains, "seed": seed, "queries_per_domain": len(QUERIES),
        "policy_hosts": sum(s.policy_host is not None for s in world.scenarios),
        "prepare_s": round(prepare_s, 2),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "command": f"BENCH_DOMAINS={domains} make bench",
        "dns_server": server, "nsd_cpu": nsd_cpu if conf is not None else None,
        "scan_https_server": scan_https,
        "https_servers": list(https_servers),
        **({"nginx": {"hosts": len(site.hosts), "skipped": site.skipped,
                      "worker_processes": 1, "version": nginx.version()}}
           if site is not None else {}),
        "contenders": sorted(only),
        "scan_options": f"defaults except --rate {SCAN_RATE} (the politeness cap)",
        # the latency summary first: it adds each latency row's retries to its extra
        **({"latency": latency.annotate(rows)} if "latency" in only else {}),
        "rows": [r.as_dict() for r in rows],
        "ratios": ratios(rows),
        "scaling": {**scaling(rows, os.cpu_count() or 1), **paired_efficiency(runs)},
        "repeat": repeat,
        **({"profile": profile} if profile is not None else {}),
    }


if __name__ == "__main__":
    sys.exit(main())
