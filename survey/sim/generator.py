"""Synthetic worlds of any size with a realistic mix of MTA-STS deployments, from a seed.

Proportions (weights per 10,000 domains in ``KINDS``) follow published scans, rounded; what
could be checked when this was written:

- Tranco top 10k, 2025 (V. Ivanov, "97.8% of the top 10,000 domains have no MTA-STS",
  dev.to/vadimivanov): 2.2 % publish MTA-STS, 2.9 % TLS-RPT. We use 2.5 % MTA-STS and ~3 %
  TLS-RPT (1 % of domains without MTA-STS plus most deployments).
- Tatang, Flume, Holz, "A First Large-scale Analysis on Usage of MTA-STS" (DIMVA 2019):
  0.0124 % of 1.76 M domains in 2019, i.e. adoption is far lower below the top of a toplist;
  a 1M-domain survey should expect well under 1 %. Our mix is top-list-like, to show every kind.
- The split of modes (about half enforce, a third testing, the rest none) and the broken share
  (~20 % of deployments: TXT without a reachable policy, certificate problems, MX mismatches) are
  our estimate of what such scans report, NOT a verified figure; the 2023 "Root of Trust?"
  MTA-STS study could not be consulted here.
- MX: ~85 % of domains have MX records, concentrated on a few large providers (the DANE
  provider counts on the dane-users list show the same concentration).

Each scenario is one of a fixed set of kinds whose verdict is known (the same shapes as
``survey.sim.catalogue``), so ``Scenario.expect`` is exact; tests check it against the
classifier.

DNSSEC and DANE (issue 16), only when asked (``signed`` > 0, so default worlds stay as they
were): that share of domains is signed, drawn from a random stream of its own so that the rest
of the world is the one the same seed gives unsigned. One provider (``DANE_PROVIDER``) signs its
zone and publishes DANE-EE TLSA for its MX hosts, and half the signed self-hosted domains do; so a
signed domain there gets ``dane`` usable, the others ``none`` (unsigned MX answers: TLSA not
looked up). ``SIGNED_SHARE`` is our estimate of the signed share of registered domains (a few
percent), NOT a verified figure.

Generation is one pass with ``random.Random(seed)``: about 8 µs and 270 bytes per
domain (provider MX sets and expectations are shared objects).
"""

from __future__ import annotations

import csv
import itertools
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from survey.sim.scenario import (
    CertKind,
    DaneExpectation,
    Dnssec,
    Expectation,
    MxHost,
    PolicyHost,
    Scenario,
    Tlsa,
    World,
)

TLDS = ("test", "example")
WORDS = ("river", "stone", "maple", "harbor", "pixel", "cedar", "orbit", "lumen", "atlas",
         "delta", "ember", "falcon", "garnet", "helix", "iris", "juniper", "kite", "lotus",
         "meadow", "nova", "onyx", "prism", "quartz", "raven", "sable", "tundra", "umber",
         "vertex", "willow", "zephyr")
#: Shared MX providers (name, weight): a few large ones host most domains, as on the Internet.
PROVIDERS = (("mailprovider-a.test", 40), ("mailprovider-b.test", 25),
             ("mailprovider-c.test", 10), ("mailhost-d.example", 5), ("mx-e.example", 5))
SELF_HOSTED_WEIGHT = 15
STS_ID = "20261129G"
#: With ``signed`` > 0: the provider whose zone is signed and whose MX hosts publish TLSA.
DANE_PROVIDER = "mailprovider-c.test"
#: Share of signed domains a DANE benchmark world may use (our estimate, see the docstring).
SIGNED_SHARE = 0.05
#: Of the signed self-hosted domains, the share that publishes TLSA for its MX host.
SELF_HOSTED_DANE = 0.5

Builder = Callable[[str, tuple[MxHost, ...]], Scenario]


def _mx_names(mx: tuple[MxHost, ...]) -> tuple[str, ...]:
    return tuple(m.name for m in mx)


def policy_body(mode: str, mx: tuple[str, ...], max_age: int = 604800) -> bytes:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    return ("\n".join(lines) + "\n").encode()


def _sts(d: str, mx: tuple[MxHost, ...], mode: str = "enforce", *, tlsrpt: bool = True,
         policy_mx: tuple[str, ...] | None = None, max_age: int = 604800,
         **host: object) -> Scenario:
    """A deployment: TXT, policy listing ``policy_mx`` (default: the MX hosts), TLS-RPT."""
    listed = _mx_names(mx) if policy_mx is None else policy_mx
    body = policy_body(mode, () if mode == "none" else listed, max_age)
    return Scenario(
        domain=d, mx=mx, sts_txt=((f"v=STSv1; id={STS_ID}",),),
        tlsrpt_txt=((f"v=TLSRPTv1; rua=mailto:tlsrpt@{d}",),) if tlsrpt else (),
        policy_host=PolicyHost(**{"body": body, **host}),  # type: ignore[arg-type]
    )


def _ok(mode: str, *mistakes: str) -> Expectation:
    return Expectation(mode, mode, frozenset(mistakes))


def _invalid(mode: str | None, *mistakes: str) -> Expectation:
    return Expectation("invalid", mode, frozenset(mistakes))


ABSENT = Expectation("absent")
UNREACHABLE = _invalid(None, "txt_without_policy", "policy_unreachable")

#: kind -> (weight per 10,000 domains, builder, expectation)
KINDS: dict[str, tuple[int, Builder, Expectation]] = {
    "absent_mx": (8190, lambda d, mx: Scenario(d, mx=mx), ABSENT),
    "absent_no_mx": (1450, lambda d, mx: Scenario(d), ABSENT),
    "absent_tlsrpt_only": (
        100, lambda d, mx: Scenario(d, mx=mx, tlsrpt_txt=((f"v=TLSRPTv1; rua=mailto:r@{d}",),)),
        ABSENT),
    "enforce_ok": (70, _sts, _ok("enforce")),
    "testing_ok": (45, lambda d, mx: _sts(d, mx, "testing"), _ok("testing")),
    # chasquid and Stalwart want an mx line in mode none too (senders_disagree)
    "none_ok": (15, lambda d, mx: _sts(d, mx, "none"), _ok("none", "senders_disagree")),
    "enforce_without_tlsrpt": (25, lambda d, mx: _sts(d, mx, tlsrpt=False),
                               _ok("enforce", "enforce_without_tlsrpt")),
    "testing_without_tlsrpt": (15, lambda d, mx: _sts(d, mx, "testing", tlsrpt=False),
                               _ok("testing", "testing_without_tlsrpt")),
    "max_age_short": (10, lambda d, mx: _sts(d, mx, max_age=3600),
                      _ok("enforce", "max_age_short")),
    "policy_mx_unused": (10, lambda d, mx: _sts(d, mx, policy_mx=(*_mx_names(mx), f"old.{d}")),
                         _ok("enforce", "policy_mx_unused")),
    "mx_mismatch": (15, lambda d, mx: _sts(d, mx, policy_mx=(f"mx.{d}",)),
                    _ok("enforce", "mx_not_in_policy", "policy_mx_unused")),
    "txt_without_policy": (
        20, lambda d, mx: Scenario(d, mx=mx, sts_txt=((f"v=STSv1; id={STS_ID}",),),
                                   tlsrpt_txt=((f"v=TLSRPTv1; rua=mailto:tlsrpt@{d}",),)),
        UNREACHABLE),
    "policy_cert_wrong_name": (10, lambda d, mx: _sts(d, mx, cert=CertKind.WRONG_NAME),
                               _invalid(None, "txt_without_policy", "policy_cert_name_mismatch")),
    "policy_cert_expired": (5, lambda d, mx: _sts(d, mx, cert=CertKind.EXPIRED),
                            _invalid(None, "txt_without_policy", "policy_cert_expired")),
    "policy_not_found": (10, lambda d, mx: _sts(d, mx, status=404, body=b"not found\n"),
                         _invalid(None, "txt_without_policy", "policy_http_error")),
    "policy_content_type": (5, lambda d, mx: _sts(d, mx, content_type="application/octet-stream"),
                            _ok("enforce", "policy_content_type", "senders_disagree")),
    "policy_invalid": (5, lambda d, mx: _sts(d, mx, policy_mx=()),
                       _invalid("enforce", "txt_without_policy", "policy_invalid")),
}


#: Each provider's MX set, shared by all its domains (memory: one tuple, not one per domain).
_PROVIDER_MX = tuple((MxHost(f"mx1.{p}", 10), MxHost(f"mx2.{p}", 20)) for p, _ in PROVIDERS)


def _choose_mx(rng: random.Random, d: str, cum: list[int], total: int) -> tuple[MxHost, ...]:
    pick = rng.random() * total
    for mx, bound in zip(_PROVIDER_MX, cum, strict=False):
        if pick < bound:
            return mx
    return (MxHost(f"mail.{d}", 10),)


#: The DANE provider's MX set (with ``signed`` > 0): a signed zone, DANE-EE 3 1 1 per host.
_DANE_PROVIDER_MX = tuple(replace(m, dnssec=Dnssec.SECURE, tlsa=(Tlsa(3, 1, 1),))
                          for m in _PROVIDER_MX[[p for p, _ in PROVIDERS].index(DANE_PROVIDER)])
_STS_SENDER = {"enforce": ("mta-sts", "authenticated"), "testing": ("mta-sts", "testing")}


def _signed(sc: Scenario, rng: random.Random) -> Scenario:
    """``sc`` in a signed zone, with its DANE expectation (RFC 7672 §2.2; RFC 8461 §2)."""
    mx = sc.mx
    if len(mx) == 1 and mx[0].name == f"mail.{sc.domain}" and rng.random() < SELF_HOSTED_DANE:
        mx = (replace(mx[0], tlsa=(Tlsa(3, 1, 1),)),)
    assert sc.expect is not None
    if mx and all(m.tlsa for m in mx):
        dane = DaneExpectation("usable", usable=tuple(m.name for m in mx),
                               smtp_dane=tuple((m.name, "valid") for m in mx),
                               sender=("dane", "authenticated"))
    else:
        dane = DaneExpectation("none", sender=_STS_SENDER.get(sc.expect.status, ("none", "none")))
    return replace(sc, mx=mx, dnssec=Dnssec.SECURE, dane=dane)


def generate_world(n: int, seed: int, *, signed: float = 0.0) -> World:
    """``n`` domains, deterministic from ``seed``; ranks are the scenario order (1-based).

    ``signed``: the share of domains whose zone is signed (DNSSEC and DANE, see above)."""
    rng = random.Random(seed)
    dnssec_rng = random.Random(f"dnssec-{seed}")
    provider_mx = {id(mx): _DANE_PROVIDER_MX for mx in _PROVIDER_MX
                   if signed and mx[0].name.endswith(f".{DANE_PROVIDER}")}
    names = list(KINDS)
    kind_cum = list(itertools.accumulate(KINDS[k][0] for k in names))
    provider_cum = list(itertools.accumulate(w for _, w in PROVIDERS))
    mx_total = provider_cum[-1] + SELF_HOSTED_WEIGHT
    chosen = rng.choices(names, cum_weights=kind_cum, k=n)
    scenarios = []
    for rank, kind in enumerate(chosen, 1):
        d = f"d{rank}-{WORDS[rng.randrange(len(WORDS))]}.{TLDS[rank % len(TLDS)]}"
        _, build, expect = KINDS[kind]
        mx = _choose_mx(rng, d, provider_cum, mx_total)
        sc = build(d, provider_mx.get(id(mx), mx))
        sc = Scenario(sc.domain, sc.mx, sc.sts_txt, sc.sts_cname, sc.tlsrpt_txt,
                      sc.policy_host, sc.dns_faults, expect, kind)
        if signed and dnssec_rng.random() < signed:
            sc = _signed(sc, dnssec_rng)
        scenarios.append(sc)
    return World(tuple(scenarios), seed=seed, extra={"generator": "survey.sim.generator"})


def write_toplist(world: World, path: Path) -> None:
    """Tranco-style ``rank,domain`` lines (no header) in scenario order."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(enumerate((s.domain for s in world.scenarios), 1))
