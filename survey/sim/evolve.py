"""A dated series of the test internet: one world evolved step by step, with its answer key.

Between two steps a few percent of the domains change, in the ways operators change MTA-STS:
adopting in testing (or straight in enforce), switching mode, dropping the policy, editing the
policy with a new id or forgetting to bump it. Each ``Step`` lists the changes exactly as
``analysis.diff`` names them, so a scan of each step and a ``diff`` of consecutive snapshots can be
checked against known answers. The toplist (domains and ranks) stays the same unless some
churn is asked for. Pure: no I/O.

Only "clean" domains change (the generator's ``absent_mx``/``absent_tlsrpt_only`` and the OK
testing/enforce kinds, with or without TLS-RPT), so each new ``Expectation`` follows from
``docs/classification.md`` without a classifier: status = mode, plus
``<mode>_without_tlsrpt`` when the domain has no TLS-RPT record.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from survey.sim.generator import KINDS, TLDS, WORDS, policy_body
from survey.sim.scenario import Expectation, MxHost, PolicyHost, Scenario, World

ABSENT_KINDS = frozenset({"absent_mx", "absent_tlsrpt_only"})
POLICY_KINDS = frozenset({"enforce_ok", "testing_ok", "enforce_without_tlsrpt",
                          "testing_without_tlsrpt"})
#: max_age values a policy edit chooses from (all >= 1 day, so never ``max_age_short``).
MAX_AGES = (604800, 1209600, 2419200, 5184000)

#: transition -> the diff change kinds it causes, in ``analysis.diff.CHANGES`` order. Drawn in
#: this order each step: the few deployed domains go to the rarer transitions first.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "edit_policy_same_id": ("policy_changed", "id_not_bumped"),
    "testing_to_enforce": ("mode_changed", "policy_changed"),  # the mode line is in the body
    "enforce_to_testing": ("mode_changed", "policy_changed"),
    "drop": ("dropped",),
    "edit_policy": ("policy_changed",),
    "adopt_testing": ("adopted",),
    "adopt_enforce": ("adopted", "enforce_without_testing"),
}
#: Toplist churn (only with ``churn > 0``): new domains are appended at the end of the list, in
#: one of these generator kinds in turn; a disappearing domain leaves the list (later ranks
#: move up). diff's adopted/dropped need both sides, so churn causes only these kinds.
APPEAR_KINDS = ("absent_mx", "testing_ok", "enforce_ok")
CHURN: dict[str, tuple[str, ...]] = {
    "appear_absent_mx": ("appeared",),
    "appear_testing_ok": ("appeared",),
    "appear_enforce_ok": ("appeared", "enforce_without_testing"),
    "disappear": ("disappeared",),
}


@dataclass(frozen=True, slots=True)
class Step:
    """The world at one date and what changed since the previous one (the answer key)."""

    index: int  # 1 for the first evolved world (the input world is date 0)
    world: World
    changes: tuple[tuple[str, str], ...]  # (domain, diff change kind), sorted
    transitions: tuple[tuple[str, str], ...] = ()  # (domain, transition name), sorted


def _mode(sc: Scenario) -> str | None:
    return sc.expect.mode if sc.expect is not None else None


def _sts_id(sc: Scenario) -> str:
    """The id of a clean scenario's single ``v=STSv1; id=...`` record."""
    record = "".join(sc.sts_txt[0])
    return record.split("id=", 1)[1].split(";", 1)[0].strip()


def _deployed(sc: Scenario, mode: str, sts_id: str,
              body_choice: Callable[[str], bytes]) -> Scenario:
    """``sc`` publishing ``mode`` with id ``sts_id``; expectation per the classification rules."""
    tlsrpt = bool(sc.tlsrpt_txt)
    mistakes = frozenset() if tlsrpt else frozenset({f"{mode}_without_tlsrpt"})
    kind = f"{mode}_ok" if tlsrpt else f"{mode}_without_tlsrpt"
    return replace(sc, sts_txt=((f"v=STSv1; id={sts_id}",),),
                   policy_host=PolicyHost(body=body_choice(mode)),
                   expect=Expectation(mode, mode, mistakes), name=kind)


def _apply(sc: Scenario, transition: str, new_id: str, rng: random.Random) -> Scenario:
    mx = tuple(m.name for m in sc.mx)
    old_body = sc.policy_host.body if sc.policy_host is not None else b""

    def fresh_body(mode: str) -> bytes:
        """A body for ``mode`` that differs from the current one (edits must change bytes)."""
        ages = list(MAX_AGES)
        rng.shuffle(ages)
        return next(b for b in (policy_body(mode, mx, a) for a in ages) if b != old_body)

    def same_age_body(mode: str) -> bytes:
        return policy_body(mode, mx, MAX_AGES[0])

    if transition in ("adopt_testing", "adopt_enforce"):
        adopted = sc if sc.tlsrpt_txt else replace(
            sc, tlsrpt_txt=((f"v=TLSRPTv1; rua=mailto:tlsrpt@{sc.domain}",),))
        mode = "testing" if transition == "adopt_testing" else "enforce"
        return _deployed(adopted, mode, new_id, same_age_body)
    if transition == "drop":
        kind = "absent_tlsrpt_only" if sc.tlsrpt_txt else "absent_mx"
        return replace(sc, sts_txt=(), policy_host=None, expect=Expectation("absent"), name=kind)
    if transition in ("testing_to_enforce", "enforce_to_testing"):
        return _deployed(sc, transition.rsplit("_", 1)[1], new_id, fresh_body)
    current = _mode(sc)
    assert current is not None
    kept_id = _sts_id(sc) if transition == "edit_policy_same_id" else new_id
    return _deployed(sc, current, kept_id, fresh_body)


def _eligible(sc: Scenario, transition: str) -> bool:
    if transition.startswith("adopt"):
        return sc.name in ABSENT_KINDS and bool(sc.mx) and not sc.sts_txt
    if sc.name not in POLICY_KINDS:
        return False
    mode = _mode(sc)
    if transition == "testing_to_enforce":
        return mode == "testing"
    if transition in ("enforce_to_testing", "drop"):
        return mode == "enforce"
    return mode in ("testing", "enforce")


def _newcomer(index: int, number: int, rng: random.Random) -> tuple[Scenario, str]:
    """The ``number``-th domain appearing at step ``index`` (a name no step reuses)."""
    kind = APPEAR_KINDS[number % len(APPEAR_KINDS)]
    d = f"n{index}x{number}-{WORDS[rng.randrange(len(WORDS))]}.{TLDS[number % len(TLDS)]}"
    _, build, expect = KINDS[kind]
    sc = build(d, (MxHost(f"mail.{d}", 10),))
    return replace(sc, expect=expect, name=kind), f"appear_{kind}"


def _churn(scenarios: list[Scenario], touched: set[int], index: int, churn: int,
           rng: random.Random) -> tuple[list[Scenario], list[tuple[str, str]]]:
    pool = [i for i in range(len(scenarios)) if i not in touched]
    gone = set(rng.sample(pool, min(churn, len(pool))))
    moves = [(scenarios[i].domain, "disappear") for i in sorted(gone)]
    kept = [sc for i, sc in enumerate(scenarios) if i not in gone]
    for number in range(churn):
        sc, move = _newcomer(index, number, rng)
        kept.append(sc)
        moves.append((sc.domain, move))
    return kept, moves


def _one_step(world: World, index: int, rng: random.Random, per_kind: int,
              churn: int) -> Step:
    scenarios = list(world.scenarios)
    touched: set[int] = set()
    transitions: list[tuple[str, str]] = []
    new_id = f"20261129S{index}"
    for transition in TRANSITIONS:
        pool = [i for i, sc in enumerate(scenarios)
                if i not in touched and _eligible(sc, transition)]
        for i in sorted(rng.sample(pool, min(per_kind, len(pool)))):
            scenarios[i] = _apply(scenarios[i], transition, new_id, rng)
            touched.add(i)
            transitions.append((scenarios[i].domain, transition))
    if churn:
        scenarios, moves = _churn(scenarios, touched, index, churn, rng)
        transitions += moves
    kinds = {**TRANSITIONS, **CHURN}
    changes = sorted((d, c) for d, t in transitions for c in kinds[t])
    evolved = World(tuple(scenarios), seed=world.seed,
                    extra={**world.extra, "evolved_step": str(index)})
    return Step(index, evolved, tuple(changes), tuple(sorted(transitions)))


def evolve(world: World, steps: int, seed: int, *, rate: float = 0.03,
           churn: int = 0) -> list[Step]:
    """``steps`` successive worlds from ``world``; about ``rate`` of the domains change per step.

    The changes are spread evenly over the transitions (at least one of each when a domain is
    eligible); a domain changes at most once per step. With ``churn``, that many domains also
    leave the toplist and as many new ones join it per step; without, the toplist is the same
    at every step. Deterministic from ``seed``.
    """
    rng = random.Random(seed)
    per_kind = max(1, round(rate * len(world.scenarios) / len(TRANSITIONS)))
    out: list[Step] = []
    current = world
    for index in range(1, steps + 1):
        step = _one_step(current, index, rng, per_kind, churn)
        out.append(step)
        current = step.world
    return out
