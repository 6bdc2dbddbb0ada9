"""survey.probes.tls: error details that say why, and the trust store a run records.

The details are checked against the test internet's servers (survey.sim) over real TLS on
loopback: a host that answers the ClientHello with non-TLS bytes (httpx raises a ConnectError
with an empty message there), and policy hosts whose certificates fail.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import certifi
import pytest
import trio

from survey.core.observations import FetchError, HttpsFetch
from survey.probes import tls
from survey.probes.https import HttpsConfig, PolicyFetcher
from survey.probes.net import AddressGuard, DestinationLimiter
from survey.sim.ca import TestCA
from survey.sim.hostile import Hostile, HostileServer
from survey.sim.https_server import PolicyHttpsServer
from survey.sim.scenario import CertKind, PolicyHost

POLICY = b"version: STSv1\nmode: enforce\nmx: mx.tls.test\nmax_age: 86400\n"


# --- detail ------------------------------------------------------------------------------------

def _wrapped(outer: BaseException, *inner: BaseException) -> BaseException:
    """``outer`` raised from the chain ``inner`` (first the nearest), as httpx and trio do."""
    for exc, cause in zip((outer, *inner), inner, strict=False):
        exc.__cause__ = cause
    return outer


def test_detail_of_an_empty_message_names_the_first_cause_that_says_why() -> None:
    exc = _wrapped(ConnectionError(), trio.BrokenResourceError(),
                   ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"))
    assert tls.detail(exc) == \
        "ConnectionError: SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number"


def test_detail_of_a_context_chain_and_of_a_message_kept_as_it_is() -> None:
    try:
        try:
            raise OSError(113, "No route to host")
        except OSError:
            raise TimeoutError from None  # suppressed context is still the chain's evidence
    except TimeoutError as exc:
        assert tls.detail(exc) == "TimeoutError: OSError: [Errno 113] No route to host"
    told = _wrapped(ValueError("bad\r\nline"), OSError("hidden"))
    assert tls.detail(told) == "ValueError: bad  line"  # its own message: no cause appended
    assert tls.detail(RuntimeError()) == "RuntimeError: "  # nothing anywhere says more
    long = _wrapped(RuntimeError(), OSError("x" * 1000))
    assert len(tls.detail(long)) == tls.MAX_DETAIL


# --- against the test internet -----------------------------------------------------------------

def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def _fetch_all(ca: TestCA, serve: list[tuple[str, int, object]], port: int,
               domains: dict[str, str]) -> dict[str, HttpsFetch]:
    """Run the servers (``(address, port, server)``), fetch ``domain -> address`` once each."""
    got: dict[str, HttpsFetch] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for address, server_port, server in serve:
                if isinstance(server, PolicyHttpsServer):
                    await nursery.start(server.serve, address, server_port)
                else:
                    assert isinstance(server, HostileServer)
                    await nursery.start(server.serve)
            config = HttpsConfig(port=port, timeout=5.0, connect_timeout=2.0,
                                 ca_bundle=ca.bundle_path)
            async with PolicyFetcher(config, guard=AddressGuard(allow_private=True),
                                     destinations=DestinationLimiter(4)) as fetcher:
                for domain, address in domains.items():
                    got[domain] = await fetcher.fetch(domain, [address])
            nursery.cancel_scope.cancel()

    trio.run(main)
    return got


def test_details_from_the_test_internet_say_why(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    policy_address, garbage_address = "127.77.3.1", "127.77.3.2"
    port = _free_port(policy_address)
    hosts = {f"mta-sts.{kind.value.replace('_', '-')}.test": PolicyHost(body=POLICY, cert=kind)
             for kind in (CertKind.EXPIRED, CertKind.SELF_SIGNED, CertKind.WRONG_NAME)}
    garbage = HostileServer(Hostile.TLS_GARBAGE, garbage_address, port, ca)
    got = _fetch_all(ca, [(policy_address, port, PolicyHttpsServer(ca, hosts)),
                          (garbage_address, port, garbage)], port, {
        "expired.test": policy_address, "self-signed.test": policy_address,
        "wrong-name.test": policy_address, "garbage.test": garbage_address})
    why = {
        "expired.test": (FetchError.CERT_EXPIRED, "certificate has expired"),
        "self-signed.test": (FetchError.CERT_UNTRUSTED, "self-signed certificate"),
        "wrong-name.test": (FetchError.CERT_NAME_MISMATCH, "Hostname mismatch"),
        # httpx's ConnectError has no message here: the ssl error under it says why
        "garbage.test": (FetchError.HANDSHAKE_ERROR, "SSLError: [SSL: "),
    }
    for domain, (error, reason) in why.items():
        fetch = got[domain]
        assert fetch.error is error, (domain, fetch.error_detail)
        assert fetch.error_detail and reason in fetch.error_detail, (domain, fetch.error_detail)
    assert got["garbage.test"].error_detail.startswith("ConnectError: SSLError: ")  # type: ignore[union-attr]
    assert garbage.connections == 1


# --- the trust store ---------------------------------------------------------------------------

def _paths(cafile: Path | None, capath: Path | None) -> ssl.DefaultVerifyPaths:
    """OpenSSL's defaults as ``ssl`` reports them (a path it did not find is reported as None;
    typeshed says str, so "" stands for it here)."""
    return ssl.DefaultVerifyPaths("" if cafile is None else str(cafile),
                                  "" if capath is None else str(capath),
                                  "SSL_CERT_FILE", "", "SSL_CERT_DIR", "")


def test_trust_store_is_the_system_one_where_it_exists(tmp_path: Path) -> None:
    bundle = tmp_path / "system.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    empty = tmp_path / "certs"
    empty.mkdir()
    store = tls.trust_store(Path("/x/ca.pem"), _paths(bundle, empty))
    assert store.describe() == {
        "source": "system", "system_cafile": str(bundle), "system_capath": None,
        "certifi_cafile": None, "certifi_version": None, "ca_bundle": "/x/ca.pem"}
    (empty / "0123abcd.0").write_bytes(b"")
    only_dir = tls.trust_store(None, _paths(tmp_path / "missing.pem", empty))
    assert (only_dir.source, only_dir.system_cafile, only_dir.system_capath) == \
        ("system", None, str(empty))


def test_trust_store_falls_back_to_certifi_and_the_context_uses_it(tmp_path: Path) -> None:
    empty = tmp_path / "certs"
    empty.mkdir()
    store = tls.trust_store(None, _paths(tmp_path / "missing.pem", empty))
    assert store.describe() == {
        "source": "certifi", "system_cafile": None, "system_capath": None,
        "certifi_cafile": certifi.where(), "certifi_version": certifi.__version__,
        "ca_bundle": None}
    anchors = tls.context_for(store).get_ca_certs()
    assert len(anchors) > 100  # Mozilla's bundle, loaded
    ca = TestCA(tmp_path / "ca")
    with_test_ca = tls.context_for(tls.trust_store(ca.bundle_path, _paths(None, None)))
    assert len(with_test_ca.get_ca_certs()) == len(anchors) + 1


@pytest.mark.parametrize("bundle", [None, "ca"])
def test_verifying_context_trusts_what_trust_store_describes(tmp_path: Path,
                                                              bundle: str | None) -> None:
    ca_bundle = None if bundle is None else TestCA(tmp_path / "ca").bundle_path
    store = tls.trust_store(ca_bundle)
    assert store.source in ("system", "certifi") and store.ca_bundle == (
        None if ca_bundle is None else str(ca_bundle))
    used = tls.verifying_context(ca_bundle)
    assert used.verify_mode is ssl.CERT_REQUIRED and used.check_hostname
    assert len(used.get_ca_certs()) == len(tls.context_for(store).get_ca_certs())
