"""The test internet's policy hosts served by nginx, for the HTTPS row of ``make bench``.

Why: the test internet's HTTPS server is one Python thread; against it the benchmark measured
the server (261 fetches/s while the client used half a core). nginx (Debian's package) with one
worker process answers the same hosts with a fraction of a core, so the row measures the
scanner's fetch path.

Each policy host gets a generated ``server`` block on its own address (the test internet's
address plan, on a port of nginx's own): its name, its certificate from the test CA (the kind
the scenario asks for: valid, expired, wrong name, ...) loaded once at start-up, and
``return <status> "<body>"`` with the scenario's content type at the policy path. Hosts that
nginx cannot mirror exactly (transport faults, extra headers, redirects, other addresses,
bodies too long for one configuration token) are left out and counted. No rate or connection
limits, no session cache or tickets (each fetch is a full handshake, as in a survey), one
worker process (the client gets the other core). Memory: about 45 KB per host (an OpenSSL
context each), so 5,000 hosts of a 200,000-domain world take about 225 MB and 5 s to start.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from survey.sim.ca import UNKNOWN_NAME, TestCA
from survey.sim.dns_server import AddressPlan
from survey.sim.scenario import CertKind, PolicyHost, World
from survey.sim.world import policy_hosts

POLICY_PATH = "/.well-known/mta-sts.txt"
#: nginx reads a configuration token into a 4 KiB buffer: longer bodies cannot be inlined.
MAX_BODY_TOKEN = 3500
#: Statuses whose ``return`` text nginx takes as a URL, not as a body.
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r",
            ord("\t"): "\\t", ord("$"): "${dollar}"}


@dataclass(frozen=True, slots=True)
class Site:
    """An exported nginx site: its configuration and which hosts it serves where."""

    conf: Path
    port: int
    addresses: tuple[str, ...]
    #: (domain, address) of each exported host, in world order
    hosts: tuple[tuple[str, str], ...]
    #: hosts left out, by reason
    skipped: dict[str, int]


def quote_body(body: bytes) -> str | None:
    """``body`` as an nginx quoted string (``$`` via the ``$dollar`` variable); None if not
    expressible (a NUL byte, not UTF-8, or longer than one configuration token)."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return None
    quoted = '"' + text.translate(_ESCAPES) + '"'
    return None if "\x00" in text or len(quoted) > MAX_BODY_TOKEN else quoted


def skip_reason(host: PolicyHost) -> str | None:
    """Why nginx cannot serve ``host`` exactly as the test internet does (None: it can)."""
    if host.fault is not None:
        return f"fault {host.fault}"
    if host.address_override is not None:
        return "address override"
    if host.headers or host.location is not None or host.status in _REDIRECTS:
        return "headers or redirect"
    if host.content_type is None or '"' in host.content_type:
        return "content type"
    if quote_body(host.body) is None:
        return "body"
    return None


def server_block(name: str, host: PolicyHost, address: str, port: int, cert: Path) -> str:
    """One policy host: its certificate and its answer at the policy path, 404 elsewhere."""
    return (f"server {{\n  listen {address}:{port} ssl;\n  server_name {name};\n"
            f"  ssl_certificate {cert};\n"
            f"  location = {POLICY_PATH} {{\n    default_type \"{host.content_type}\";\n"
            f"    return {host.status} {quote_body(host.body)};\n  }}\n"
            "  location / { return 404; }\n}\n")


def nginx_conf(directory: Path, blocks: Sequence[str], addresses: Sequence[str], port: int,
               names: int) -> str:
    """The whole configuration: one worker, no limits, no TLS resumption, files in
    ``directory``; a default server per address answers unknown names (certificate for
    ``unknown.invalid``, 404)."""
    defaults = "".join(
        f"server {{\n  listen {a}:{port} ssl default_server;\n  server_name _;\n"
        f"  ssl_certificate {directory / 'certs' / UNKNOWN_NAME}.pem;\n  return 404;\n}}\n"
        for a in addresses)
    temp = " ".join(f"{kind}_temp_path {directory / 'tmp' / kind};" for kind in
                    ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (
        "worker_processes 1;\ndaemon off;\n"
        f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        f"  access_log off;\n  server_tokens off;\n  {temp}\n"
        "  types { }\n  keepalive_timeout 0;\n"
        f"  server_names_hash_max_size {max(512, 2 * names)};\n"
        "  server_names_hash_bucket_size 128;\n"
        "  ssl_protocols TLSv1.2 TLSv1.3;\n"
        "  ssl_session_cache off;\n  ssl_session_tickets off;\n"
        f"  ssl_certificate_key {directory / 'leaf.key'};\n"
        '  geo $dollar { default "$"; }\n'
        + defaults + "".join(blocks) + "}\n")


def free_tcp_port(addresses: Sequence[str]) -> int:
    """A TCP port free on every one of ``addresses`` right now."""
    for _ in range(50):
        with contextlib.ExitStack() as stack:
            first = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            first.bind((addresses[0], 0))
            port: int = first.getsockname()[1]
            try:
                for address in addresses[1:]:
                    stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                                        ).bind((address, port))
            except OSError:
                continue
            return port
    raise OSError(f"no TCP port free on all of {', '.join(addresses)}")


def export_site(world: World, directory: Path, ca: TestCA, *,
                plan: AddressPlan | None = None, port: int = 0) -> Site:
    """Certificates and ``nginx.conf`` for every policy host of ``world`` nginx can mirror.

    ``ca`` is the running test internet's CA (so its bundle is the one to trust); port 0 picks
    one free on all the plan's HTTPS addresses.
    """
    plan = plan or AddressPlan()
    directory = directory.resolve()
    for sub in ("certs", "tmp"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    # the key every leaf of this CA instance is issued for (TestCA has no public accessor yet)
    (directory / "leaf.key").write_bytes(ca._leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    pem = serialization.Encoding.PEM
    (directory / "certs" / f"{UNKNOWN_NAME}.pem").write_bytes(
        ca.certificate(UNKNOWN_NAME, CertKind.VALID).public_bytes(pem))
    addresses = plan.https_addresses()
    port = port or free_tcp_port(addresses)
    blocks: list[str] = []
    hosts, skipped = servable(world, plan)
    for name, host, address in hosts:
        cert = directory / "certs" / f"{name}.pem"
        cert.write_bytes(ca.certificate(name, host.cert).public_bytes(pem))
        blocks.append(server_block(name, host, address, port, cert))
    conf = directory / "nginx.conf"
    conf.write_text(nginx_conf(directory, blocks, addresses, port, len(blocks)))
    return Site(conf, port, addresses,
                tuple((n.removeprefix("mta-sts."), a) for n, _, a in hosts), skipped)


def servable(world: World, plan: AddressPlan
             ) -> tuple[list[tuple[str, PolicyHost, str]], dict[str, int]]:
    """(name, host, address) of each policy host nginx can mirror, in world order, and how
    many were left out by reason."""
    hosts: list[tuple[str, PolicyHost, str]] = []
    skipped: dict[str, int] = {}
    for name, host in policy_hosts(world).items():
        reason = skip_reason(host)
        if reason is None:
            hosts.append((name, host, plan.policy_address(name.removeprefix("mta-sts."),
                                                          None, None)))
        else:
            skipped[reason] = skipped.get(reason, 0) + 1
    return hosts, skipped


def servable_hosts(world: World, plan: AddressPlan) -> list[tuple[str, str]]:
    """(domain, address) of the hosts ``export_site`` serves: the HTTPS rows' targets."""
    return [(n.removeprefix("mta-sts."), a) for n, _, a in servable(world, plan)[0]]


def version() -> str:
    """``nginx -v`` (e.g. ``nginx/1.22.1``), or ``unknown``."""
    found = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True, check=False)
    return found.stderr.strip().rsplit(" ", 1)[-1] or "unknown"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise FileNotFoundError("nginx is not installed (apt-get install nginx)")
    return found


@contextlib.contextmanager
def serve(site: Site, *, timeout: float = 120.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run nginx on ``site`` in the foreground for the ``with`` block; yields once every
    address accepts connections (start-up loads one certificate per host)."""
    directory = site.conf.parent
    proc = subprocess.Popen([nginx_binary(), "-p", str(directory), "-c", str(site.conf),
                             "-e", str(directory / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        waiting = list(site.addresses)
        while waiting:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"nginx exited: {err[-2000:]}")
            try:
                socket.create_connection((waiting[0], site.port), timeout=0.5).close()
                waiting.pop(0)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not listen within {timeout:g} s") from None
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()  # SIGTERM: fast shutdown of master and worker
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
