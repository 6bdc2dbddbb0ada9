"""The benchmark's servers and meters: the nginx site export (file by file: nginx itself runs
only in ``make bench``), the test internet without its DNS server, CPU read from ``/proc``."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from benchmarks import https_fetch, nginx, procstat
from survey.scan.config import GuardOptions
from survey.sim.ca import WRONG_NAME, TestCA
from survey.sim.catalogue import catalogue
from survey.sim.dns_server import AddressPlan
from survey.sim.generator import generate_world
from survey.sim.scenario import CertKind, HttpsFault, PolicyHost, Scenario, World
from survey.sim.world import policy_hosts, start_world

#: a generated mix (valid, wrong-name, 404, other content types) plus rarer shapes
WORLD = World((
    *generate_world(400, seed=5).scenarios,
    Scenario("expired.test", policy_host=PolicyHost(body=b"v\n", cert=CertKind.EXPIRED)),
    Scenario("quotes.test", policy_host=PolicyHost(status=500, body=b'"$x" \\ \r\n')),
))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[nginx.Site, TestCA]:
    directory = tmp_path_factory.mktemp("nginx")
    ca = TestCA(directory / "ca")
    return nginx.export_site(WORLD, directory / "site", ca), ca


def test_quote_body_escapes_what_nginx_interprets() -> None:
    assert nginx.quote_body(b'a "b" \\ $x\r\n\t') == '"a \\"b\\" \\\\ ${dollar}x\\r\\n\\t"'
    assert nginx.quote_body(b"version: STSv1\n") == '"version: STSv1\\n"'
    assert nginx.quote_body(b"a\x00b") is None
    assert nginx.quote_body(b"\xff\xfe") is None
    assert nginx.quote_body(b"x" * nginx.MAX_BODY_TOKEN) is None


def test_skip_reasons_cover_what_nginx_cannot_mirror() -> None:
    assert nginx.skip_reason(PolicyHost(body=b"ok")) is None
    assert nginx.skip_reason(PolicyHost(status=404, body=b"no", cert=CertKind.EXPIRED)) is None
    assert nginx.skip_reason(PolicyHost(fault=HttpsFault.TARPIT)) == "fault tarpit"
    assert nginx.skip_reason(PolicyHost(status=301, location="https://x/")) \
        == "headers or redirect"
    assert nginx.skip_reason(PolicyHost(headers=(("X-A", "1"),))) == "headers or redirect"
    assert nginx.skip_reason(PolicyHost(address_override="10.0.0.1")) == "address override"
    assert nginx.skip_reason(PolicyHost(content_type=None)) == "content type"
    hosts, skipped = nginx.servable(World(tuple(catalogue())), AddressPlan())
    assert hosts and skipped.get("fault tarpit")
    assert len(hosts) + sum(skipped.values()) == len(policy_hosts(World(tuple(catalogue()))))


def test_site_serves_every_generated_host_on_the_plan_address(
        site: tuple[nginx.Site, TestCA]) -> None:
    exported, _ = site
    plan = AddressPlan()
    expected = [(n.removeprefix("mta-sts."), plan.policy_address(n.removeprefix("mta-sts."),
                                                                  None, None))
                for n in policy_hosts(WORLD)]
    assert list(exported.hosts) == expected and exported.skipped == {}
    assert exported.hosts == tuple(nginx.servable_hosts(WORLD, plan))
    assert exported.addresses == plan.https_addresses() and exported.port > 1023


def test_conf_has_one_block_per_host_and_no_limits(site: tuple[nginx.Site, TestCA]) -> None:
    exported, _ = site
    conf = exported.conf.read_text()
    assert conf.startswith("worker_processes 1;")
    assert conf.count("{") == conf.count("}")
    assert "limit_req" not in conf and "limit_conn" not in conf
    assert "ssl_session_tickets off;" in conf and "ssl_session_cache off;" in conf
    listens = re.findall(r"listen (\S+):(\d+) ssl", conf)
    assert {a for a, _ in listens} == set(exported.addresses)
    assert {int(p) for _, p in listens} == {exported.port}
    assert all(a.startswith("127.") for a, _ in listens)
    hosts = policy_hosts(WORLD)
    names = re.findall(r"server_name (\S+);", conf)
    assert sorted(n for n in names if n != "_") == sorted(hosts)
    for name, host in hosts.items():
        block = conf[conf.index(f"server_name {name};"):]
        block = block[:block.index("\n}\n")]
        assert f"return {host.status} {nginx.quote_body(host.body)};" in block
        assert f'default_type "{host.content_type}";' in block


def test_certificates_are_the_scenario_kinds_from_the_test_ca(
        site: tuple[nginx.Site, TestCA]) -> None:
    exported, ca = site
    directory = exported.conf.parent
    trusted = x509.load_pem_x509_certificate(ca.bundle_path.read_bytes())
    key = serialization.load_pem_private_key((directory / "leaf.key").read_bytes(), None)
    kinds = set()
    for name, host in policy_hosts(WORLD).items():
        cert = x509.load_pem_x509_certificate((directory / "certs" / f"{name}.pem").read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == \
            [WRONG_NAME if host.cert is CertKind.WRONG_NAME else name]
        assert cert.public_key() == key.public_key()
        cert.verify_directly_issued_by(trusted)  # raises if not signed by the trusted CA
        expired = cert.not_valid_after_utc < dt.datetime.now(dt.UTC)
        assert expired is (host.cert is CertKind.EXPIRED)
        kinds.add(host.cert)
    assert {CertKind.VALID, CertKind.EXPIRED, CertKind.WRONG_NAME} <= kinds


def test_free_tcp_port_is_free_on_every_address() -> None:
    addresses = AddressPlan().https_addresses()
    port = nginx.free_tcp_port(addresses)
    assert port > 1023


def test_world_without_dns_serves_https_and_leaves_the_resolver_out(tmp_path: Path) -> None:
    world = World((Scenario("a.test", policy_host=PolicyHost(body=b"version: STSv1\n")),))
    with start_world(world, tmp_path, dns=False) as running:
        assert running.dns is None and running.dns_query_count() == 0
        assert "--resolver" not in running.scan_args()
        assert "--allow-private" in running.scan_args()
        with pytest.raises(RuntimeError, match="no DNS server"):
            _ = running.resolver
        address = running.plan.policy_address("a.test", None, None)
        context = ssl.create_default_context(cafile=str(running.ca_bundle))
        with httpx.Client(verify=context) as client:
            response = client.get(f"https://{address}:{running.https_port}"
                                  "/.well-known/mta-sts.txt",
                                  headers={"Host": "mta-sts.a.test"},
                                  extensions={"sni_hostname": "mta-sts.a.test"})
        assert response.status_code == 200 and response.content == b"version: STSv1\n"
        assert running.thread_id not in (0, threading.get_native_id())
        assert str(running.thread_id) in os.listdir("/proc/self/task")


def test_thread_cpu_is_that_thread_s_alone() -> None:
    seen: dict[str, float] = {}

    def burn() -> None:
        seen["id"] = threading.get_native_id()
        t = time.thread_time()
        while time.thread_time() - t < 0.3:
            pass
        seen["cpu"] = procstat.thread_cpu_seconds(threading.get_native_id())

    thread = threading.Thread(target=burn)
    thread.start()
    thread.join()
    assert 0.25 <= seen["cpu"] < 1.0
    assert procstat.thread_cpu_seconds(-1) == 0.0  # no such thread


@pytest.mark.slow
def test_tree_cpu_counts_a_child_and_its_grandchild() -> None:
    burn = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\n" \
           "time.sleep(30)"
    code = (f"import subprocess,sys; subprocess.Popen([sys.executable,'-c',{burn!r}]); "
            f"exec({burn!r})")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while procstat.tree_cpu_seconds(proc.pid) < 0.6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(procstat.descendants(proc.pid)) == 1
        assert 0.6 <= procstat.tree_cpu_seconds(proc.pid) < 2.0
        assert procstat.stat_cpu_seconds(f"/proc/{proc.pid}/stat") < 1.0  # its own only
    finally:
        for pid in procstat.descendants(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
    assert procstat.tree_cpu_seconds(proc.pid) == 0.0  # gone: nothing to count


def test_machine_busy_seconds_grow_with_work() -> None:
    before = procstat.machine_busy_seconds()
    t = time.process_time()
    while time.process_time() - t < 0.2:
        pass
    assert procstat.machine_busy_seconds() - before >= 0.15


def test_fetch_defaults_follow_the_scan() -> None:
    scan_default = GuardOptions().per_destination
    assert scan_default == https_fetch.PER_DESTINATION
    lines = ["a.test 127.1.0.1", "b.test 127.1.0.2", ""]
    assert https_fetch.targets_from(lines, 5, 2) == [
        ("a.test", "127.1.0.1"), ("b.test", "127.1.0.2"), ("a.test", "127.1.0.1"),
        ("b.test", "127.1.0.2"), ("a.test", "127.1.0.1")]
    assert https_fetch.targets_from([], 5, 2) == []
