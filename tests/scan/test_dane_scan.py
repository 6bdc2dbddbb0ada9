"""DANE and DNSSEC end to end (issue 16): `scan` of a world with signed, insecure and bogus
names, through the sim's validating resolver and through one that does not validate; the rows'
DNSSEC, DANE and sender columns and the manifest's ``resolver_validates``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from survey.cli import main
from survey.dataset.sink import read_manifest
from survey.sim.catalogue import policy_body
from survey.sim.scenario import (
    DNSSEC_CHECK_NAME,
    Dnssec,
    MxHost,
    PolicyHost,
    Scenario,
    Tlsa,
    World,
)
from survey.sim.world import RunningWorld, start_world

#: scans, subprocesses and servers end to end: seconds each (`pytest -m "not slow"` skips them)
pytestmark = pytest.mark.slow

FAST = ["--timeout", "3", "--dns-timeout", "2", "--retries", "1", "--no-progress"]
WRONG = "00" * 32  # association data that matches no certificate


def _enforce(domain: str, mx: tuple[MxHost, ...], **kw: Any) -> Scenario:
    """An MTA-STS enforce domain whose policy lists its MX hosts."""
    return Scenario(domain, mx=mx, sts_txt=(("v=STSv1; id=1",),),
                    tlsrpt_txt=((f"v=TLSRPTv1; rua=mailto:r@{domain}",),),
                    policy_host=PolicyHost(body=policy_body("enforce", tuple(h.name for h in mx))),
                    **kw)


def _mx(domain: str, *tlsa: Tlsa, **kw: Any) -> MxHost:
    return MxHost(f"mx.{domain}", tlsa=tlsa, **kw)


SEC = Dnssec.SECURE
WORLD = World((
    _enforce("both.test", (_mx("both.test", Tlsa(3, 1, 1)),), dnssec=SEC),
    Scenario("ee.test", mx=(_mx("ee.test", Tlsa(3, 0, 2)),), dnssec=SEC),
    Scenario("ta.test", mx=(_mx("ta.test", Tlsa(2, 0, 1)),), dnssec=SEC),
    _enforce("conflict.test", (_mx("conflict.test", Tlsa(3, 1, 1, WRONG)),), dnssec=SEC),
    Scenario("pkix.test", mx=(_mx("pkix.test", Tlsa(1, 1, 1)),), dnssec=SEC),
    Scenario("partial.test", mx=(MxHost("mx1.partial.test", tlsa=(Tlsa(),)),
                                 MxHost("mx2.partial.test", preference=20)), dnssec=SEC),
    Scenario("bogus-tlsa.test", mx=(_mx("bogus-tlsa.test", Tlsa(), tlsa_dnssec=Dnssec.BOGUS),),
             dnssec=SEC),
    Scenario("unsigned.test", mx=(_mx("unsigned.test", Tlsa()),)),
    _enforce("plain-sts.test", (_mx("plain-sts.test"),)),
    Scenario("bogus.test", mx=(_mx("bogus.test", Tlsa()),), sts_txt=(("v=STSv1; id=2",),),
             dnssec=Dnssec.BOGUS),
))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorld]:
    with start_world(WORLD, tmp_path_factory.mktemp("daneworld")) as running:
        yield running


def scan(world: RunningWorld, out: Path, *extra: str) -> dict[str, dict[str, Any]]:
    code = main(["scan", str(world.toplist), "-o", str(out), *world.scan_args(), *FAST,
                 "--smtp", "--dnssec-check", DNSSEC_CHECK_NAME, *extra])
    assert code == 0
    return {r["domain"]: r for r in pq.read_table(out / "parts").to_pylist()}


def _dane(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["dane"], row["sender_mechanism"], row["sender_protection"],
            tuple(sorted(m for m in row["mistakes"])))


def test_dane_verdicts_through_a_validating_resolver(world: RunningWorld, tmp_path: Path
                                                     ) -> None:
    rows = scan(world, tmp_path / "out")
    manifest = read_manifest(tmp_path / "out")
    assert manifest is not None and manifest["resolver_validates"] is True
    assert manifest["options"]["tlsa"] == "secure"
    assert {d: _dane(r) for d, r in rows.items()} == {
        "both.test": ("usable", "dane", "authenticated", ()),
        "ee.test": ("usable", "dane", "authenticated", ()),
        "ta.test": ("usable", "dane", "authenticated", ()),
        "conflict.test": ("usable", "dane", "deferred", ("dane_mismatch", "dane_sts_conflict")),
        "pkix.test": ("partial", "dane", "encrypted", ("tlsa_unusable_usage",)),
        "partial.test": ("partial", "dane", "none", ("tlsa_partial",)),
        "bogus-tlsa.test": ("bogus", "dane", "deferred", ("tlsa_bogus",)),
        "unsigned.test": ("none", "none", "none", ()),  # insecure MX: TLSA not looked up
        "plain-sts.test": ("none", "mta-sts", "authenticated", ()),
        "bogus.test": ("bogus", "dane", "deferred", ("dnssec_bogus",)),
    }
    both = rows["both.test"]
    assert (both["status"], both["sts_txt_dnssec"], both["mx_dnssec"], both["tlsrpt_dnssec"],
            both["policy_host_dnssec"]) == ("enforce", "secure", "secure", "secure", "secure")
    [host] = both["dane_hosts"]
    assert host["host"] == "mx.both.test" and host["usable"] is True
    assert (host["tlsa_dnssec"], host["address_dnssec"], host["smtp_dane"]) == (
        "secure", "secure", "valid")
    assert len(host["tlsa"]) == 1 and host["tlsa"][0].startswith("3 1 1 ")
    assert rows["ta.test"]["dane_hosts"][0]["smtp_dane"] == "valid"  # the CA of the chain
    assert rows["conflict.test"]["dane_hosts"][0]["smtp_dane"] == "mismatch"
    assert [h["usable"] for h in rows["partial.test"]["dane_hosts"]] == [True, False]
    assert rows["pkix.test"]["dane_hosts"][0]["smtp_dane"] is None  # nothing usable to check
    assert rows["unsigned.test"]["dane_hosts"] == [] and rows["unsigned.test"]["mx_dnssec"] == \
        "insecure"
    bogus = rows["bogus.test"]
    # validating senders see SERVFAIL for the _mta-sts record: the domain's fault, not ours
    assert (bogus["status"], bogus["sts_txt_dnssec"], bogus["mx_dnssec"]) == (
        "invalid", "bogus", "bogus")
    assert bogus["sts_dns_status"] == "SERVFAIL"
    assert rows["bogus-tlsa.test"]["dane_hosts"][0]["tlsa_dnssec"] == "bogus"


def test_tlsa_all_finds_records_in_unsigned_zones(world: RunningWorld, tmp_path: Path) -> None:
    rows = scan(world, tmp_path / "out", "--tlsa", "all")
    unsigned = rows["unsigned.test"]
    assert _dane(unsigned) == ("insecure", "none", "none", ("tlsa_insecure",))
    assert unsigned["dane_hosts"][0]["tlsa_dnssec"] == "insecure"
    assert rows["plain-sts.test"]["dane"] == "none"  # looked up, nothing there
    assert rows["both.test"]["dane"] == "usable"


def test_a_resolver_that_does_not_validate_is_said_plainly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with start_world(WORLD, tmp_path / "world", validating=False) as running:
        rows = scan(running, tmp_path / "out")
    manifest = read_manifest(tmp_path / "out")
    assert manifest is not None and manifest["resolver_validates"] is False
    captured = capsys.readouterr()
    assert "does not validate DNSSEC" in captured.err and "mean nothing" in captured.err
    assert "does NOT validate" in captured.out
    # no answer is secure, so no TLSA lookups: what the columns then say is meaningless
    assert {r["mx_dnssec"] for r in rows.values()} == {"insecure"}
    assert {r["dane"] for r in rows.values()} == {"none"}


def test_the_real_thing_signed_zones_nsd_and_unbound(tmp_path: Path) -> None:
    """Zones signed with ldns-signzone, served by NSD, validated by Unbound (survey.sim.signed):
    the scan reaches the same DANE verdicts as through the sim's resolver."""
    from survey.sim.signed import export_signed, serve_signed
    from tests.sim.test_dnssec_live import free_udp_port

    nsd = ("127.53.17.1", free_udp_port("127.53.17.1"))
    unbound = ("127.53.17.2", free_udp_port("127.53.17.2"))
    with start_world(WORLD, tmp_path / "world", dns=False) as running:
        export = export_signed(WORLD, tmp_path / "zones", nsd=nsd, unbound=unbound,
                               tlsa=running.ca)
        with serve_signed(export, nsd=nsd, unbound=unbound) as address:
            code = main(["scan", str(running.toplist), "-o", str(tmp_path / "out"),
                         *running.scan_args(), "--resolver", f"{address[0]}:{address[1]}",
                         *FAST, "--smtp", "--dnssec-check", DNSSEC_CHECK_NAME])
    assert code == 0
    manifest = read_manifest(tmp_path / "out")
    assert manifest is not None and manifest["resolver_validates"] is True
    rows = {r["domain"]: r for r in pq.read_table(tmp_path / "out" / "parts").to_pylist()}
    assert {d: r["dane"] for d, r in rows.items()} == {
        "both.test": "usable", "ee.test": "usable", "ta.test": "usable",
        "conflict.test": "usable", "pkix.test": "partial", "partial.test": "partial",
        "bogus-tlsa.test": "bogus", "unsigned.test": "none", "plain-sts.test": "none",
        "bogus.test": "bogus"}
    assert rows["both.test"]["dane_hosts"][0]["smtp_dane"] == "valid"
    assert rows["conflict.test"]["dane_hosts"][0]["smtp_dane"] == "mismatch"
    assert (rows["both.test"]["status"], rows["both.test"]["mx_dnssec"]) == ("enforce", "secure")
    assert rows["plain-sts.test"]["sender_mechanism"] == "mta-sts"
    assert (rows["bogus.test"]["status"], rows["bogus.test"]["sts_txt_dnssec"]) == (
        "invalid", "bogus")


def test_check_prints_the_dnssec_and_dane_part(world: RunningWorld,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "conflict.test", *world.scan_args(), *FAST[:-1], "--smtp"])
    captured = capsys.readouterr()
    out = captured.out
    assert "not checked (--dnssec-check NAME)" in captured.err  # TLSA looked up, unchecked
    assert code == 5  # enforce, with error-severity mistakes (dane_mismatch)
    assert "MX secure" in out and "_mta-sts secure" in out
    assert "mx.conflict.test: 3 1 1 " + "00" * 32 in out and "chain mismatch" in out
    assert "DANE                  usable; a sender with MTA-STS and DANE applies dane " \
        "(deferred)" in out
    assert "- dane_sts_conflict (warning, RFC 8461 §2)" in out
    code = main(["check", "unsigned.test", *world.scan_args(), *FAST[:-1]])
    captured = capsys.readouterr()
    assert "TLSA                  not looked up" in captured.out
    assert "MX insecure" in captured.out and captured.err == ""
    main(["check", "ee.test", *world.scan_args(), *FAST[:-1], "--dnssec-check",
          DNSSEC_CHECK_NAME])
    assert capsys.readouterr().err == ""  # the resolver validates: nothing to warn of
