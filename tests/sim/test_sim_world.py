"""The running test internet: every catalogue policy host answers as declared, fetched with httpx
over TLS (SNI, the world's CA bundle) at the address the world's DNS gives; clean teardown."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx
import pytest

from survey.sim.catalogue import catalogue
from survey.sim.dns_server import AddressPlan
from survey.sim.generator import generate_world
from survey.sim.scenario import (
    CertKind,
    Dnssec,
    HttpsFault,
    PolicyHost,
    Scenario,
    SmtpBehaviour,
    World,
)
from survey.sim.world import RunningWorld, mx_hosts, policy_hosts, start_world
from tests.conftest import WorldFactory

WITH_POLICY_HOST = [s for s in catalogue() if s.policy_host is not None]


def resolve(world: RunningWorld, name: str) -> tuple[int, list[str]]:
    host, port = world.resolver
    query = dns.message.make_query(name, "A")
    query.flags |= dns.flags.CD  # the data even where it is DNSSEC-bogus (sim/test_sim_dnssec)
    msg = dns.query.udp(query, host, port=port, timeout=2)
    return msg.rcode(), [rd.address for rrset in msg.answer
                         if rrset.rdtype == dns.rdatatype.A for rd in rrset]


def fetch(world: RunningWorld, domain: str, address: str, timeout: float = 2.0) -> httpx.Response:
    context = ssl.create_default_context(cafile=str(world.ca_bundle))
    name = f"mta-sts.{domain}"
    with httpx.Client(verify=context, timeout=timeout) as client:
        return client.get(f"https://{address}:{world.https_port}/.well-known/mta-sts.txt",
                          headers={"Host": name}, extensions={"sni_hostname": name})


def test_scan_args_and_files(catalogue_world: RunningWorld) -> None:
    w = catalogue_world
    host, port = w.resolver
    assert w.scan_args() == ["--resolver", f"{host}:{port}", "--ca-bundle", str(w.ca_bundle),
                             "--https-port", str(w.https_port), "--smtp-port", str(w.smtp_port),
                             "--allow-private"]
    assert host.startswith("127.") and port > 0 and w.https_port > 0 and w.smtp_port > 0
    lines = w.toplist.read_text().splitlines()
    assert lines == [f"{i},{s.domain}" for i, s in enumerate(catalogue(), 1)]
    assert w.ca_bundle.read_text().count("BEGIN CERTIFICATE") == 1


def test_host_maps() -> None:
    world = World(tuple(catalogue()))
    hosts = policy_hosts(world)
    assert len(hosts) == len(WITH_POLICY_HOST)
    assert all(name.startswith("mta-sts.") for name in hosts)
    assert "mx1.enforce-ok.test" in mx_hosts(world)
    assert "" not in mx_hosts(world)


def _check(world: RunningWorld, sc: Scenario, host: PolicyHost) -> None:
    rcode, addresses = resolve(world, f"mta-sts.{sc.domain}")
    fault = sc.fault_for(f"mta-sts.{sc.domain}")
    if fault is not None:
        assert rcode != dns.rcode.NOERROR and not addresses
        return
    (address,) = addresses
    plan = world.plan
    assert address == plan.policy_address(sc.domain, host.fault, host.address_override)
    if host.address_override is not None:
        return  # the scanner must not connect there (its guard); nothing listens
    if host.fault is HttpsFault.REFUSED:
        with pytest.raises(httpx.ConnectError):
            fetch(world, sc.domain, address)
    elif host.fault is HttpsFault.TARPIT:
        with pytest.raises(httpx.TimeoutException):
            fetch(world, sc.domain, address, timeout=0.3)
    elif host.fault is HttpsFault.SLOW_DRIP:
        with pytest.raises(httpx.ReadTimeout):
            fetch(world, sc.domain, address, timeout=0.3)
    elif host.fault is HttpsFault.ENDLESS_BODY:
        _check_endless(world, sc.domain, address)
    elif host.cert is not CertKind.VALID:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            fetch(world, sc.domain, address)
    else:
        response = fetch(world, sc.domain, address)
        assert response.status_code == host.status
        assert response.content == host.body
        assert response.headers.get("content-type") == host.content_type
        assert response.headers.get("location") == host.location


def _check_endless(world: RunningWorld, domain: str, address: str) -> None:
    context = ssl.create_default_context(cafile=str(world.ca_bundle))
    name = f"mta-sts.{domain}"
    received = 0
    with httpx.Client(verify=context, timeout=2) as client, client.stream(
            "GET", f"https://{address}:{world.https_port}/.well-known/mta-sts.txt",
            headers={"Host": name}, extensions={"sni_hostname": name}) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            received += len(chunk)
            if received > 200_000:
                break
    assert received > 200_000


@pytest.mark.slow
@pytest.mark.parametrize("scenario", WITH_POLICY_HOST, ids=lambda s: s.name)
def test_policy_host_answers_as_declared(catalogue_world: RunningWorld,
                                         scenario: Scenario) -> None:
    assert scenario.policy_host is not None
    _check(catalogue_world, scenario, scenario.policy_host)


def test_no_policy_host_is_nxdomain(catalogue_world: RunningWorld) -> None:
    for sc in catalogue():
        if sc.policy_host is None and not sc.dns_faults:
            assert resolve(catalogue_world, f"mta-sts.{sc.domain}")[0] == dns.rcode.NXDOMAIN


def _bindable(address: str, port: int, kind: socket.SocketKind) -> bool:
    """Free to bind as a server would (SO_REUSEADDR: TIME_WAIT of closed connections is fine,
    a listener still open is not)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        if kind == socket.SOCK_STREAM:  # for UDP it would let two sockets share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
        return True


def test_teardown_frees_every_port(tmp_path: Path) -> None:
    world = World(tuple(catalogue()[:3]))
    plan = AddressPlan(https_pool=2, smtp_pool=2)
    with start_world(world, tmp_path, plan=plan) as running:
        host, port = running.resolver
        assert not _bindable(host, port, socket.SOCK_DGRAM)
        assert not _bindable(plan.https_addresses()[1], running.https_port, socket.SOCK_STREAM)
        assert not _bindable(plan.smtp_tarpit, running.smtp_port, socket.SOCK_STREAM)
        assert fetch(running, world.scenarios[0].domain,
                     plan.policy_address(world.scenarios[0].domain, None)).status_code == 200
    assert _bindable(host, port, socket.SOCK_DGRAM)
    assert _bindable(host, port, socket.SOCK_STREAM)
    for address in (*plan.https_addresses(), plan.https_tarpit):
        assert _bindable(address, running.https_port, socket.SOCK_STREAM)
    for address in (*plan.smtp_addresses(), plan.smtp_no_starttls, plan.smtp_tarpit):
        assert _bindable(address, running.smtp_port, socket.SOCK_STREAM)


def test_start_error_is_raised_in_the_caller(make_world: WorldFactory) -> None:
    first = make_world(World(tuple(catalogue()[:1])))
    with pytest.raises(OSError):
        make_world(World(tuple(catalogue()[:1])), dns_port=first.resolver[1])
    assert resolve(first, f"mta-sts.{catalogue()[0].domain}")[0] == dns.rcode.NOERROR


@pytest.mark.slow
def test_sim_command_serves_until_interrupted(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "survey", "sim", "--scenarios", "20", "--seed", "3",
         "--signed", "0.5", "--dir", str(tmp_path)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        while not (line := proc.stdout.readline()).startswith("Ctrl-C"):
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line.strip())
        resolver = next(x for x in lines if x.startswith("resolver:")).split()[1]
        host, port = resolver.rsplit(":", 1)
        command = next(x for x in lines if x.startswith("mta-sts-survey scan"))
        assert f"--resolver {resolver}" in command and "--allow-private" in command
        assert "--dnssec-check dnssec-check.test" in command
        toplist = (tmp_path / "toplist.csv").read_text().splitlines()
        assert len(toplist) == 20 and toplist[0].startswith("1,d1-")
        for name, rcode in ((toplist[0].split(",")[1], dns.rcode.NOERROR),
                            ("d1-nothing.test", dns.rcode.NXDOMAIN)):
            msg = dns.query.udp(dns.message.make_query(name, "MX"), host, port=int(port),
                                timeout=2)
            assert msg.rcode() == rcode
        signed = generate_world(20, 3, signed=0.5)  # --signed: what the command serves
        secure = [s.domain for s in signed.scenarios if s.dnssec is Dnssec.SECURE]
        assert secure
        for name in secure:
            query = dns.message.make_query(name, "MX")
            query.flags |= dns.flags.AD
            msg = dns.query.udp(query, host, port=int(port), timeout=2)
            assert msg.flags & dns.flags.AD, name
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _bindable(host, int(port), socket.SOCK_DGRAM)


def test_sim_command_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    from survey.cli import main

    for argv in (["sim", "--scenarios", "many"], ["sim", "--scenarios", "0"],
                 ["sim", "--dns-port", "70000"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    assert "catalogue" in capsys.readouterr().err


def _read_reply(sock: socket.socket | ssl.SSLSocket) -> str:
    """One SMTP reply (all lines of a multi-line one)."""
    data = b""
    while True:
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        data += chunk
        last = data.split(b"\r\n")[-2] if data.endswith(b"\r\n") else b""
        if len(last) >= 4 and last[3:4] == b" ":
            return data.decode()


def smtp_check(address: str, port: int, name: str, ca_bundle: Path) -> str:
    """Banner, EHLO and STARTTLS to ``address``:``port`` with SNI ``name``: what happened."""
    with socket.create_connection((address, port), timeout=2) as sock:
        assert _read_reply(sock).startswith("220")
        sock.sendall(b"EHLO scanner.test\r\n")
        ehlo = _read_reply(sock)
        assert ehlo.startswith("250")
        if "STARTTLS" not in ehlo.upper():
            return "no_starttls"
        sock.sendall(b"STARTTLS\r\n")
        assert _read_reply(sock).startswith("220")
        context = ssl.create_default_context(cafile=str(ca_bundle))
        try:
            with context.wrap_socket(sock, server_hostname=name) as tls:
                tls.sendall(b"EHLO scanner.test\r\n")
                assert _read_reply(tls).startswith("250")
        except ssl.SSLCertVerificationError:
            return "cert_invalid"
        return "starttls"


MX_HOSTS = {m.name: m for s in catalogue() for m in s.mx if m.name}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MX_HOSTS))
def test_mx_host_answers_as_declared(catalogue_world: RunningWorld, name: str) -> None:
    host = MX_HOSTS[name]
    sc = next(s for s in catalogue() if host in s.mx)
    _, addresses = resolve(catalogue_world, name)
    if sc.fault_for(name) is not None:
        return  # the DNS fault decides (tests/sim/test_sim_dns.py)
    (address,) = addresses
    assert address == catalogue_world.plan.mx_address(host)
    port = catalogue_world.smtp_port
    if host.smtp is SmtpBehaviour.REFUSED:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, port), timeout=2).close()
    elif host.smtp is SmtpBehaviour.TARPIT:
        with socket.create_connection((address, port), timeout=0.3) as sock, \
                pytest.raises(TimeoutError):
            sock.recv(1)
    elif host.smtp is SmtpBehaviour.NO_STARTTLS:
        assert smtp_check(address, port, name, catalogue_world.ca_bundle) == "no_starttls"
    else:
        expected = "starttls" if host.cert is CertKind.VALID else "cert_invalid"
        assert smtp_check(address, port, name, catalogue_world.ca_bundle) == expected
