"""How many domains a scan keeps in flight: raised to what the measured latency calls for.

Little's law: ``L`` domains in flight, each taking ``W`` seconds, finish ``L / W`` domains per
second. On loopback ``W`` is a millisecond and the default 500 are plenty; through the internet
``W`` is tens to hundreds of milliseconds plus a DNS timeout for every lost query, and a fixed
500 capped a scan at ``500 / W`` (1,500 domains/s at 50 ms and 2 % loss where 2,100 were
possible). Every period the controller measures the throughput ``X``, the mean time in flight
``W`` and what else limits the scan, and sets ::

    L = HEADROOM x min(X_rate, X_cpu) x W        (never below the floor, nor above the cap)

``X_rate`` is the rate cap over the queries a domain costs; ``X_cpu`` what one core would do
(``X`` over the share of a core the process used): beyond either, more in flight only queues.
It only grows while the process has CPU to spare and its event loop keeps up (a late loop would
turn queued answers into DNS timeouts), and shrinks back toward the floor when the loop lags. A
raise that bought no throughput, or brought more timeouts, is undone: then the resolver (or the
path to it) is the limit, and more in flight would only queue there.
The decision is a pure function of one period's measurements (``decide``), tested alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Domains in flight the controller may reach (each costs a task and its pending lookups:
#: about 6 KB; the cap keeps a scan under ~100 MB for them whatever the network does).
MAX_IN_FLIGHT = 10_000
#: Slack over Little's figure: W and X vary within a period, and tails need room.
HEADROOM = 1.5
#: A process using this share of a core or more is CPU-bound: more in flight cannot help.
CPU_BOUND = 0.85
#: Event-loop lateness above which the loop is overloaded (answers wait in socket buffers and
#: count against their DNS deadline): the number in flight shrinks.
LAG_LIMIT = 0.25
#: Growth per period at most (so that one odd period cannot jump to the cap).
MAX_GROWTH = 1.5
#: A raise must buy at least this share of its proportional gain in throughput, without more
#: timeouts (TIMEOUT_RISE), or it is undone: the server or the path behind it, not the pool,
#: was the limit (more in flight would only queue there and turn into timeouts).
MIN_GAIN = 0.25
TIMEOUT_RISE = 0.01
#: Periods without a raise after one was undone.
COOLDOWN = 15
#: Shrink factor per overloaded period.
SHRINK = 0.8
#: Seconds between decisions.
PERIOD = 2.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One period's measurements."""

    seconds: float  # length of the period (wall)
    finished: int  # domains finished in it
    busy_seconds: float  # their time in flight, summed
    cpu_seconds: float  # the process's CPU time in it
    queries: int  # DNS queries sent in it
    lag: float  # how late the controller's own wake-up was (event-loop backlog)
    in_flight: int  # domains in flight at the end of the period
    timeouts: int = 0  # DNS attempts that timed out in it

    @property
    def throughput(self) -> float:
        return self.finished / self.seconds if self.seconds > 0 else 0.0

    @property
    def timeout_share(self) -> float:
        return self.timeouts / self.queries if self.queries else 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    limit: int
    #: what bounds the scan now: "latency" (the pool: L was raised), "rate", "cpu", "loop" (lag),
    #: "server" (a raise bought no throughput, or more timeouts: undone),
    #: "slots" (slots were free: the input or the writer, not the pool, was short), or "hold"
    #: (the pool is right, or nothing was learnt this period)
    limited_by: str
    latency: float | None = None  # W, seconds
    rate: float | None = None  # X, domains per second


def decide(limit: int, sample: Sample, *, rate: float, floor: int,
           cap: int = MAX_IN_FLIGHT, raised_from: int | None = None,
           before: Sample | None = None) -> Decision:
    """The number in flight for the next period, given this one's ``sample``.

    ``raised_from``: the number before the last decision raised it to ``limit``, and
    ``before`` the period measured then: a raise that did not pay is undone ("server").
    """
    if sample.finished == 0 or sample.seconds <= 0:
        return Decision(limit, "hold")
    latency = sample.busy_seconds / sample.finished
    throughput = sample.throughput
    if raised_from is not None and before is not None and raised_from < limit:
        wanted_gain = MIN_GAIN * (limit / raised_from - 1)
        if (throughput < before.throughput * (1 + wanted_gain)
                or sample.timeout_share > before.timeout_share + TIMEOUT_RISE):
            return Decision(max(floor, raised_from), "server", latency, throughput)
    if sample.lag > LAG_LIMIT:
        return Decision(max(floor, math.floor(limit * SHRINK)), "loop", latency, throughput)
    per_domain = max(sample.queries / sample.finished, 1.0)
    x_rate = rate / per_domain
    cpu_share = sample.cpu_seconds / sample.seconds
    x_cpu = throughput / max(cpu_share, 0.05)
    if cpu_share >= CPU_BOUND:
        return Decision(limit, "cpu", latency, throughput)  # the core is busy: hold what works
    if throughput >= 0.9 * x_rate:
        return Decision(limit, "rate", latency, throughput)  # at the cap: more would queue
    if sample.in_flight < 0.9 * limit:
        return Decision(limit, "slots", latency, throughput)  # free slots: more would idle
    wanted = math.ceil(HEADROOM * min(x_rate, x_cpu) * latency)
    new = max(floor, min(cap, wanted, math.ceil(limit * MAX_GROWTH)))
    return Decision(new, "latency" if new > limit else "hold", latency, throughput)
