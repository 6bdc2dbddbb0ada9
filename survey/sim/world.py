"""Assemble and run the test internet: the DNS server, the policy hosts and the MX hosts of a
``World``, all on loopback addresses, plus the toplist and CA bundle a scan needs.

The behaviour class of a host is decided by the address its A record points at (see
``AddressPlan``), its identity by the SNI the scanner sends, so a handful of listeners serve any
number of domains. ``run_world`` runs inside a trio nursery; ``start_world`` runs the same in a
background thread's trio loop for synchronous callers (pytest tests, scans in a subprocess).
``dns=False`` leaves DNS to another server (NSD serving ``survey.sim.zonefile``'s export in the
benchmark), so that an idle Python DNS server does not hold a port or share the loop.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trio

from survey.sim.background import in_background
from survey.sim.ca import TestCA
from survey.sim.dns_server import AddressPlan, DnsServer, build_zone
from survey.sim.generator import write_toplist
from survey.sim.https_server import PolicyHttpsServer
from survey.sim.scenario import MxHost, PolicyHost, SmtpBehaviour, World
from survey.sim.smtp_server import SmtpServer


@dataclass(slots=True)
class RunningWorld:
    """Where a running world listens, and the files a scan of it needs."""

    plan: AddressPlan
    dns_port: int
    https_port: int
    smtp_port: int
    ca_bundle: Path
    toplist: Path
    dns: DnsServer | None = field(repr=False)  # None: started with ``dns=False``
    world: World = field(repr=False)
    #: the CA whose certificates the hosts present (``"auto"`` TLSA data is computed from it)
    ca: TestCA = field(repr=False)
    #: native id of the thread whose trio loop serves the world (its CPU is the servers')
    thread_id: int = 0
    #: the policy hosts' server (what it was asked, and how many connections at once)
    https: PolicyHttpsServer | None = field(default=None, repr=False)

    @property
    def resolver(self) -> tuple[str, int]:
        if self.dns is None:
            raise RuntimeError("this world runs no DNS server (started with dns=False)")
        return (self.plan.dns, self.dns_port)

    def dns_query_count(self) -> int:
        """Queries the DNS server has received so far (UDP and TCP); 0 without one."""
        return 0 if self.dns is None else self.dns.query_count

    def scan_args(self) -> list[str]:
        """The ``scan``/``check`` options that point the scanner at this world.

        Without a DNS server of its own (``dns=False``) there is no ``--resolver``: the caller
        adds the one that serves the world's zones. ``--allow-private`` only for a world that
        stays on 127/8: one that declares other addresses is scanned with the guard on, so that
        nothing outside loopback is ever contacted.
        """
        resolver = [] if self.dns is None else ["--resolver", f"{self.plan.dns}:{self.dns_port}"]
        allow = [] if self.world.outside_loopback() else ["--allow-private"]
        return [*resolver, "--ca-bundle", str(self.ca_bundle),
                "--https-port", str(self.https_port),
                "--smtp-port", str(self.smtp_port), *allow]


def policy_hosts(world: World) -> dict[str, PolicyHost]:
    """The HTTPS server's hosts, keyed by ``mta-sts.<domain>``."""
    return {f"mta-sts.{s.domain.lower()}": s.policy_host
            for s in world.scenarios if s.policy_host is not None}


def mx_hosts(world: World) -> dict[str, MxHost]:
    """The SMTP server's hosts, keyed by name; a name shared by domains keeps its first entry."""
    hosts: dict[str, MxHost] = {}
    for s in world.scenarios:
        for mx in s.mx:
            if mx.name:
                hosts.setdefault(mx.name.lower(), mx)
    return hosts


def free_port(address: str) -> int:
    """An unprivileged TCP port free on ``address`` right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def _prepare(world: World, directory: Path) -> Path:
    """Write the toplist (before anything listens, so blocking here delays only the start)."""
    directory.mkdir(parents=True, exist_ok=True)
    toplist = directory / "toplist.csv"
    write_toplist(world, toplist)
    return toplist


async def run_world(world: World, directory: Path, *, dns_port: int = 0, https_port: int = 0,
                    smtp_port: int = 0, plan: AddressPlan | None = None, dns: bool = True,
                    validating: bool = True,
                    task_status: trio.TaskStatus[RunningWorld] = trio.TASK_STATUS_IGNORED,
                    ) -> None:
    """Serve ``world`` until cancelled; ``task_status.started(RunningWorld)`` once all listen.

    Ports 0 are chosen free at start. ``directory`` receives the toplist and the test CA.
    ``dns=False``: no DNS server (and no zone built), for when another server answers.
    ``validating=False``: the DNS server plays a resolver that does not validate DNSSEC.
    """
    plan = plan or AddressPlan()
    toplist = _prepare(world, directory)
    ca = TestCA(directory / "ca")
    server = DnsServer(build_zone(world, plan, ca), validating=validating) if dns else None
    https_port = https_port or free_port(plan.https_addresses()[0])
    smtp_port = smtp_port or free_port(plan.smtp_addresses()[0])
    async with trio.open_nursery() as nursery:
        if server is not None:
            dns_port = await nursery.start(server.serve, plan.dns, dns_port)
        https = PolicyHttpsServer(ca, policy_hosts(world))
        await _start_hosts(nursery, world, ca, plan, https, https_port, smtp_port)
        task_status.started(RunningWorld(plan, dns_port, https_port, smtp_port, ca.bundle_path,
                                         toplist, server, world, ca, threading.get_native_id(),
                                         https))


async def _start_hosts(nursery: trio.Nursery, world: World, ca: TestCA, plan: AddressPlan,
                       https: PolicyHttpsServer, https_port: int, smtp_port: int) -> None:
    """Start the HTTPS and SMTP listeners of the address plan.

    Nothing listens on ``https_refused`` and ``smtp_refused``: connections get a TCP RST.
    """
    for address in plan.https_addresses():
        await nursery.start(https.serve, address, https_port)
    await nursery.start(https.serve_tarpit, plan.https_tarpit, https_port)
    smtp = SmtpServer(ca, mx_hosts(world))
    listeners = [(a, SmtpBehaviour.STARTTLS) for a in plan.smtp_addresses()] + [
        (plan.smtp_no_starttls, SmtpBehaviour.NO_STARTTLS),
        (plan.smtp_tarpit, SmtpBehaviour.TARPIT)]
    for address, behaviour in listeners:
        await nursery.start(smtp.serve, address, smtp_port, behaviour)


@contextlib.contextmanager
def start_world(world: World, directory: Path, *, dns_port: int = 0, https_port: int = 0,
                smtp_port: int = 0, plan: AddressPlan | None = None,
                dns: bool = True, validating: bool = True) -> Iterator[RunningWorld]:
    """Run ``world`` in a background thread's trio loop for the ``with`` block.

    On exit the loop is cancelled and the thread joined: every listener is closed before this
    returns. An error while starting is raised here, in the caller's thread.
    """
    with in_background(functools.partial(
            run_world, world, directory, dns_port=dns_port, https_port=https_port,
            smtp_port=smtp_port, plan=plan, dns=dns, validating=validating),
            name="sim-world") as running:
        yield running
