"""Zone-file export: parses with dnspython, holds the world's records, and NSD serves it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from survey.sim.dns_server import AddressPlan
from survey.sim.scenario import DnsFault, MxHost, PolicyHost, Scenario, World
from survey.sim.zonefile import UNEXPRESSED_FAULTS, export_world

NSD_ADDRESS = "127.53.7.1"
PLAN = AddressPlan()
WORLD = World((
    Scenario("ok.test", mx=(MxHost("mx1.provider.example"),),
             sts_txt=(("v=STSv1;", ' id="1"\\'),),
             tlsrpt_txt=(("v=TLSRPTv1; rua=mailto:r@ok.test",),),
             policy_host=PolicyHost(cname_chain=("alias.ok.test", "sts.ok.test"))),
    Scenario("nullmx.test", mx=(MxHost("", 0),), sts_cname="rec.nullmx.test",
             sts_txt=(("v=STSv1; id=2",),)),
    Scenario("faults.test", mx=(MxHost("mx.faults.test"),), sts_txt=(("v=STSv1; id=3",),),
             tlsrpt_txt=(("v=TLSRPTv1;",),),
             dns_faults=(("_mta-sts.faults.test", DnsFault.CNAME_LOOP),
                         ("_smtp._tls.faults.test", DnsFault.NODATA),
                         ("mx.faults.test", DnsFault.NXDOMAIN),
                         ("faults.test", DnsFault.SERVFAIL))),
    # declared addresses: both families for the policy host, an AAAA-only MX host
    Scenario("v6.test", mx=(MxHost("mx.v6.test", addresses=("fe80::1", "::ffff:10.0.0.1")),),
             policy_host=PolicyHost(addresses=("10.0.0.1", "fc00::1"))),
))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_world(WORLD, tmp_path_factory.mktemp("zones"), address=NSD_ADDRESS,
                        port=free_udp_port(NSD_ADDRESS))


def free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def rdatas(zone: dns.zone.Zone, name: str, rdtype: str) -> list[str]:
    rdataset = zone.get_rdataset(name, rdtype)
    return sorted(rd.to_text() for rd in rdataset) if rdataset else []


def test_zone_files_parse_and_hold_the_records(exported: Path) -> None:
    directory = exported.parent
    assert sorted(p.name for p in directory.glob("*.zone")) == ["example.zone", "test.zone"]
    test = dns.zone.from_file(str(directory / "test.zone"), origin="test.", relativize=False)
    example = dns.zone.from_file(str(directory / "example.zone"), origin="example.",
                                 relativize=False)
    assert rdatas(test, "_mta-sts.ok.test.", "TXT") == ['"v=STSv1;" " id=\\"1\\"\\\\"']
    assert rdatas(test, "ok.test.", "MX") == ["10 mx1.provider.example."]
    assert rdatas(test, "mta-sts.ok.test.", "CNAME") == ["alias.ok.test."]
    assert rdatas(test, "alias.ok.test.", "CNAME") == ["sts.ok.test."]
    assert rdatas(test, "sts.ok.test.", "A") == [PLAN.policy_address("ok.test", None)]
    assert rdatas(test, "nullmx.test.", "MX") == ["0 ."]
    assert rdatas(test, "_mta-sts.nullmx.test.", "CNAME") == ["rec.nullmx.test."]
    assert rdatas(example, "mx1.provider.example.", "A")[0] in PLAN.smtp_addresses()
    # faults: loop, NODATA as another type only, NXDOMAIN as nothing, SERVFAIL left out
    assert rdatas(test, "_mta-sts.faults.test.", "CNAME") == ["loop1.faults.test."]
    assert rdatas(test, "loop2.faults.test.", "CNAME") == ["loop1.faults.test."]
    assert rdatas(test, "_smtp._tls.faults.test.", "TXT") == []
    assert rdatas(test, "_smtp._tls.faults.test.", "HINFO") == ['"sim" "nodata"']
    assert test.get_node("mx.faults.test.") is None
    assert DnsFault.SERVFAIL in UNEXPRESSED_FAULTS
    assert rdatas(test, "faults.test.", "MX") == ["10 mx.faults.test."]
    assert rdatas(test, "mta-sts.v6.test.", "A") == ["10.0.0.1"]
    assert rdatas(test, "mta-sts.v6.test.", "AAAA") == ["fc00::1"]
    assert rdatas(test, "mx.v6.test.", "A") == []
    assert rdatas(test, "mx.v6.test.", "AAAA") == ["::ffff:10.0.0.1", "fe80::1"]
    config = exported.read_text()
    assert "rrl-ratelimit: 0" in config and f"ip-address: {NSD_ADDRESS}@" in config


def ensure_nsd() -> str:
    """Path of ``nsd``; installed with apt-get when missing and running as root (as CI is)."""
    path = shutil.which("nsd") or shutil.which("nsd", path="/usr/sbin")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "nsd"], check=True, env=env,
                       capture_output=True, timeout=300)
        path = shutil.which("nsd") or shutil.which("nsd", path="/usr/sbin")
    if path is None:
        pytest.fail("nsd is not installed and cannot be: run `apt-get install nsd` as root")
    return path


@pytest.fixture(scope="module")
def nsd(exported: Path) -> Iterator[tuple[str, int]]:
    port = int(exported.read_text().split(f"{NSD_ADDRESS}@")[1].split()[0])
    proc = subprocess.Popen([ensure_nsd(), "-d", "-c", str(exported)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                dns.query.udp(dns.message.make_query("ok.test", "MX"), NSD_ADDRESS, port=port,
                              timeout=0.2)
                break
            except (dns.exception.Timeout, ConnectionRefusedError):
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
                assert time.monotonic() < deadline, "nsd did not start"
        yield NSD_ADDRESS, port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def query(server: tuple[str, int], name: str, rdtype: str) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, rdtype), server[0], port=server[1],
                         timeout=2)


def test_nsd_serves_the_export(nsd: tuple[str, int]) -> None:
    txt = query(nsd, "_mta-sts.ok.test", "TXT")
    assert txt.rcode() == dns.rcode.NOERROR
    assert txt.answer[0][0].strings == (b"v=STSv1;", b' id="1"\\')
    chain = query(nsd, "mta-sts.ok.test", "A")
    assert [dns.rdatatype.to_text(r.rdtype) for r in chain.answer] == ["CNAME", "CNAME", "A"]
    assert chain.answer[-1][0].address == PLAN.policy_address("ok.test", None)
    assert query(nsd, "nothing.ok.test", "A").rcode() == dns.rcode.NXDOMAIN
    assert query(nsd, "mx.faults.test", "A").rcode() == dns.rcode.NXDOMAIN
    nodata = query(nsd, "_smtp._tls.faults.test", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    null = query(nsd, "nullmx.test", "MX")
    assert null.answer[0][0].to_text() == "0 ."
    mx_host = query(nsd, "mx1.provider.example", "A")
    assert mx_host.answer[0][0].address in PLAN.smtp_addresses()
    aaaa = query(nsd, "mx.v6.test", "AAAA")
    assert sorted(rd.address for rd in aaaa.answer[0]) == ["::ffff:10.0.0.1", "fe80::1"]
    only_aaaa = query(nsd, "mx.v6.test", "A")  # NODATA: what makes a scanner ask AAAA
    assert only_aaaa.rcode() == dns.rcode.NOERROR and not only_aaaa.answer
    assert [rd.address for rd in query(nsd, "mta-sts.v6.test", "AAAA").answer[0]] == ["fc00::1"]
