"""The delegation tree of ``benchmarks.resolver_tree`` (NSD and Unbound run only there: its
servers need port 53 of 127.54.x): every domain is cut at the TLD, the shares of lame and dead
servers hold, and the root delegates every TLD."""

from __future__ import annotations

from pathlib import Path

from benchmarks import resolver_tree as tree
from survey.sim.dns_server import AddressPlan
from survey.sim.generator import generate_world
from survey.sim.zonefile import export_world


def test_shares_of_lame_and_dead_servers() -> None:
    names = [f"d{i}.test" for i in range(20_000)]
    servers = tree.delegations(names, seed=1)
    only_dead = sum(s == [tree.DEAD] for s in servers.values()) / len(names)
    dead = sum(tree.DEAD in s and len(s) > 1 for s in servers.values()) / len(names)
    lame = sum(tree.LAME in s for s in servers.values()) / len(names)
    assert abs(only_dead - tree.ONLY_DEAD_SHARE) < 0.003
    assert abs(dead - tree.DEAD_SHARE) < 0.01 and abs(lame - tree.LAME_SHARE) < 0.01
    assert all(any(a in tree.ZONES for a in s) for s in servers.values() if s != [tree.DEAD])


def test_the_tld_cuts_every_domain_and_the_root_delegates_every_tld(tmp_path: Path) -> None:
    world = generate_world(200, seed=4)
    names = [s.domain for s in world.scenarios]
    exported = export_world(world, tmp_path / "export", address=tree.ZONES[0], port=53,
                            plan=AddressPlan()).parent
    confs = tree.write_tree(exported, tmp_path / "tree", names, seed=4)
    assert set(confs) == {"root", "tld", "zones", "lame"}
    tlds = sorted(p.stem for p in exported.glob("*.zone"))
    root = (confs["root"].parent / "root.zone").read_text()
    for t in tlds:
        assert f"{t}. IN NS ns.{t}." in root and f"ns.{t}. IN A {tree.TLD}" in root
    cut = {line.split()[0].rstrip(".") for t in tlds
           for line in (confs["tld"].parent / f"{t}.zone").read_text().splitlines()
           if " IN NS " in line and not line.startswith(f"{t}. ")}
    assert cut == set(names)
    assert f"ip-address: {tree.ROOT}@53" in confs["root"].read_text()
