"""What each sender profile does with one domain: applies its policy (in which mode) or not.

Pure: the domain's evidence (TXT records, the policy fetch) and a ``SenderProfile`` in, a
``SenderOutcome`` out. ``rfc8461``'s outcome is the one ``status`` states (a test holds them
equal); the others are the deployed senders of ``survey.core.senders``. Where a profile's
behaviour on a construct the domain shows is unknown, so is its outcome (``applies`` None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from survey.core.facts import Facts
from survey.core.observations import DomainObservations, HttpsFetch
from survey.core.policy import (
    POLICY_MAX_BYTES,
    ParseError,
    parse_policy,
    select_sts_record,
)
from survey.core.senders import PROFILES, RFC8461, SenderProfile


@dataclass(frozen=True, slots=True)
class SenderOutcome:
    sender: str  # the profile's name
    applies: bool | None  # None: the profile's behaviour on a construct found here is unknown
    mode: str | None  # the mode applied (enforce, testing, none) when it applies
    reason: str | None  # why not (or why unknown): "txt:<code>", "fetch:<what>", "policy:<code>"

    @property
    def effect(self) -> str:
        """``mode`` when applied, ``ignored`` when not, ``unknown``: the disagreement unit."""
        if self.applies is None:
            return "unknown"
        return (self.mode or "none") if self.applies else "ignored"


def _media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def _first_problem(errors: Sequence[ParseError]) -> tuple[bool | None, str | None]:
    """(applies, reason) from a parse: a fatal error rejects; else an unknown one is unknown."""
    fatal = next((e for e in errors if e.fatal is True), None)
    if fatal is not None:
        return False, fatal.code
    unknown = next((e for e in errors if e.fatal is None), None)
    return (None, unknown.code) if unknown is not None else (True, None)


def _fetch_problem(fetch: HttpsFetch | None, profile: SenderProfile) -> tuple[bool | None, str]:
    """Whether the fetch gives this profile a body to parse: (False/None, reason) if not."""
    if fetch is None or fetch.error is not None or fetch.http_status is None:
        return False, "fetch:" + (str(fetch.error) if fetch and fetch.error else "unreachable")
    status = fetch.http_status
    parsed = {"200_only": status == 200, "any_2xx": 200 <= status < 300, "any": True}
    if not parsed.get(str(profile.http_status), status == 200):
        if 300 <= status < 400 and profile.redirects != "reject":
            return None, "fetch:redirect"  # we never follow one: what it leads to is unknown
        return (False if profile.http_status != "unknown" else None), f"fetch:http_{status}"
    body = fetch.body or b""
    cap = profile.body_cap
    over = fetch.body_truncated or len(body) > POLICY_MAX_BYTES  # we read cap + 1 bytes at most
    if isinstance(cap, int) and (len(body) > cap or (over and cap <= POLICY_MAX_BYTES)):
        if profile.body_overflow != "truncate":
            return (False if profile.body_overflow == "reject" else None), "fetch:too_large"
    elif over:  # the profile reads more than we did (or has no cap, or an unknown one)
        return None, "fetch:too_large"
    if _media_type(fetch.content_type) != "text/plain" and profile.content_type != "ignore":
        return (False if profile.content_type == "reject" else None), "fetch:content_type"
    return True, ""


def sender_outcome(profile: SenderProfile, obs: DomainObservations,
                   facts: Facts | None = None) -> SenderOutcome:
    """What ``profile`` does with the domain ``obs`` describes (its lookups succeeded).

    ``facts`` (``classify``'s parse of ``obs``, RFC 8461 profile) spare the ``RFC8461`` profile
    a second parse: its selection is ``facts.sts``, and a fetch it accepts is one
    ``fetched_a_policy`` accepts (200, within the cap, read whole), so its policy is
    ``facts.fetched``. Other profiles parse with their own knobs.
    """
    reuse = facts if profile is RFC8461 else None
    selection = reuse.sts if reuse is not None else select_sts_record(obs.sts_txt.txt, profile)
    if selection.record is None:
        return SenderOutcome(profile.name, False, None, f"txt:{selection.reason}")
    applies, code = _first_problem(selection.record.errors)
    if applies is not True:
        return SenderOutcome(profile.name, applies, None, f"txt:{code}")
    fetched, why = _fetch_problem(obs.policy_fetch, profile)
    if fetched is not True:
        return SenderOutcome(profile.name, fetched, None, why)
    body = (obs.policy_fetch.body if obs.policy_fetch else None) or b""
    if isinstance(profile.body_cap, int) and profile.body_overflow == "truncate":
        body = body[:profile.body_cap]  # the start is parsed, the rest never read
    policy = reuse.fetched if reuse is not None else None
    if policy is None:
        policy = parse_policy(body, profile)
    applies, code = _first_problem(policy.errors)
    if applies is not True:
        return SenderOutcome(profile.name, applies, None, f"policy:{code}")
    return SenderOutcome(profile.name, True, policy.mode, None)


_NO_RECORD: dict[tuple[str, ...], tuple[SenderOutcome, ...]] = {}


def sender_outcomes(obs: DomainObservations,
                    profiles: Sequence[SenderProfile] = PROFILES,
                    facts: Facts | None = None) -> tuple[SenderOutcome, ...]:
    """Every profile's outcome, in ``profiles`` order (the RFC's first); ``facts``: as for
    ``sender_outcome``, ``parse_facts(obs)`` (``classify`` passes its own).

    Most domains have no record naming ``STSv1`` at all: every profile then finds no record,
    and one shared tuple says so (classify runs for every domain of a toplist).
    """
    if not any("stsv1" in "".join(r).lower() for r in obs.sts_txt.txt):
        names = tuple(p.name for p in profiles)
        if names not in _NO_RECORD:
            _NO_RECORD[names] = tuple(SenderOutcome(n, False, None, "txt:no_record")
                                      for n in names)
        return _NO_RECORD[names]
    return tuple(sender_outcome(p, obs, facts) for p in profiles)


def disagree(outcomes: Sequence[SenderOutcome]) -> bool:
    """Whether the known outcomes split: some apply and some ignore, or modes differ."""
    return len({o.effect for o in outcomes if o.applies is not None}) > 1


def disagreement_class(outcomes: Sequence[SenderOutcome]) -> str:
    """A stable label of who does what, e.g. ``enforce: mox, stalwart | ignored: rfc8461``.

    Groups by effect (each mode, then ``ignored``, then ``unknown``), senders in profile order.
    """
    order = ("enforce", "testing", "none", "ignored", "unknown")
    groups = {e: [o.sender for o in outcomes if o.effect == e] for e in order}
    return " | ".join(f"{e}: {', '.join(names)}" for e, names in groups.items() if names)
