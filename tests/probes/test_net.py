"""The safety layer: special addresses, exclusions, the guard, the rate and destination limits."""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.core.observations import FetchError
from survey.probes.net import (
    AddressGuard,
    DestinationLimiter,
    Exclusions,
    RateLimiter,
    is_special_address,
)
from tests.conftest import deadline_bound

# --- special-purpose addresses -----------------------------------------------------------------

SPECIAL = [
    # IPv4
    "0.0.0.0", "0.1.2.3", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.255.255.254", "169.254.169.254",
    "192.0.0.9", "192.0.2.1", "198.51.100.7", "203.0.113.200", "192.88.99.1",
    "198.18.0.1", "198.19.255.255", "224.0.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255",
    # IPv6
    "::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1",
    "2001:db8::1", "3fff::1", "100::1", "2001::1", "2001:0:4136:e378::1",  # Teredo
    "2001:2::1", "fec0::1", "5f00::1", "4000::1",
    # IPv4 inside IPv6
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:192.0.2.1", "::127.0.0.1", "::10.0.0.1",
    "::8.8.8.8",  # IPv4-compatible: deprecated, never a destination
    "64:ff9b::127.0.0.1", "64:ff9b::10.1.2.3", "64:ff9b:1::1",
    "2002:7f00:1::1", "2002:c0a8:101::1",  # 6to4 of 127.0.0.1, 192.168.1.1
    # not addresses at all
    "", "bogus", "example.com", "1.2.3", "010.0.0.1", "::ffff:999.0.0.1", "1.2.3.4/32",
]
PUBLIC = [
    "8.8.8.8", "1.1.1.1", "9.9.9.9", "100.63.255.255", "100.128.0.0", "172.15.255.255",
    "172.32.0.0", "192.0.3.1", "198.17.255.255", "198.20.0.0", "223.255.255.255",
    "2001:4860:4860::8888", "2001:4860::8888", "2606:4700:4700::1111", "2a00:1450::1",
    "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1", "[2001:4860::8888]",
]


@pytest.mark.parametrize("address", SPECIAL)
def test_special_addresses(address: str) -> None:
    assert is_special_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert not is_special_address(address)


# --- exclusions --------------------------------------------------------------------------------

EXCLUSION_LINES = [
    "# ZMap-style blocklist",
    "",
    "example.org            # a domain and its subdomains",
    "*.Example.NET.",
    ".gov",
    "ru",  # a whole TLD
    "bücher.de",
    "192.0.2.0/24",
    "8.8.4.4",
    "10.0.0.1/8           # host bits set: taken as 10.0.0.0/8",
    "2001:db8:abcd::/48",
    "[2606:4700::1111]",
    "not a domain",
    "bad_name.com",
    "300.1.1.1/8",
    "1.2.3.4/33",
]


def test_exclusions_parse_and_report_bad_lines() -> None:
    exclusions = Exclusions.from_lines(EXCLUSION_LINES)
    assert exclusions.bad_lines == [(13, "not a domain"), (14, "bad_name.com"),
                                    (15, "300.1.1.1/8"), (16, "1.2.3.4/33")]
    assert len(exclusions) == 10  # 5 domains, 5 prefixes


def test_exclusions_by_domain() -> None:
    exclusions = Exclusions.from_lines(EXCLUSION_LINES)
    for domain in ("example.org", "www.example.org", "a.b.example.org", "EXAMPLE.ORG.",
                   "example.net", "x.example.net", "nasa.gov", "yandex.ru",
                   "xn--bcher-kva.de", "shop.xn--bcher-kva.de"):
        assert exclusions.excludes_domain(domain), domain
    for domain in ("notexample.org", "example.org.uk", "example.com", "org", "gov.uk",
                   "de", "buecher.de"):
        assert not exclusions.excludes_domain(domain), domain


def test_exclusions_by_address() -> None:
    exclusions = Exclusions.from_lines(EXCLUSION_LINES)
    for address in ("192.0.2.0", "192.0.2.255", "8.8.4.4", "10.200.0.1", "::ffff:8.8.4.4",
                    "2001:db8:abcd::1", "2001:db8:abcd:ffff::1", "2606:4700::1111"):
        assert exclusions.excludes_address(address), address
    for address in ("192.0.3.0", "8.8.8.8", "11.0.0.1", "2001:db8:abce::1", "2606:4700::1112",
                    "bogus"):
        assert not exclusions.excludes_address(address), address


def test_exclusions_from_file(tmp_path: Path) -> None:
    path = tmp_path / "blocklist.conf"
    path.write_bytes(b"example.org\r\n203.0.113.0/24\n\xff\xfe.com\n")
    exclusions = Exclusions.from_file(path)
    assert exclusions.excludes_domain("www.example.org")
    assert exclusions.excludes_address("203.0.113.9")
    assert [number for number, _ in exclusions.bad_lines] == [3]


def test_empty_exclusions_exclude_nothing() -> None:
    exclusions = Exclusions.from_lines([])
    assert not exclusions.excludes_domain("example.com")
    assert not exclusions.excludes_address("8.8.8.8")


# --- the guard ---------------------------------------------------------------------------------

def test_guard_blocks_special_addresses_by_default() -> None:
    guard = AddressGuard()
    assert guard.check("8.8.8.8") is None
    assert guard.check("2001:4860::8888") is None
    assert guard.check("127.0.0.1") is FetchError.BLOCKED
    assert guard.check("::ffff:10.0.0.1") is FetchError.BLOCKED
    assert guard.check("garbage") is FetchError.BLOCKED
    assert (guard.blocked, guard.excluded) == (3, 0)


def test_guard_allow_private_still_honours_exclusions() -> None:
    exclusions = Exclusions.from_lines(["127.0.0.2", "8.8.4.4"])
    guard = AddressGuard(allow_private=True, exclusions=exclusions)
    assert guard.check("127.0.0.1") is None
    assert guard.check("10.0.0.1") is None
    assert guard.check("127.0.0.2") is FetchError.EXCLUDED
    assert guard.check("8.8.4.4") is FetchError.EXCLUDED
    assert guard.check("not-an-ip") is FetchError.BLOCKED
    assert (guard.blocked, guard.excluded) == (1, 2)


def test_guard_exclusion_wins_over_blocking() -> None:
    guard = AddressGuard(exclusions=Exclusions.from_lines(["10.0.0.0/8"]))
    assert guard.check("10.1.1.1") is FetchError.EXCLUDED
    assert guard.check("192.168.0.1") is FetchError.BLOCKED


def test_guard_allowed_picks_the_usable_addresses() -> None:
    guard = AddressGuard(exclusions=Exclusions.from_lines(["8.8.4.4"]))
    assert guard.allowed(["10.0.0.1", "8.8.8.8", "1.1.1.1"]) == (["8.8.8.8", "1.1.1.1"], None)
    assert guard.allowed(["10.0.0.1", "127.0.0.1"]) == ([], FetchError.BLOCKED)
    assert guard.allowed(["10.0.0.1", "8.8.4.4"]) == ([], FetchError.EXCLUDED)
    assert guard.allowed([]) == ([], None)


# --- RateLimiter -------------------------------------------------------------------------------

@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (float("nan"), None),
                                             (float("inf"), None), (10, 0)])
def test_rate_limiter_rejects_bad_settings(rate: float, burst: int | None) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


def count_admitted(rate: float, burst: int | None, seconds: float, tasks: int) -> tuple[int, int]:
    """Acquisitions completed within ``seconds`` of virtual time, and the limiter's burst."""
    limiter = RateLimiter(rate, burst)
    admitted = 0

    async def worker() -> None:
        nonlocal admitted
        while True:
            await limiter.acquire()
            if trio.current_time() > seconds or admitted > 10 * rate * seconds:
                return  # (the second test keeps a broken limiter from spinning forever)
            admitted += 1

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(worker)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return admitted, limiter.burst


@pytest.mark.parametrize(("burst", "tasks"), [(None, 1), (1, 1), (25, 1), (25, 50)])
def test_rate_limiter_holds_the_rate(burst: int | None, tasks: int) -> None:
    admitted, effective_burst = count_admitted(100, burst, 10.0, tasks)
    assert 1000 - effective_burst <= admitted <= 1000 + effective_burst
    assert admitted >= 1000  # nothing lost to scheduling either


def test_rate_limiter_burst_after_idle_then_paced() -> None:
    async def main() -> None:
        limiter = RateLimiter(10, burst=5)
        start = trio.current_time()
        for _ in range(5):
            await limiter.acquire()
        assert trio.current_time() == start  # the burst passes at once
        await limiter.acquire()
        assert trio.current_time() - start == pytest.approx(0.1)
        await limiter.acquire(3)  # n units cost n intervals
        assert trio.current_time() - start == pytest.approx(0.4)
        await trio.sleep(100)  # idle: the burst is available again, but not more
        start = trio.current_time()
        for _ in range(6):
            await limiter.acquire()
        assert trio.current_time() - start == pytest.approx(0.1)
        with pytest.raises(ValueError):
            await limiter.acquire(0)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_rate_limiter_serves_waiters_in_arrival_order() -> None:
    order: list[int] = []

    async def main() -> None:
        limiter = RateLimiter(50, burst=1)

        async def waiter(i: int) -> None:
            await limiter.acquire()
            order.append(i)

        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(waiter, i)
                await trio.testing.wait_all_tasks_blocked()  # task i has arrived
        assert trio.current_time() == pytest.approx(199 / 50)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert order == list(range(200))  # all got through, none starved


def test_rate_limiter_cancelled_waiter_returns_its_slot() -> None:
    async def main() -> None:
        limiter = RateLimiter(1, burst=1)
        await limiter.acquire()  # t=0
        with trio.move_on_after(0.5):
            await limiter.acquire()  # due at t=1, cancelled at t=0.5
        await limiter.acquire()
        assert trio.current_time() == pytest.approx(1.0)  # not 2.0

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


# --- DestinationLimiter ------------------------------------------------------------------------

def test_destination_limiter_bounds_concurrency_and_forgets_idle() -> None:
    limit = 3
    active: dict[str, int] = {}
    peak: dict[str, int] = {}
    done = 0

    async def main() -> None:
        limiter = DestinationLimiter(limit)

        async def probe(address: str, hold: float) -> None:
            nonlocal done
            async with limiter.slot(address):
                active[address] = active.get(address, 0) + 1
                peak[address] = max(peak.get(address, 0), active[address])
                await trio.sleep(hold)
                active[address] -= 1
            done += 1

        async with trio.open_nursery() as nursery:
            for i in range(300):
                address = ("192.0.2.1", "192.0.2.2", "2001:db8::1", f"198.51.100.{i}")[i % 4]
                nursery.start_soon(probe, address, 0.01 * (i % 7 + 1))
            await trio.testing.wait_all_tasks_blocked()
            assert 3 <= len(limiter) <= 3 + 75  # three busy hosts plus the one-off ones
        assert len(limiter) == 0  # nothing kept once idle

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert done == 300
    assert peak["192.0.2.1"] == peak["192.0.2.2"] == peak["2001:db8::1"] == limit
    assert all(count == 0 for count in active.values())


def test_destination_limiter_one_host_however_written() -> None:
    async def main() -> None:
        limiter = DestinationLimiter(1)
        async with limiter.slot("192.0.2.1"):
            with trio.move_on_after(1) as scope:
                async with limiter.slot("::ffff:192.0.2.1"):
                    pytest.fail("the mapped form is the same destination")
            assert scope.cancelled_caught
            async with limiter.slot("2001:DB8::1"), limiter.slot("192.0.2.2"):
                assert len(limiter) == 3
        assert len(limiter) == 0

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_destination_limiter_cancelled_waiter_is_cleaned_up() -> None:
    async def main() -> None:
        limiter = DestinationLimiter(1)
        async with limiter.slot("192.0.2.1"):
            with trio.move_on_after(1):
                async with limiter.slot("192.0.2.1"):
                    pass
            assert len(limiter) == 1
        assert len(limiter) == 0

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_destination_limiter_rejects_zero() -> None:
    with pytest.raises(ValueError):
        DestinationLimiter(0)


# --- properties --------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=500, deadline=None)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(st.ip_addresses(v=4))
def test_ipv4_inside_ipv6_is_judged_by_the_ipv4_address(ip: ipaddress.IPv4Address) -> None:
    special = is_special_address(str(ip))
    six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80))
    assert is_special_address(f"::ffff:{ip}") is special
    assert is_special_address(f"64:ff9b::{ip}") is special
    assert is_special_address(str(six_to_four)) is special
    assert is_special_address(f"::{ip}")  # IPv4-compatible: always


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(st.ip_addresses())
def test_everything_python_calls_non_global_is_special(
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    flagged = (not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_private
               or ip.is_loopback or ip.is_link_local or ip.is_unspecified)
    # stricter than Python except where an IPv4 address is embedded: ::ffff:a.b.c.d and the
    # NAT64 64:ff9b::a.b.c.d (which Python calls reserved) are judged by a.b.c.d
    embedded = isinstance(ip, ipaddress.IPv6Address) and (
        ip.ipv4_mapped is not None or ip in ipaddress.IPv6Network("64:ff9b::/96"))
    if flagged and not embedded:
        assert is_special_address(str(ip))


def address_forms(ip: ipaddress.IPv4Address | ipaddress.IPv6Address
                  ) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """An address and, for ::ffff:a.b.c.d, a.b.c.d."""
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return [ip] if mapped is None else [ip, mapped]


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(st.ip_addresses(), st.integers(min_value=0, max_value=128), st.ip_addresses())
def test_prefix_exclusion_matches_ipaddress(
        base: ipaddress.IPv4Address | ipaddress.IPv6Address, length: int,
        probe: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    network = ipaddress.ip_network((base, min(length, base.max_prefixlen)), strict=False)
    exclusions = Exclusions.from_lines([str(network)])
    assert exclusions.bad_lines == []
    assert exclusions.excludes_address(str(base))
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [network]
    first = network.network_address
    if isinstance(first, ipaddress.IPv6Address) and first.ipv4_mapped and network.prefixlen >= 96:
        networks.append(ipaddress.IPv4Network((first.ipv4_mapped, network.prefixlen - 96)))
    expected = any(form.version == net.version and form in net
                   for form in address_forms(probe) for net in networks)
    assert exclusions.excludes_address(str(probe)) is expected


# --- on real sockets and the real clock (loopback only) ----------------------------------------

def test_destination_limiter_caps_real_connections_on_loopback() -> None:
    """A TCP server on 127.0.0.1 sees at most ``limit`` connections at once from 40 clients."""
    limit = 3
    concurrent = peak = served = 0

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal concurrent, peak, served
        concurrent += 1
        peak = max(peak, concurrent)
        await trio.sleep(0.02)
        concurrent -= 1
        served += 1
        await stream.aclose()

    async def main() -> None:
        guard = AddressGuard(allow_private=True)
        limiter = DestinationLimiter(limit)
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]

            async def client() -> None:
                assert guard.check("127.0.0.1") is None
                async with limiter.slot("127.0.0.1"):
                    stream = await trio.open_tcp_stream("127.0.0.1", port)
                    async with stream:
                        assert await stream.receive_some() == b""  # held until the server closes

            with trio.fail_after(20):
                async with trio.open_nursery() as clients:
                    for _ in range(40):
                        clients.start_soon(client)
            assert len(limiter) == 0
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert served == 40
    assert peak == limit
    assert AddressGuard().check("127.0.0.1") is FetchError.BLOCKED  # never without allow_private


def test_rate_limiter_on_the_real_clock() -> None:
    async def main() -> float:
        limiter = RateLimiter(500, burst=10)
        start = trio.current_time()

        async def worker() -> None:
            for _ in range(20):
                await limiter.acquire()

        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(worker)
        return trio.current_time() - start

    elapsed = trio.run(main)
    assert (200 - 10) / 500 <= elapsed < deadline_bound((200 - 10) / 500)
