"""The number in flight follows Little's law where the pool is the limit, and holds where the
rate cap, the CPU or free slots are; the resolver's failure rates per minute."""

from __future__ import annotations

from survey.commands.scan import SCAN_DEFAULTS
from survey.scan.inflight import (
    CPU_BOUND,
    HEADROOM,
    LAG_LIMIT,
    MAX_GROWTH,
    MAX_IN_FLIGHT,
    Sample,
    decide,
)
from survey.scan.progress import Progress, ResolverWindow


def sample(*, finished: int = 1000, latency: float = 0.25, cpu: float = 0.4,
           queries_per_domain: float = 4.0, lag: float = 0.0, in_flight: int = 500,
           seconds: float = 2.0) -> Sample:
    return Sample(seconds=seconds, finished=finished, busy_seconds=finished * latency,
                  cpu_seconds=cpu * seconds, queries=int(finished * queries_per_domain),
                  lag=lag, in_flight=in_flight)


def test_a_latency_bound_pool_grows_to_littles_figure_within_the_growth_step() -> None:
    # 500 in flight at 0.25 s each: 2,000 domains/s (4,000 per 2 s period) on 40 % of a core:
    # the core would do 5,000/s, so Little's law wants 1.5 x 5,000 x 0.25 = 1,875 in flight,
    # of which the growth step allows 750 this period
    first = decide(500, sample(finished=4000), rate=1e6, floor=500)
    assert first.limited_by == "latency" and first.limit == int(MAX_GROWTH * 500)
    assert first.latency == 0.25 and first.rate == 2000
    # 1,500 in flight: 6,000 domains/s on 80 % of a core -> 1.5 x 7,500 x 0.25 = 2,813, and
    # 2,250 this period
    wanted = decide(1500, sample(finished=12000, cpu=0.8, in_flight=1500), rate=1e6, floor=500)
    assert wanted.limit == min(2813, int(1500 * MAX_GROWTH)) == 2250


def test_the_rate_cap_bounds_the_figure_and_holds_the_pool_once_reached() -> None:
    # at 1,000 queries/s and 4 queries a domain, 250 domains/s is all the cap allows: 440 in
    # flight at 2 s make 220/s, and Little's law wants 1.5 x 250 x 2 = 750 (660 this period)
    below = decide(440, sample(finished=440, latency=2.0, in_flight=440, cpu=0.1),
                   rate=1000, floor=50)
    assert below.limited_by == "latency" and below.limit == 660
    # still 220/s with 660 at 3 s each: 1.5 x 250 x 3 = 1,125 wanted, 990 this period
    assert decide(660, sample(finished=440, latency=3.0, in_flight=660, cpu=0.1),
                  rate=1000, floor=50).limit == min(round(HEADROOM * 250 * 3.0), 990)
    at_cap = decide(500, sample(finished=500, latency=2.0), rate=1000, floor=50)
    assert at_cap.limited_by == "rate" and at_cap.limit == 500


def test_a_busy_core_free_slots_or_an_idle_period_hold_the_number() -> None:
    assert decide(500, sample(cpu=CPU_BOUND), rate=1e6, floor=500).limited_by == "cpu"
    assert decide(800, sample(in_flight=300), rate=1e6, floor=500).limit == 800
    assert decide(800, sample(finished=0), rate=1e6, floor=500).limited_by == "hold"


def test_a_lagging_loop_shrinks_toward_the_floor_and_never_below() -> None:
    shrunk = decide(2000, sample(lag=LAG_LIMIT * 2), rate=1e6, floor=500)
    assert shrunk.limited_by == "loop" and 500 <= shrunk.limit < 2000
    assert decide(500, sample(lag=1.0), rate=1e6, floor=500).limit == 500


def test_the_cap_bounds_growth() -> None:
    huge = decide(9000, sample(latency=5.0, cpu=0.05, in_flight=9000), rate=1e6, floor=500)
    assert huge.limit == MAX_IN_FLIGHT
    assert decide(600, sample(latency=5.0, cpu=0.05, in_flight=600), rate=1e6, floor=500,
                  cap=700).limit == 700


def test_the_scan_command_default_is_the_controller_cap() -> None:
    assert SCAN_DEFAULTS["max_concurrency"] == MAX_IN_FLIGHT


def test_resolver_window_rates_over_the_last_minute_and_per_minute() -> None:
    window = ResolverWindow(0.0)
    assert window.rates() is None and window.describe() == ""
    window.add(30.0, 1000, 10, 0)
    window.add(61.0, 2000, 30, 5)  # a minute is complete: 2,000 queries, 30 timeouts, 5 SERVFAIL
    assert window.minutes == [{"queries": 2000, "timeouts": 30, "servfails": 5}]
    window.add(125.0, 3000, 30, 5)  # the last minute: 1,000 queries (61..125 s) and no failure
    assert window.rates() == (0.0, 0.0)
    window.add(150.0, 4000, 130, 5)
    timeouts, servfails = window.rates() or (None, None)
    assert timeouts == 100 / 2000 and servfails == 0.0
    assert window.describe() == "dns last min: 5.0% timeouts, 0.0% SERVFAIL"
    assert window.finish()[-1] == {"queries": 1000, "timeouts": 100, "servfails": 0}


def test_the_progress_line_ends_with_the_resolver_rates() -> None:
    progress = Progress(mode="off", clock=lambda: 10.0)
    window = ResolverWindow(0.0)
    window.add(5.0, 200, 20, 2)
    progress.resolver = window
    assert progress.line().endswith("| dns last min: 10.0% timeouts, 1.0% SERVFAIL")


def test_a_raise_that_bought_no_throughput_or_brought_timeouts_is_undone() -> None:
    before = sample(finished=4000, in_flight=500)  # 2,000/s with 500 in flight
    # raised to 750: 1.5x the slots should buy at least 1 + 0.25 x 0.5 = 12.5 % more
    flat = decide(750, sample(finished=4100, latency=0.37, in_flight=750), rate=1e6, floor=200,
                  raised_from=500, before=before)
    assert flat.limited_by == "server" and flat.limit == 500
    paid = decide(750, sample(finished=5000, latency=0.3, in_flight=750), rate=1e6, floor=200,
                  raised_from=500, before=before)
    assert paid.limited_by != "server" and paid.limit >= 750
    timeouts = Sample(seconds=2.0, finished=5000, busy_seconds=1500.0, cpu_seconds=0.8,
                      queries=20000, lag=0.0, in_flight=750, timeouts=20000 // 40)
    assert decide(750, timeouts, rate=1e6, floor=200, raised_from=500,
                  before=before).limited_by == "server"  # 2.5 % of queries timed out, was 0
