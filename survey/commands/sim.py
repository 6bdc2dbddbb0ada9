"""`mta-sts-survey sim`: run the test internet on loopback in the foreground, to try the tool.

It serves the scenario catalogue (every behaviour the survey measures) or N generated domains,
writes the toplist, the test CA bundle and an exclusion list into ``--dir``, and prints the
``scan`` command that surveys it. Ctrl-C (or SIGTERM) stops every listener and exits 0.
"""

from __future__ import annotations

import argparse
import functools
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the test internet (trio, cryptography) is imported by run(), not by --help
    from survey.sim.scenario import World
    from survey.sim.world import RunningWorld


def _scenarios(text: str) -> str | int:
    if text == "catalogue":
        return text
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'catalogue' or a number of domains, got {text!r}") \
            from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"need at least 1 domain, got {n}")
    return n


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a share: {text!r}") from None
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 1, got {share}")
    return share


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim", help="run the loopback test internet to try the scanner on",
        description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scenarios", type=_scenarios, default="catalogue",
                        metavar="catalogue|N",
                        help="the scenario catalogue (default) or N generated domains")
    parser.add_argument("--seed", type=int, default=1, help="seed of generated worlds")
    parser.add_argument("--signed", type=_share, default=0.0, metavar="SHARE",
                        help="share of generated domains in DNSSEC-signed zones, some with DANE "
                             "(default 0; the catalogue has its own signed scenarios)")
    parser.add_argument("--dir", type=Path, default=Path("sim-world"),
                        help="where the toplist and CA files go (default ./sim-world)")
    parser.add_argument("--dns-port", type=_port, default=0, metavar="P",
                        help="DNS port, UDP and TCP (default 0: a free port)")
    parser.add_argument("--https-port", type=_port, default=0, metavar="P",
                        help="port of the policy hosts (default 0: a free port; 443 as root)")
    parser.add_argument("--smtp-port", type=_port, default=0, metavar="P",
                        help="port of the MX hosts (default 0: a free port; 25 as root)")
    parser.set_defaults(func=run)


def build_world(scenarios: str | int, seed: int, signed: float = 0.0) -> World:
    from survey.sim.catalogue import catalogue
    from survey.sim.generator import generate_world
    from survey.sim.scenario import World

    if scenarios == "catalogue":
        return World(catalogue(), seed=seed)
    assert isinstance(scenarios, int)
    return generate_world(scenarios, seed, signed=signed)


def scan_command(running: RunningWorld, exclude: Path, output: Path) -> str:
    """The ``scan`` command line for ``running``, shell-quoted; it names the sim's signed
    check name, as its DNS server validates like a real survey's resolver must."""
    from survey.sim.scenario import DNSSEC_CHECK_NAME

    argv = ["mta-sts-survey", "scan", str(running.toplist), "-o", str(output),
            *running.scan_args(), "--exclude", str(exclude),
            "--dnssec-check", DNSSEC_CHECK_NAME]
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    import trio

    from survey.sim.catalogue import EXCLUDED_PREFIX

    world = build_world(args.scenarios, args.seed, args.signed)
    directory: Path = args.dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    exclude = directory / "exclude.txt"
    exclude.write_text(f"# the catalogue's policy_host_excluded points here\n{EXCLUDED_PREFIX}\n")
    trio.run(_serve, world, directory, exclude, args)
    print("stopped", file=sys.stderr)
    return 0


async def _serve(world: World, directory: Path, exclude: Path, args: argparse.Namespace) -> None:
    import trio

    from survey.sim.world import run_world

    serve = functools.partial(run_world, world, directory, dns_port=args.dns_port,
                              https_port=args.https_port, smtp_port=args.smtp_port)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            running: RunningWorld = await nursery.start(serve)
            host, port = running.resolver
            print(f"test internet: {len(world.scenarios)} domains on loopback", flush=True)
            print(f"resolver:  {host}:{port} (UDP and TCP)")
            print(f"CA bundle: {running.ca_bundle}")
            print(f"toplist:   {running.toplist}")
            print("scan it with:")
            print(f"  {scan_command(running, exclude, directory / 'scan')}")
            print("Ctrl-C stops.", flush=True)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break
