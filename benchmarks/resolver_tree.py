"""A scan through Unbound resolving iteratively down a delegation tree on loopback.

The tree: a root server (NSD, 127.54.0.1), a TLD server (NSD, 127.54.1.1) that delegates every
domain of the world to the zone servers (NSD serving the world's zones on 127.54.2.1 and
127.54.2.2), with a share of the domains also delegated to a lame server (NSD on 127.54.3.1
serving none of them: REFUSED) or to a dead one (127.54.4.1: a socket that never answers), and
a few to the dead one only. Every domain so costs a referral from the TLD server and its
lookups at a zone server, as on the internet; Unbound (``do-not-query-localhost: no``, root
hints naming the root server, no validation) walks it. Authoritative servers listen on port 53
(a referral names no port) of their own 127.54.x addresses; Unbound on a free port.

    python -m benchmarks.resolver_tree --domains 20000 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.dns_server import answering
from benchmarks.procstat import tree_cpu_seconds

ROOT, TLD, ZONES, LAME, DEAD = "127.54.0.1", "127.54.1.1", ("127.54.2.1", "127.54.2.2"), \
    "127.54.3.1", "127.54.4.1"
UNBOUND = "127.54.0.53"
#: Shares of the world's domains with a lame or a dead server beside the good ones, and with
#: only a dead one.
LAME_SHARE, DEAD_SHARE, ONLY_DEAD_SHARE = 0.10, 0.10, 0.01


def delegations(domains: Sequence[str], seed: int) -> dict[str, list[str]]:
    """Name server addresses per domain (the zone servers in turns, lame and dead ones mixed
    in by share)."""
    rng = random.Random(seed)
    out: dict[str, list[str]] = {}
    for i, domain in enumerate(domains):
        good = [ZONES[i % 2], ZONES[(i + 1) % 2]]
        draw = rng.random()
        if draw < ONLY_DEAD_SHARE:
            out[domain] = [DEAD]
        elif draw < ONLY_DEAD_SHARE + DEAD_SHARE:
            out[domain] = [DEAD, good[0]]
        elif draw < ONLY_DEAD_SHARE + DEAD_SHARE + LAME_SHARE:
            out[domain] = [LAME, good[0]]
        else:
            out[domain] = good
    return out


_NS_NAME = {ZONES[0]: "ns1", ZONES[1]: "ns2", LAME: "lame", DEAD: "dead"}


def write_tree(exported: Path, work: Path, domains: Sequence[str], seed: int) -> dict[str, Path]:
    """nsd.conf files of the root, TLD, zone and lame servers from the exported world zones."""
    zone_files = sorted(exported.glob("*.zone"))
    tlds = [z.stem for z in zone_files]
    by_tld: dict[str, list[str]] = {t: [] for t in tlds}
    for d in domains:
        by_tld.setdefault(d.rsplit(".", 1)[-1], []).append(d)
    servers = delegations(domains, seed)
    confs: dict[str, Path] = {}

    def conf(name: str, addresses: Sequence[str], zones: dict[str, str]) -> Path:
        directory = work / name
        directory.mkdir(parents=True, exist_ok=True)
        lines = ["server:", *(f"  ip-address: {a}@53" for a in addresses), '  username: ""',
                 f'  zonesdir: "{directory}"', f'  pidfile: "{directory}/nsd.pid"',
                 f'  zonelistfile: "{directory}/zone.list"',
                 f'  xfrdfile: "{directory}/xfrd.state"', '  database: ""',
                 "  server-count: 1", "  verbosity: 0", "  rrl-ratelimit: 0",
                 "remote-control:", "  control-enable: no"]
        for zone, text in zones.items():
            file = f"{zone.strip('.') or 'root'}.zone"
            (directory / file).write_text(text)
            lines += ["zone:", f"  name: {zone}", f"  zonefile: {file}"]
        path = directory / "nsd.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    head = "$TTL 3600\n"
    root = [head, ". IN SOA a.root-servers.net. h.invalid. 1 3600 600 86400 300",
            ". IN NS a.root-servers.net.", f"a.root-servers.net. IN A {ROOT}"]
    for t in tlds:
        root += [f"{t}. IN NS ns.{t}.", f"ns.{t}. IN A {TLD}"]
    confs["root"] = conf("root", [ROOT], {".": "\n".join(root) + "\n"})
    tld_zones, zone_zones = {}, {}
    for t, file in zip(tlds, zone_files, strict=True):
        body = [line for line in file.read_text().splitlines()
                if not re.match(rf"^(ns\.)?{re.escape(t)}\. IN (NS|A) ", line)]
        # the TLD: apex, the zone servers' addresses, a cut at every domain, the rest as is
        tld = [*body, f"{t}. IN NS ns.{t}.", f"ns.{t}. IN A {TLD}"]
        tld += [f"{_NS_NAME[a]}.servers.{t}. IN A {a}" for a in (*ZONES, LAME, DEAD)]
        for d in by_tld.get(t, []):
            tld += [f"{d}. IN NS {_NS_NAME[a]}.servers.{t}." for a in servers[d]]
        tld_zones[f"{t}."] = "\n".join(tld) + "\n"
        zone_zones[f"{t}."] = "\n".join([*body, f"{t}. IN NS ns1.servers.{t}.",
                                         f"ns1.servers.{t}. IN A {ZONES[0]}"]) + "\n"
    confs["tld"] = conf("tld", [TLD], tld_zones)
    confs["zones"] = conf("zones", list(ZONES), zone_zones)
    confs["lame"] = conf("lame", [LAME], {"lame.invalid.": head + (
        "lame.invalid. IN SOA ns.lame.invalid. h.invalid. 1 3600 600 86400 300\n"
        f"lame.invalid. IN NS ns.lame.invalid.\nns.lame.invalid. IN A {LAME}\n")})
    return confs


def unbound_conf(work: Path, port: int, settings: dict[str, str]) -> Path:
    hints = work / "root.hints"
    hints.write_text(f". 3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A {ROOT}\n")
    lines = ["server:", f"  interface: {UNBOUND}", f"  port: {port}", "  do-ip6: no",
             '  username: ""', '  chroot: ""', f'  directory: "{work}"',
             f'  pidfile: "{work}/unbound.pid"', '  logfile: ""', "  use-syslog: no",
             "  verbosity: 0", "  do-not-query-localhost: no", '  module-config: "iterator"',
             f'  root-hints: "{hints}"', "  access-control: 127.0.0.0/8 allow",
             *(f"  {k}: {v}" for k, v in settings.items()),
             "remote-control:", "  control-enable: no"]
    path = work / "unbound.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def dead_server() -> Iterator[None]:
    """A UDP socket on the dead server's port 53 that never reads: queries time out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((DEAD, 53))
        yield


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((address, 0))
        port: int = s.getsockname()[1]
        return port


#: Unbound's settings for the measured runs (the defaults unless named): ``tuned`` is the set
#: docs/resolver.md recommends; the others change one setting (or one pair) of it each.
SETTINGS: dict[str, dict[str, str]] = {
    "defaults": {},
    "threads2": {"num-threads": "2"},
    "slots4096": {"num-queries-per-thread": "4096", "outgoing-range": "8192"},
    "caches": {"msg-cache-size": "256m", "rrset-cache-size": "512m"},
    "infra": {"infra-cache-numhosts": "100000", "infra-host-ttl": "3600"},
    "tuned": {"num-threads": "2", "outgoing-range": "8192", "num-queries-per-thread": "4096",
              "so-rcvbuf": "4m", "msg-cache-size": "256m", "rrset-cache-size": "512m",
              "infra-cache-numhosts": "100000", "jostle-timeout": "300"},
}


def run(domains: int, seed: int, work: Path, settings: Sequence[str]) -> dict[str, Any]:
    from survey.sim.dns_server import AddressPlan
    from survey.sim.generator import generate_world
    from survey.sim.world import start_world
    from survey.sim.zonefile import export_world

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    world = generate_world(domains, seed)
    plan = AddressPlan()
    names = [s.domain for s in world.scenarios]
    exported = export_world(world, work / "export", address=ZONES[0], port=53, plan=plan).parent
    confs = write_tree(exported, work / "tree", names, seed)
    probe = names[0]
    rows = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(dead_server())
        servers = {}
        for name, address in (("zones", ZONES[0]), ("tld", TLD), ("root", ROOT),
                              ("lame", LAME)):
            servers[name] = stack.enter_context(answering(
                ["nsd", "-d", "-c", str(confs[name])], address, 53,
                probe if name != "lame" else "lame.invalid", name=f"nsd {name}", wait_s=120,
                output=lambda p: "", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        internet = stack.enter_context(start_world(world, work / "internet", plan=plan,
                                                   dns=False))
        world_args = list(internet.scan_args())
        for label in settings:
            port = free_port(UNBOUND)
            directory = work / f"unbound-{label}"
            directory.mkdir()
            conf = unbound_conf(directory, port, SETTINGS[label])
            with answering(["unbound", "-d", "-c", str(conf)], UNBOUND, port, probe,
                           name="unbound", wait_s=60, output=lambda p: "",
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as unbound:
                cpu0 = {n: tree_cpu_seconds(p.pid) for n, p in servers.items()}
                ub0 = tree_cpu_seconds(unbound.pid)
                out = work / f"scan-{label}"
                argv = [sys.executable, "-m", "survey", "scan", str(internet.toplist), "-o",
                        str(out), *world_args, "--resolver", f"{UNBOUND}:{port}",
                        "--rate", "1000000", "--no-progress"]
                started = time.perf_counter()
                done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
                wall = time.perf_counter() - started
                manifest = json.loads((out / "manifest.json").read_text())
                session = manifest["sessions"][-1]
                rows.append({
                    "label": f"unbound-{label}", "settings": SETTINGS[label],
                    "returncode": done.returncode, "domains": session["scanned"],
                    "wall_s": round(wall, 2),
                    "domains_per_s": round(session["scanned"] / wall, 1),
                    "queries": session["queries_sent"], "counts": manifest["counts"],
                    "dns": {k: v for k, v in session.get("dns", {}).items()
                            if k != "per_minute"},
                    "in_flight": session.get("in_flight"),
                    "unbound_cpu_s": round(tree_cpu_seconds(unbound.pid) - ub0, 2),
                    "nsd_cpu_s": {n: round(tree_cpu_seconds(p.pid) - cpu0[n], 2)
                                  for n, p in servers.items()},
                    "stderr": done.stderr[-500:]})
    return {"domains": domains, "seed": seed, "rows": rows,
            "tree": {"lame_share": LAME_SHARE, "dead_share": DEAD_SHARE,
                     "only_dead_share": ONLY_DEAD_SHARE}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--domains", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settings", default="defaults,tuned")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mta-sts-resolver-tree"))
    args = parser.parse_args(argv)
    print(json.dumps(run(args.domains, args.seed, args.work, args.settings.split(",")),
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
