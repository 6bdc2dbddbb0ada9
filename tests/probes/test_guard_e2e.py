"""The address guard end to end: the test internet's DNS points policy and MX hosts at private
and special-purpose addresses (IPv4, IPv6, IPv4-mapped, NAT64, 6to4) and the real scanner, run
WITHOUT ``--allow-private``, records every address in the row and contacts none of them.

Safety of the test itself: nothing listens at these addresses and none may ever be contacted
from here (only 127/8 may), so the special world is never scanned with ``--allow-private``
(``scan`` refuses to build such a command). Proof of "no contact" is the child's own record: an
audit hook (``sys.addaudithook``, which sees every ``connect``/``sendto`` the interpreter makes,
whatever library makes it) logs each destination; the only one allowed is the DNS resolver.
A control scan of an ordinary loopback domain shows that the hook does see probes.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from survey.probes.net import is_special_address
from survey.sim.catalogue import catalogue
from survey.sim.generator import generate_world, policy_body
from survey.sim.scenario import MxHost, PolicyHost, Scenario, World
from survey.sim.world import RunningWorld, start_world

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

#: One address of each special-purpose range the guard must refuse (label: address).
SPECIAL_V4 = {
    "rfc1918-10": "10.0.0.1",
    "rfc1918-172": "172.16.0.1",
    "rfc1918-172-top": "172.31.255.254",
    "rfc1918-192": "192.168.1.1",
    "cgn": "100.64.0.1",
    "link-local": "169.254.169.254",  # the cloud metadata service
    "this-host": "0.0.0.0",
    "loopback": "127.0.0.1",
    "multicast": "224.0.0.1",
    "multicast-ssdp": "239.255.255.250",
    "reserved": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "test-net-1": "192.0.2.1",
    "benchmarking": "198.19.0.1",
}
SPECIAL_V6 = {
    "v6-loopback": "::1",
    "v6-unspecified": "::",
    "v6-link-local": "fe80::1",
    "v6-ula-fc": "fc00::1",
    "v6-ula-fd": "fd12:3456::1",
    "v6-multicast": "ff02::1",
    "v6-documentation": "2001:db8::1",
    "nat64-private": "64:ff9b::10.0.0.1",
    "nat64-loopback": "64:ff9b::127.0.0.1",
    "mapped-private": "::ffff:10.0.0.1",
    "mapped-loopback": "::ffff:127.0.0.1",
    "6to4-private": "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "6to4-link-local": "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
}
STS_ID = "guard1"


@dataclass(frozen=True, slots=True)
class Case:
    """A domain whose policy host and only MX host resolve to ``addresses`` (nothing else)."""

    domain: str
    addresses: tuple[str, ...]
    cname: bool = False  # the policy host is a CNAME to a provider name holding the addresses

    def scenario(self) -> Scenario:
        mx = MxHost(f"mx.{self.domain}", addresses=self.addresses)
        chain = (f"sts.provider.{self.domain}",) if self.cname else ()
        host = PolicyHost(body=policy_body("enforce", (mx.name,)), cname_chain=chain,
                          addresses=self.addresses)
        return Scenario(self.domain, mx=(mx,), sts_txt=((f"v=STSv1; id={STS_ID}",),),
                        policy_host=host, name=f"guard_{self.domain.split('.')[0]}")


def cases() -> list[Case]:
    """Every IPv4 address A-only and as IPv4-mapped AAAA-only, every IPv6 address AAAA-only,
    plus hosts with several addresses of both families and a provider CNAME."""
    out = [Case(f"{label}.a.guard.test", (address,)) for label, address in SPECIAL_V4.items()]
    out += [Case(f"{label}.mapped.guard.test", (f"::ffff:{address}",))
            for label, address in SPECIAL_V4.items()]
    out += [Case(f"{label}.aaaa.guard.test", (address,)) for label, address in SPECIAL_V6.items()]
    out += [Case("several.guard.test", ("10.1.2.3", "192.168.0.7")),
            Case("both.guard.test", ("172.20.0.1", "fd00::25")),
            Case("provider.guard.test", ("100.100.100.100",), cname=True),
            Case("provider6.guard.test", ("fe80::25", "::1"), cname=True)]
    return out


CASES = {c.domain: c for c in cases()}


def a_records(addresses: tuple[str, ...]) -> tuple[str, ...]:
    """What the scanner records: A addresses; AAAA ones only when there is no A (it asks
    AAAA only then)."""
    v4 = tuple(a for a in addresses if ipaddress.ip_address(a).version == 4)
    return v4 or addresses


def same(recorded: list[str], declared: tuple[str, ...]) -> bool:
    """Address lists equal as addresses (dnspython writes ``64:ff9b::a00:1`` for
    ``64:ff9b::10.0.0.1``)."""
    return [ipaddress.ip_address(a) for a in recorded] == [
        ipaddress.ip_address(a) for a in declared]


# --- the scan, in a child process that logs where it connects --------------------------------

#: Runs ``python -m survey`` with an audit hook logging each socket destination (and name
#: resolution through the system, which the scanner must not use either) to argv[1].
AUDITED = """
import sys
log = open(sys.argv.pop(1), "w", buffering=1)
WATCHED = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo"}
def hook(event, args):
    if event in WATCHED:
        target = args[0:2] if event == "socket.getaddrinfo" else args[1]
        log.write(f"{event}\\t{target!r}\\n")
sys.addaudithook(hook)
from survey.cli import main
sys.argv[0] = "mta-sts-survey"
raise SystemExit(main())
"""


@dataclass(frozen=True)
class Scan:
    returncode: int
    stdout: str
    stderr: str
    rows: dict[str, dict[str, Any]]
    destinations: list[tuple[str, str]]  # (audit event, destination)


def scan(running: RunningWorld, out: Path, *, allow_private: bool) -> Scan:
    options = [a for a in running.scan_args() if a != "--allow-private"]
    if allow_private:
        if running.world.outside_loopback():
            raise AssertionError("never scan a world that leaves 127/8 with --allow-private")
        options.append("--allow-private")
    audit = out.parent / f"{out.name}.audit"
    command = [sys.executable, "-c", AUDITED, str(audit), "scan", str(running.toplist),
               "-o", str(out), *options, "--smtp", "--timeout", "2", "--dns-timeout", "2",
               "--no-progress"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    rows = pq.read_table(out / "parts").to_pylist() if (out / "parts").is_dir() else []
    destinations = [tuple(line.split("\t", 1)) for line in audit.read_text().splitlines()]
    return Scan(proc.returncode, proc.stdout, proc.stderr, {r["domain"]: r for r in rows},
                [(event, target) for event, target in destinations])


@pytest.fixture(scope="module")
def special(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningWorld, Scan]]:
    world = World(tuple(c.scenario() for c in CASES.values()))
    directory = tmp_path_factory.mktemp("guard")
    with start_world(world, directory / "world") as running:
        yield running, scan(running, directory / "out", allow_private=False)


def test_the_table_is_special_and_the_world_serves_it(
        special: tuple[RunningWorld, Scan]) -> None:
    """The guard's own verdict on each declared address (a wrong table would prove nothing)."""
    for case in CASES.values():
        assert all(is_special_address(a) for a in case.addresses), case
    assert len(CASES) == 2 * len(SPECIAL_V4) + len(SPECIAL_V6) + 4
    assert special[1].returncode == 0, special[1].stderr


def test_only_worlds_on_loopback_may_be_scanned_with_allow_private() -> None:
    """The catalogue and the generator's worlds are scanned with --allow-private elsewhere:
    they must declare nothing outside 127/8; the special world declares nothing else."""
    assert World(catalogue()).outside_loopback() == ()
    assert generate_world(2000, 7).outside_loopback() == ()
    special = World(tuple(c.scenario() for c in CASES.values()))
    outside = special.outside_loopback()
    declared = [a for c in CASES.values() for a in c.addresses]
    assert sorted(outside) == sorted(a for a in declared + declared if a != "127.0.0.1")
    assert "::ffff:127.0.0.1" in outside and "::1" in outside
    assert World((Scenario("x.test", mx=(MxHost("mx.x.test", addresses=("127.9.0.1",)),),
                           policy_host=PolicyHost(address_override="not an address")),
                  )).outside_loopback() == ("not an address",)


def test_scan_args_of_a_world_leaving_loopback_keep_the_guard_on(
        special: tuple[RunningWorld, Scan]) -> None:
    running, _ = special
    assert running.world.outside_loopback()
    assert "--allow-private" not in running.scan_args()


def test_every_special_address_is_recorded_and_blocked(special: tuple[RunningWorld, Scan]) -> None:
    _, result = special
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert set(result.rows) == set(CASES)
    wrong = []
    for domain, case in CASES.items():
        row = result.rows[domain]
        expected = a_records(case.addresses)
        got = (row["policy_host_dns_status"], row["https_error"], row["https_address"],
               [(s["host"], s["error"], s["address"]) for s in row["smtp"]])
        want = ("NOERROR", "blocked", None, [(f"mx.{domain}", "blocked", None)])
        if got != want or not same(row["policy_host_addresses"], expected):
            wrong.append(f"{domain}: {got} {row['policy_host_addresses']} != {want} {expected}")
            continue
        # the refusal says how many addresses were refused, for the policy and the MX host
        detail = f"{len(expected)} address(es), none allowed"
        assert row["https_error_detail"] == row["smtp"][0]["error_detail"] == detail, domain
        # docs/classification.md §3: a sender cannot reach it either
        assert row["sts_id"] == STS_ID and row["status"] == "invalid", domain
        assert "policy_unreachable" in row["mistakes"], domain
        if case.cname:
            assert row["policy_host_cname"] == [f"sts.provider.{domain}"], domain
    assert not wrong, "\n".join(wrong)


def test_aaaa_is_asked_when_a_is_empty(special: tuple[RunningWorld, Scan]) -> None:
    """AAAA-only hosts are seen: their AAAA answer is in the row, as evidence and as the
    lookup the row reports; hosts with an A record keep it."""
    _, result = special
    aaaa_only = [c for c in CASES.values() if a_records(c.addresses) == c.addresses
                 and all(":" in a for a in c.addresses)]
    assert len(aaaa_only) == len(SPECIAL_V4) + len(SPECIAL_V6) + 1
    for case in aaaa_only:
        row = result.rows[case.domain]
        assert row["policy_host_addresses"] and same(row["policy_host_addresses"],
                                                     case.addresses), case.domain
        assert row["smtp"][0]["error"] == "blocked", case.domain  # not no-address: AAAA seen
    both = result.rows["both.guard.test"]
    assert both["policy_host_addresses"] == ["172.20.0.1"]


def test_nothing_but_the_resolver_was_contacted(special: tuple[RunningWorld, Scan]) -> None:
    running, result = special
    resolver = repr(running.resolver)
    assert result.destinations, "the audit hook logged nothing: it cannot prove anything"
    elsewhere = [d for d in result.destinations if d[1] != resolver]
    assert not elsewhere, elsewhere
    # the run's blocked refusals, counted from its rows: one fetch and one MX host a domain
    blocked = sum((r["https_error"] == "blocked") + sum(s["error"] == "blocked" for s in r["smtp"])
                  for r in result.rows.values())
    assert blocked == 2 * len(CASES)


def test_the_audit_sees_probes_of_an_allowed_host(tmp_path: Path) -> None:
    """Control: an ordinary loopback domain, scanned with --allow-private, shows up in the
    audit log at the HTTPS and SMTP listeners (so an empty log above means no probe)."""
    mx = MxHost("mx.control.test")
    world = World((Scenario("control.test", mx=(mx,), sts_txt=((f"v=STSv1; id={STS_ID}",),),
                            policy_host=PolicyHost(body=policy_body("enforce", (mx.name,)))),))
    with start_world(world, tmp_path / "world") as running:
        result = scan(running, tmp_path / "out", allow_private=True)
        ports = {running.https_port, running.smtp_port}
    assert result.returncode == 0, result.stderr
    row = result.rows["control.test"]
    assert row["status"] == "enforce" and row["https_error"] is None
    contacted = {d[1] for d in result.destinations if d[0] == "socket.connect"}
    expected = {repr((row["https_address"], running.https_port)),
                repr((row["smtp"][0]["address"], running.smtp_port))}
    assert expected <= contacted, (contacted, ports)
