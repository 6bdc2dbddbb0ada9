"""A run's manifest: the one reader, and the one table of scan options it records.

Each scan option is one ``Option`` row in ``OPTIONS``. From the table follow: the defaults the
CLI applies (after a manifest's values, so that a value given again can be told from a saved
one), what the manifest records under ``options``, which recorded values must be equal for a
run to be resumed (``RESULT``: they change what a row says; mixing two of them in one dataset
makes its numbers meaningless), how ``scan --retry-errors OUT`` restores them, and the fields
of the scan's config each sets (``survey.scan.config.ScanConfig.from_options``). The resume
rule also compares the manifest's ``schema_version``: parts of two schemas in one directory
would only be refused later, by ``publish``. Light (no pyarrow): the CLI's parser reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from survey.dataset.layout import MANIFEST, PART_ROWS, PART_SECONDS

#: ``result``: compared on resume. ``operational``: may change between sessions (rate,
#: timeouts, resolvers...). ``record``: describes the run only (vantage point).
Effect = Literal["result", "operational", "record"]


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest of a run or snapshot directory, or None when it has none; ValueError
    (naming the file) when it is unreadable or not a JSON object."""
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable manifest: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: manifest is not a JSON object")
    return data


def _resolver(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")  # the manifest always writes HOST:PORT (IPv6 unbracketed)
    return host, int(port)


def _path(value: Any) -> Path | None:
    return None if value is None else Path(str(value))


@dataclass(frozen=True)
class Option:
    """One scan option: its argparse ``dest`` and its ``key`` under the manifest's ``options``
    (None: not a command-line option, or not recorded there). An option changes results unless
    it says why it does not (``why``): forgetting to decide makes it compared on resume."""

    dest: str | None
    key: str | None
    default: Any = None  # applied after the manifest's value; None: no default
    restore: Callable[[Any], Any] | None = None  # manifest value -> option value
    why: str = ""  # why it may change between sessions (then it is not compared)
    probe: bool = False  # a network option `check` shares (``add_probe_options``)
    describes: bool = False  # describes the run (datasheet), changes no probe
    #: the fields of the scan's config it sets (``survey.scan.config``: ``section.field``)
    config: tuple[str, ...] = ()

    @property
    def effect(self) -> Effect:
        return "result" if not self.why else "record" if self.describes else "operational"


_PACE = "pace and politeness: how fast, not what is seen"
_DEADLINE = "a deadline: a slow answer becomes an error row, which --retry-errors redoes"

OPTIONS: tuple[Option, ...] = (
    Option("toplist", "toplist_path", restore=str),
    Option("format", "format", restore=str),
    Option("limit", "limit", restore=int),
    Option("shard", "shard", restore=str),
    Option("exclude", "exclude", restore=_path, probe=True, config=("guard.exclusions",),
           why="a path; the list's content is compared (exclude_sha256)"),
    Option(None, "exclude_sha256"),
    Option("smtp", "smtp", False, bool, probe=True, config=("smtp.enabled",)),
    Option("https_port", "https_port", 443, int, probe=True, config=("https.port",)),
    Option("smtp_port", "smtp_port", 25, int, probe=True, config=("smtp.port",)),
    Option("allow_private", "allow_private", False, bool, probe=True,
           config=("guard.allow_private",)),
    Option("toplist_name", "toplist_name", restore=str),
    Option("toplist_date", "toplist_date", restore=str),
    Option("tlsa", "tlsa", "secure", str, probe=True, config=("tlsa.mode",)),
    Option("resolver", "resolvers", restore=lambda v: [_resolver(r) for r in v] or None,
           probe=True, why="a resolver outage is repaired by resuming through another one",
           config=("dns.resolvers",)),
    Option("rate", "rate", 1000.0, float, probe=True, why=_PACE, config=("dns.rate",)),
    Option("concurrency", "concurrency", 500, int, why=_PACE, config=("pool.concurrency",)),
    # survey.scan.inflight.MAX_IN_FLIGHT (not imported: it brings trio; a test holds them equal)
    Option("max_concurrency", "max_concurrency", 10_000, int, why=_PACE,
           config=("pool.max_concurrency",)),
    Option("per_destination", "per_destination", 4, int, probe=True, why=_PACE,
           config=("guard.per_destination",)),
    Option("timeout", "timeout", 10.0, float, probe=True, why=_DEADLINE,
           config=("https.timeout", "smtp.timeout")),
    Option("dns_timeout", "dns_timeout", 2.0, float, probe=True, why=_DEADLINE,
           config=("dns.timeout",)),
    Option("retries", "retries", 2, int, probe=True, why=_DEADLINE, config=("dns.retries",)),
    Option("ca_bundle", "ca_bundle", restore=_path, probe=True,
           why="extra trust anchors for test or private CAs; each session records its store",
           config=("https.ca_bundle", "smtp.ca_bundle")),
    Option("ehlo_name", "ehlo_name", restore=str, probe=True, why="how the scanner introduces "
           "itself to MX hosts", config=("smtp.ehlo_name",)),
    Option("contact", "contact", restore=str, probe=True, why="the User-Agent's contact URL",
           config=("https.contact",)),
    Option("dnssec_check", "dnssec_check", restore=str, probe=True,
           why="asks once whether the resolver validates; recorded per session"),
    Option("vantage_point", "vantage_point", restore=str, describes=True,
           why="describes the run for its datasheet"),
    Option("part_rows", "part_rows", PART_ROWS, int, why="how rows are cut into files"),
    Option("part_seconds", "part_seconds", PART_SECONDS, float,
           why="how rows are cut into files"),
    Option("dns_backoff", "dns_backoff", 0.5, float, why=_DEADLINE, config=("dns.backoff",)),
    Option("dns_sockets", "dns_sockets", 4, int, why=_PACE, config=("dns.sockets",)),
    Option("workers", None, 1, why="parallelism of one session (recorded in its sessions entry)"),
)

#: The scan command's arguments that are no recorded option: where and how this session runs,
#: or the run's identity (``run_id``, ``run_date``: recorded and checked by themselves).
SESSION_ARGUMENTS = frozenset({"output", "run_id", "run_date", "no_progress", "cluster",
                               "retry_errors"})

#: Defaults of the network options `scan` and `check` share.
PROBE_DEFAULTS: dict[str, Any] = {o.dest: o.default for o in OPTIONS
                                  if o.probe and o.dest and o.default is not None}
#: Defaults of every scan option; applied after the manifest's values.
SCAN_DEFAULTS: dict[str, Any] = {o.dest: o.default for o in OPTIONS
                                 if o.dest and o.default is not None}
#: Manifest options that must be equal to resume into an existing OUTDIR.
RESULT_OPTIONS: tuple[str, ...] = tuple(o.key for o in OPTIONS if o.effect == "result" and o.key)
#: Recorded under ``options`` (the keys ``scan`` writes, each once).
RECORDED: tuple[str, ...] = tuple(o.key for o in OPTIONS if o.key)


def resume_conflicts(previous: Mapping[str, Any], options: Mapping[str, Any],
                     schema_version: str) -> list[str]:
    """What differs between a run's manifest and this session, among what changes results:
    ``RESULT_OPTIONS`` and the schema version. Empty: the run may be resumed."""
    before = previous.get("options", {})
    before = before if isinstance(before, dict) else {}
    conflicts = [k for k in RESULT_OPTIONS if before.get(k) != options.get(k)]
    if previous.get("schema_version") != schema_version:
        conflicts.append("schema_version")
    return conflicts


def saved_options(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The scan options (argparse dests) a run's manifest records, ready to fill unset options.

    ``scan --retry-errors OUT`` needs nothing but OUT: the toplist and every option come from
    here unless given again on the command line. Options the manifest does not hold (older
    manifests) or holds as null are left out, so they take the command's defaults.
    """
    options = manifest.get("options")
    if not isinstance(options, dict):
        return {}
    found: dict[str, Any] = {}
    for option in OPTIONS:
        if option.dest is None or option.key is None or option.restore is None:
            continue
        value = options.get(option.key)
        if value is not None:
            converted = option.restore(value)
            if converted is not None:
                found[option.dest] = converted
    if isinstance(manifest.get("run_date"), str):
        found["run_date"] = manifest["run_date"]
    return found
