"""The scan's config (``survey.scan.config``): built from the one option table, nested per probe,
and still constructed by the former flat keywords."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from survey.dataset.manifest import OPTIONS, SCAN_DEFAULTS
from survey.dataset.schema import RunContext
from survey.probes.net import Exclusions
from survey.scan.config import (
    FLAT,
    GuardOptions,
    ScanConfig,
    SmtpOptions,
    config_paths,
    user_agent,
)

CONTEXT = RunContext("run1", "list")
RESOLVERS = (("127.0.0.53", 53),)
#: Options that configure no probe: the input, the output's cutting, the session, the record.
NOT_IN_CONFIG = {"toplist", "format", "limit", "shard", "toplist_name", "toplist_date",
                 "dnssec_check", "vantage_point", "part_rows", "part_seconds", "workers"}


def nested(config: ScanConfig, path: str) -> Any:
    section, _, attribute = path.partition(".")
    return getattr(getattr(config, section), attribute)


def test_every_option_says_which_config_fields_it_sets() -> None:
    """A new scan option either names the config fields it sets or is added here, with the
    others that configure no probe; every named field exists."""
    without = {o.dest for o in OPTIONS if o.dest and not o.config}
    assert without == NOT_IN_CONFIG
    named = {path for o in OPTIONS for path in o.config}
    assert named <= config_paths()
    assert set().union(*FLAT.values()) <= config_paths()


def distinctive(dest: str, default: Any) -> Any:
    """A value unlike the option's default (and unlike every other option's)."""
    special: dict[str, Any] = {
        "resolver": (("127.0.0.9", 5353),), "exclude": Exclusions.from_lines(["192.0.2.0/24"]),
        "tlsa": "all", "ca_bundle": Path("/tmp/ca.pem"), "ehlo_name": "scanner.example",
        "contact": "https://scanner.example/", "max_concurrency": 12_345}
    if dest in special:
        return special[dest]
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 7
    assert isinstance(default, float), dest
    return default * 3 + 0.25


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.config], ids=lambda o: o.dest)
def test_each_option_reaches_its_config_fields(option: Any) -> None:
    value = distinctive(option.dest, option.default)
    values = {"resolver": RESOLVERS, option.dest: value}
    config = ScanConfig.from_options(values, context=CONTEXT)
    for path in option.config:
        assert nested(config, path) == value, path
    default = ScanConfig.from_options({"resolver": RESOLVERS}, context=CONTEXT)
    changed = {path for path in config_paths() if nested(config, path) != nested(default, path)}
    assert changed == set(option.config)


def test_the_table_builds_what_the_scan_command_built_field_by_field() -> None:
    """The defaults of the table give the config ``scan`` built before (its flat keywords)."""
    exclusions = Exclusions.from_lines(["198.51.100.0/24"])
    args = dict(SCAN_DEFAULTS) | {"resolver": RESOLVERS, "exclude": exclusions,
                                  "ehlo_name": None, "contact": "c@example", "timeout": 3.0}
    built = ScanConfig.from_options(args, context=CONTEXT)
    flat = ScanConfig(context=CONTEXT, resolvers=RESOLVERS, rate=1000.0, concurrency=500,
                      max_concurrency=10_000, per_destination=4, timeout=3.0,
                      connect_timeout=3.0, dns_timeout=2.0, retries=2, https_port=443,
                      smtp_port=25, ca_bundle=None, allow_private=False, smtp=False,
                      ehlo_name=None, contact="c@example", exclusions=exclusions,
                      dns_backoff=0.5, dns_sockets=4, tlsa="secure")
    assert built == flat
    assert built.https.user_agent == user_agent("c@example")
    assert built.pool.handle_signals is True and built.max_mx == 10
    assert ScanConfig.from_options(args | {"timeout": 30.0}, context=CONTEXT
                                   ).smtp.connect_timeout == 5.0


def test_the_flat_keywords_still_construct_it() -> None:
    config = ScanConfig(context=CONTEXT, resolvers=RESOLVERS, rate=50.0, smtp=True, tlsa="all",
                        timeout=3.0, ca_bundle=Path("/tmp/ca.pem"), per_destination=2,
                        handle_signals=False)
    assert config.dns.rate == 50.0 and config.dns.resolvers == RESOLVERS
    assert config.smtp.enabled and config.smtp and config.tlsa.mode == "all"
    assert config.https.timeout == config.smtp.timeout == 3.0
    assert config.https.ca_bundle == config.smtp.ca_bundle == Path("/tmp/ca.pem")
    assert config.guard == GuardOptions(per_destination=2)
    assert config.pool.handle_signals is False
    assert not ScanConfig(context=CONTEXT, resolvers=RESOLVERS).smtp  # off: falsy, as before
    # dataclasses.replace, with nested or flat keywords (the latter unknown to type checkers);
    # a flat one wins over its section
    flat: dict[str, Any] = {"rate": 7.0}
    assert dataclasses.replace(config, **flat).dns.rate == 7.0
    flat = {"smtp_port": 587}
    smtp = dataclasses.replace(config, smtp=SmtpOptions(port=2525), **flat).smtp
    assert (smtp.port, smtp.enabled) == (587, False)


@pytest.mark.parametrize(("keywords", "message"), [
    ({"rate": 0.0}, "rate must be a positive number"),
    ({"rate": float("nan")}, "rate must be a positive number"),
    ({"dns_backoff": -1.0}, "dns_backoff must be >= 0"),
    ({"concurrency": 0}, "concurrency must be >= 1"),
    ({"per_destination": 0}, "per_destination must be >= 1"),
    ({"dns_sockets": 0}, "dns_sockets must be >= 1"),
    ({"max_mx": 0}, "max_mx must be >= 1"),
    ({"tlsa": "some"}, "tlsa must be 'secure' or 'all'"),
    ({"resolvers": ()}, "no resolver"),
])
def test_bad_values_are_refused_with_the_option_named(keywords: dict[str, Any],
                                                      message: str) -> None:
    values: dict[str, Any] = {"context": CONTEXT, "resolvers": RESOLVERS} | keywords
    with pytest.raises(ValueError, match=message):
        ScanConfig(**values)
    with pytest.raises(ValueError, match="no resolver"):
        ScanConfig.from_options({}, context=CONTEXT)


def test_the_flat_names_still_read_the_value_of_their_first_nested_field() -> None:
    """Scripts that read ``config.rate`` (the former flat fields) keep working: every flat name
    reads the nested field it set first (``timeout``: the HTTPS probe's)."""
    config = ScanConfig(context=CONTEXT, resolvers=RESOLVERS, rate=50.0, concurrency=7,
                        max_concurrency=70, per_destination=3, timeout=3.0, connect_timeout=1.5,
                        dns_timeout=0.7, retries=4, dns_backoff=0.2, dns_sockets=5,
                        https_port=8443, smtp_port=2525, ca_bundle=Path("/tmp/ca.pem"),
                        allow_private=True, ehlo_name="probe.example", contact="ops@example",
                        exclusions=Exclusions.from_lines(["example.org"]),
                        handle_signals=False)
    for name, paths in FLAT.items():
        assert getattr(config, name) == nested(config, paths[0]), name
    assert (config.rate, config.concurrency, config.timeout, config.smtp_port) == (
        50.0, 7, 3.0, 2525)
