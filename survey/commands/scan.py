"""`mta-sts-survey scan TOPLIST -o OUTDIR`: survey a toplist into Parquet parts, resumably.

Every option is checked (exit 2, one line) before any packet is sent. Re-running the same
command on an existing OUTDIR resumes: domains in complete parts are skipped. Options that
change the results (``RESULT_OPTIONS``) must match the manifest's, or the command refuses:
mixing two configurations in one dataset would make its numbers meaningless; use another OUTDIR.
Operational options (rate, concurrency, timeouts, resolvers) may change between sessions.

``scan --retry-errors OUTDIR`` needs only OUTDIR: the toplist and the options come from its
manifest (``scan_plan.saved_options``) unless given again, so scan options default to None
here and their defaults (``SCAN_DEFAULTS``) are applied after the manifest's values.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import hashlib
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from survey import __version__
from survey.commands._options import UsageError as UsageError
from survey.commands._options import (
    add_probe_options,
    check_probe_args,
    exclusions_from_args,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    resolvers_from_args,
)
from survey.commands._options import parse_resolver as parse_resolver
from survey.commands.scan_plan import (
    count_lines,
    parse_date,
    progress_total,
    saved_options,
)
from survey.dataset.citation import default_name as default_toplist_name
from survey.dataset.citation import identify as identify_toplist
from survey.dataset.layout import PART_ROWS, PART_SECONDS
from survey.dataset.manifest import OPTIONS, resume_conflicts
from survey.dataset.manifest import RESULT_OPTIONS as RESULT_OPTIONS
from survey.dataset.manifest import SCAN_DEFAULTS as SCAN_DEFAULTS
from survey.toplist.reader import ToplistFormat, ToplistStats
from survey.toplist.sources import absolute_source

if TYPE_CHECKING:  # pyarrow and trio come with these: imported where a scan runs, not by --help
    from survey.runs.store import Store

# --- scan ---------------------------------------------------------------------------------------

def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "scan", help="survey a toplist into a Parquet output directory",
        usage="%(prog)s TOPLIST -o OUTDIR [options]\n       %(prog)s --retry-errors OUTDIR "
        "[options]",
        description="Survey every domain of TOPLIST and write one row per domain to "
        "OUTDIR/parts/*.parquet. Ctrl-C or SIGTERM stops after writing what is finished; "
        "re-running the same command on OUTDIR resumes (it refuses options that would change "
        "the results). `--retry-errors OUTDIR` probes again the domains whose rows have status "
        "error and replaces those rows, with the toplist and options of OUTDIR's manifest "
        "(options given again override them). Exit status: 0 done or stopped (resumable), 1 "
        "toplist unreadable mid-way or internal errors (resumable), 2 bad options.",
    )
    parser.add_argument("toplist", nargs="?",
                        help="toplist file (csv, gz, bz2, xz, zip) or - for stdin")
    parser.add_argument("-o", "--output", metavar="OUTDIR",
                        help="output directory: a local or shared path (NFS), file:///abs/path, "
                        "or an object-store URL (s3://bucket/run, gs://...: shards are staged "
                        "locally and uploaded whole; needs the cluster extra and s3fs/gcsfs)")
    parser.add_argument("--format", choices=[str(f) for f in ToplistFormat],
                        help="toplist format (default: detected)")
    parser.add_argument("--limit", type=non_negative_int, metavar="N",
                        help="only the first N valid entries")
    parser.add_argument("--shard", metavar="I/N", help="only shard I of N (0 <= I < N)")
    parser.add_argument("--concurrency", type=positive_int, metavar="N",
                        help="domains in flight (default 500) at the start, raised while the "
                        "measured latency calls for more, up to --max-concurrency; given, "
                        "the number is fixed unless --max-concurrency is given too")
    parser.add_argument("--max-concurrency", type=positive_int, metavar="N",
                        help="most domains in flight when the number adapts, i.e. when "
                        "--concurrency is not given (default 10,000); see docs/resolver.md")
    parser.add_argument("--toplist-name", metavar="NAME",
                        help="name recorded in rows (default: the file name)")
    parser.add_argument("--toplist-date", metavar="YYYY-MM-DD", help="date of the toplist")
    parser.add_argument("--run-date", metavar="YYYY-MM-DD",
                        help="the date this survey is for: names its published snapshot and "
                        "labels it in diffs (default: the day the run started, UTC)")
    parser.add_argument("--run-id", metavar="ID", help="run identifier (default: random)")
    parser.add_argument("--vantage-point", metavar="TEXT",
                        help="where the scan runs from (network, AS, country), for the "
                        "published snapshot's datasheet")
    parser.add_argument("--no-progress", action="store_true", help="no progress output")
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help="scan in N processes (shards of the list; see docs/cluster.md)")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="scan on a Dask scheduler (tcp://host:8786) or local:N (needs "
                        "pip install 'mta-sts-survey[cluster]')")
    parser.add_argument("--retry-errors", nargs="?", const=True, default=None, metavar="OUTDIR",
                        help="probe again the domains of OUTDIR whose rows have status error "
                        "(e.g. a resolver outage) and replace their rows; the toplist and "
                        "options default to OUTDIR's (old form: TOPLIST -o OUTDIR "
                        "--retry-errors)")
    parser.add_argument("--part-rows", type=positive_int, metavar="N",
                        help=f"rows per Parquet part (default {PART_ROWS:,}); a crash loses "
                        "at most the rows of one unwritten part")
    parser.add_argument("--part-seconds", type=positive_float,
                        metavar="S", help=f"write a part at least this often (default "
                        f"{PART_SECONDS:g})")
    parser.add_argument("--dns-backoff", type=non_negative_float, metavar="S",
                        help="seconds before the first DNS retry, doubled each retry "
                        "(default 0.5)")
    parser.add_argument("--dns-sockets", type=positive_int, metavar="N",
                        help="long-lived UDP sockets per resolver (default 4)")
    add_probe_options(parser, defaults=False)
    parser.set_defaults(func=run)


def resolve_targets(args: argparse.Namespace) -> bool:
    """Settle TOPLIST, OUTDIR and whether errors are retried (``args`` updated); True to retry.

    ``--retry-errors`` takes an optional OUTDIR, so in ``--retry-errors TOPLIST -o OUTDIR``
    argparse hands it the toplist: with ``-o`` given and no positional, the value is the list.
    """
    from survey.runs.store import is_store_url

    retry, value = args.retry_errors is not None, args.retry_errors
    args.store = None
    if args.output is not None and is_store_url(args.output):
        if retry:
            raise UsageError(f"--retry-errors rewrites parts in place, which an object store "
                             f"cannot do: copy {args.output} to a local directory and retry there")
        args.store, args.output = str(args.output).rstrip("/"), None
        return retry
    if args.output is not None:
        args.output = output_path(args.output)
    if isinstance(value, str):
        if args.output is None:
            args.output = output_path(value)
        elif args.toplist is None:
            args.toplist = value
        elif output_path(value).resolve() != args.output.resolve():
            raise UsageError(f"--retry-errors {value} and -o {args.output}: two output "
                             "directories; give one")
    if args.output is None:
        raise UsageError("-o OUTDIR is required (or --retry-errors OUTDIR)")
    return retry


def output_path(text: str | Path) -> Path:
    """OUTDIR as a local path: ``file:///abs/path`` is its path; another URL is refused (the
    scan command takes object-store URLs through ``survey.runs.store`` before this).

    ``run:2026`` has no ``//``: a relative path, not a URL.
    """
    from survey.toplist.sources import url_scheme

    text = str(text)
    scheme = url_scheme(text)
    if scheme is None:
        return Path(text)
    if scheme == "file":
        import urllib.parse

        parts = urllib.parse.urlsplit(text)
        if parts.netloc in ("", "localhost") and parts.path:
            return Path(urllib.parse.unquote(parts.path))
    raise UsageError(f"-o {text}: expected a local or shared path or file:///abs/path here")


def fill_options(args: argparse.Namespace, saved: dict[str, Any]) -> None:
    """Options not given on the command line: ``saved`` (a manifest's), then the defaults."""
    for dest, value in saved.items():
        if getattr(args, dest, None) is None:
            setattr(args, dest, value)
    if args.max_concurrency is None and args.concurrency is not None:
        args.max_concurrency = args.concurrency  # a tuned --concurrency is kept as given
    for dest, value in SCAN_DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, value)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        i_text, n_text = text.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise UsageError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise UsageError(f"--shard {text!r}: need 0 <= I < N")
    return i, n


def _check_toplist(source: str) -> None:
    """The toplist opens (a local file, or an fsspec URL: file://, s3://...); else exit 2."""
    from survey.toplist.sources import check_toplist, url_scheme

    if source != "-" and url_scheme(source) is None and not Path(source).is_file():
        raise UsageError(f"{source}: no such file")
    try:
        check_toplist(source)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{source}: {exc}") from exc


def _check_outdir(outdir: Path) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"-o {outdir}: exists and is not a directory")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"-o {outdir}: cannot create: {exc.strerror or exc}") from exc
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise UsageError(f"-o {outdir}: not writable")


def _link_target(source: str) -> str:
    """A local toplist's real path: ``lists/tranco-current.csv``, a symlink a download script
    keeps pointing at ``tranco_6P7X.csv``, is named (and cited) by the list it points at."""
    from survey.toplist.sources import url_scheme

    if source == "-" or url_scheme(source) is not None:
        return source
    return os.path.realpath(source)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_options(args: argparse.Namespace, resolvers: tuple[tuple[str, int], ...],
                   shard: tuple[int, int] | None, toplist_name: str, toplist_date: str | None
                   ) -> dict[str, Any]:
    """The manifest's ``options``: one entry per key of the option table, in its order; the
    value of the option itself unless it is recorded in another form (a path made absolute,
    a list's digest, the resolvers in use)."""
    recorded = {
        "toplist_path": absolute_source(args.toplist),
        "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
        "exclude": None if args.exclude is None else str(args.exclude.resolve()),
        "exclude_sha256": None if args.exclude is None else _sha256(args.exclude),
        "toplist_name": toplist_name, "toplist_date": toplist_date,
        "resolvers": [f"{h}:{p}" for h, p in resolvers],
        "ca_bundle": None if args.ca_bundle is None else str(args.ca_bundle.resolve()),
    }
    return {o.key: recorded[o.key] if o.key in recorded else getattr(args, str(o.dest))
            for o in OPTIONS if o.key is not None}


@contextlib.contextmanager
def _closing_entries(entries: Any) -> Any:
    try:
        yield entries
    finally:
        close = getattr(entries, "close", None)
        if close is not None:
            close()


def _check_cluster(args: argparse.Namespace) -> None:
    """--cluster: its address, and Dask being installed, before OUTDIR is touched."""
    if args.cluster is None:
        return
    from survey.runs.cluster import parse_cluster

    try:
        parse_cluster(args.cluster)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.workers > 1:
        raise UsageError("--workers and --cluster exclude each other")
    try:
        import distributed  # noqa: F401  (the optional `cluster` extra)
    except ImportError:
        raise UsageError("--cluster needs Dask's distributed, which is not installed: "
                         "pip install 'mta-sts-survey[cluster]'") from None


def _check_sharding(args: argparse.Namespace, outdir: Path, sharded: bool,
                    shard: tuple[int, int] | None, *, retry: bool,
                    previous: dict[str, Any] | None) -> None:
    """--workers/--cluster against the toplist and OUTDIR (see docs/cluster.md).

    ``--retry-errors`` runs in one process, also on a sharded run once it is complete: its rows
    are all in ``OUTDIR/parts/`` by then, where the retry drops and rewrites them. Until that
    retry completes, a sharded resume would find every shard committed and call the run
    complete with the dropped domains missing, so it is refused (``retrying`` in the manifest).
    """
    if sharded and args.toplist == "-":
        raise UsageError("--workers/--cluster read the toplist by path, not from stdin")
    if sharded and shard is not None:
        raise UsageError("--shard cannot be combined with --workers/--cluster (they shard)")
    if retry and sharded:
        raise UsageError("--retry-errors runs in one process: drop --workers/--cluster")
    from survey.runs.shards import planned_shards, sharding_conflict

    state = previous or {}
    if planned_shards(outdir) is not None:
        if state.get("retrying") and not retry:
            raise UsageError(f"{outdir}: a --retry-errors was interrupted; finish it with "
                             f"scan --retry-errors {outdir}")
        if retry:
            if state.get("state") != "complete" and not state.get("retrying"):
                raise UsageError(f"{outdir} holds an unfinished sharded run: finish it (the same "
                                 "command, with --workers or --cluster) before --retry-errors")
            return
    conflict = sharding_conflict(outdir, sharded)
    if conflict:
        raise UsageError(conflict)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except UsageError as exc:
        print(f"scan: {exc}", file=sys.stderr)
        return 2


def _read_previous(outdir: Path) -> dict[str, Any] | None:
    from survey.dataset.sink import read_manifest

    try:
        return read_manifest(outdir) if outdir.is_dir() else None
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _settle_store(args: argparse.Namespace) -> tuple[Store, dict[str, Any] | None]:
    """For an object-store OUT: the store and its manifest, and ``args.output`` set to this
    machine's staging directory for the run (its id: the manifest's, else ``--run-id`` or new)."""
    from survey.runs.store import Store, staging_dir

    try:
        store = Store.open(args.store)
        previous: dict[str, Any] | None = store.manifest()
    except (OSError, ValueError) as exc:
        raise UsageError(f"-o {args.store}: {exc}") from exc
    if previous is None:
        args.run_id = args.run_id or uuid.uuid4().hex
    run_id = str((previous or {}).get("run_id") or args.run_id)
    args.output = staging_dir(args.store, run_id)
    return store, previous


def _settle_options(args: argparse.Namespace
                    ) -> tuple[bool, dict[str, Any] | None, Store | None]:
    """Targets, saved and default options, dates: (retry errors?, OUTDIR's manifest or None,
    the object store OUT names, if it names one)."""
    retry = resolve_targets(args)
    store = None
    if args.store:
        store, previous = _settle_store(args)
    else:
        previous = _read_previous(args.output)
    if retry:
        if previous is None:
            raise UsageError(f"--retry-errors: {args.output} holds no run to retry")
        fill_options(args, saved_options(previous))
        if args.toplist == "-":
            raise UsageError(f"--retry-errors: the run in {args.output} read its toplist from "
                             "stdin; give it again: scan - -o OUTDIR --retry-errors < LIST")
    fill_options(args, {})
    if args.toplist is None:
        raise UsageError("give a TOPLIST to scan (or --retry-errors OUTDIR)")
    try:
        if args.toplist_date is not None:
            args.toplist_date = parse_date("--toplist-date", args.toplist_date)
        if args.run_date is not None:
            args.run_date = parse_date("--run-date", args.run_date)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    recorded = (previous or {}).get("run_date")
    if args.run_date is not None and recorded is not None and args.run_date != recorded:
        raise UsageError(f"{args.store or args.output} holds a run for {recorded}, not "
                         f"{args.run_date}; resume it without --run-date, or use another OUTDIR")
    return retry, previous, store


def _run(args: argparse.Namespace) -> int:
    import trio

    from survey.core.digests import NameSet
    from survey.dataset.schema import SCHEMA_VERSION, RunContext
    from survey.dataset.sink import (
        PartWriter,
        completed_domains,
        completed_names,
        drop_rows,
        status_counts,
        utc_now,
        write_manifest,
    )
    from survey.probes.tls import trust_store
    from survey.scan.config import ScanConfig
    from survey.scan.pool import resolver_figures, run_scan
    from survey.scan.progress import Progress, format_duration, summary_table
    from survey.toplist.reader import read_toplist

    retry, previous, store = _settle_options(args)
    shard = parse_shard(args.shard)
    _check_toplist(args.toplist)
    # a citable list: its id or date from --toplist-name, else from the file's name
    name = args.toplist_name or default_toplist_name(_link_target(args.toplist))
    identity = identify_toplist(name)
    args.toplist_date = args.toplist_date or identity.date
    toplist_date = None if args.toplist_date is None else dt.date.fromisoformat(args.toplist_date)
    check_probe_args(args)
    _check_cluster(args)
    resolvers = resolvers_from_args(args)
    exclusions = exclusions_from_args(args)
    outdir: Path = args.output
    _check_outdir(outdir)
    options = record_options(args, resolvers, shard, name, args.toplist_date)
    if previous is not None:
        conflicts = resume_conflicts(previous, options, SCHEMA_VERSION)
        shown = args.store or outdir
        if conflicts:
            raise UsageError(f"{shown} holds a run with other options ({', '.join(conflicts)}); "
                             "re-run with the same options to resume, or use another OUTDIR")
        if args.run_id is not None and args.run_id != previous.get("run_id"):
            raise UsageError(f"{shown} holds run {previous.get('run_id')!r}, not {args.run_id!r}")
        run_id = str(previous["run_id"])
    else:
        run_id = args.run_id or uuid.uuid4().hex
    try:
        config = ScanConfig.from_options(
            vars(args) | {"resolver": resolvers, "exclude": exclusions},
            context=RunContext(run_id, name, toplist_date))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc

    sharded = args.workers > 1 or args.cluster is not None or store is not None
    if store is not None and shard is not None:
        raise UsageError("--shard cannot be combined with an object-store OUT (it is sharded)")
    _check_sharding(args, outdir, sharded, shard, retry=retry, previous=previous)
    manifest: dict[str, Any] = dict(previous or {})
    manifest.update({
        "run_id": run_id, "tool_version": __version__, "schema_version": SCHEMA_VERSION,
        "toplist": {"name": name, "path": options["toplist_path"], "date": args.toplist_date,
                    "format": args.format, **identity.manifest_fields()},
        "options": options, "state": "running", "finished_at": None,
    })
    manifest.setdefault("started_at", utc_now())
    # the snapshot's date: given, else kept from an earlier session, else the run's first day
    manifest["run_date"] = args.run_date or manifest.get("run_date") or str(
        manifest["started_at"])[:10]
    if retry:
        manifest["retrying"] = True  # until the run completes again (see _check_sharding)
    session: dict[str, Any] = {"started_at": utc_now(), "workers": args.workers,
                               "cluster": args.cluster, "retried_errors": 0,
                               "trust_store": trust_store(args.ca_bundle).describe()}
    manifest.setdefault("sessions", [])
    manifest["sessions"].append(session)
    manifest["resolver_validates"] = resolver_validates(args.dnssec_check, resolvers,
                                                        args.dns_timeout, args.retries)
    try:  # "running" before any row is dropped: a crash in between never looks complete
        write_manifest(outdir, manifest)
        if store is not None:
            store.write_manifest(manifest)
    except OSError as exc:
        raise UsageError(f"-o {args.store or outdir}: cannot write the manifest: "
                         f"{exc.strerror or exc}") from exc
    if retry:
        completed_domains(outdir)  # quarantines damaged parts before they are rewritten
        session["retried_errors"] = drop_rows(outdir, "error")
        print(f"retrying {session['retried_errors']:,} domain(s) with status error",
              file=sys.stderr)
    done = NameSet() if sharded else completed_names(outdir)  # digests: 32 bytes a domain
    session["resumed_with_done"] = len(done)

    mode = "off" if args.no_progress else "auto"
    total = progress_total(count_lines(args.toplist), limit=args.limit,
                           shards=1 if shard is None else shard[1],
                           done=_sharded_done(outdir, store) if sharded else len(done))
    progress = Progress(total=total, mode=mode)
    if sharded:
        from survey.runs.session import scan_sharded

        try:
            summary, stats = scan_sharded(
                args.toplist, outdir, config, progress, workers=args.workers,
                cluster=args.cluster, store=args.store, fmt=args.format, limit=args.limit,
                part_rows=args.part_rows, part_seconds=args.part_seconds)
        except (OSError, ValueError) as exc:
            print(f"scan: {exc}", file=sys.stderr)
            return 1
    else:
        stats = ToplistStats()
        entries = read_toplist(args.toplist,
                               fmt=ToplistFormat(args.format) if args.format else None,
                               limit=args.limit, shard=shard, exclusions=exclusions, stats=stats)
        sink = PartWriter(outdir, run_id, max_rows=args.part_rows, max_seconds=args.part_seconds)
        try:
            with _closing_entries(entries):
                summary = trio.run(functools.partial(run_scan, done=done), entries, config, sink,
                                   progress)
        except (OSError, BaseExceptionGroup) as exc:  # a full or failing disk under OUTDIR
            error = _os_error(exc)
            if error is None:
                raise
            print(f"scan: writing to {outdir} failed: {error.strerror or error}; the rows in "
                  "complete parts are kept: free space and re-run the same command to resume",
                  file=sys.stderr)
            return 1

    session.update({"finished_at": utc_now(), "scanned": summary.scanned,
                    "interrupted": summary.interrupted, "queries_sent": summary.queries_sent,
                    "internal_errors": summary.internal_errors,
                    "blocked_addresses": summary.blocked_addresses,
                    "excluded_addresses": summary.excluded_addresses,
                    "dns": resolver_figures(summary), "in_flight": summary.in_flight})
    manifest["toplist_stats"] = toplist_stats_dict(stats)
    complete = (not summary.interrupted and summary.internal_errors == 0
                and summary.input_error is None)
    if store is None:
        counts = status_counts(outdir)
    else:
        counts, complete = _store_counts(store, complete)
    manifest["counts"] = counts
    if complete:
        manifest.update({"state": "complete", "finished_at": utc_now()})
        manifest.pop("retrying", None)
    write_manifest(outdir, manifest)
    if store is not None:
        store.write_manifest(manifest)  # last: "complete" only after every shard is there

    facts = [
        ("scanned now", f"{summary.scanned:,}"),
        ("already done", f"{summary.skipped_done:,}"),
        ("duration", format_duration(summary.duration)),
        ("queries sent", f"{summary.queries_sent:,}"),
        ("blocked IPs", f"{summary.blocked_addresses:,}"),
        ("excluded IPs", f"{summary.excluded_addresses:,}"),
        ("state", manifest["state"]),
        ("resolver DNSSEC", {True: "validates", False: "does NOT validate"}.get(
            manifest["resolver_validates"], "not checked")),
    ]
    if summary.internal_errors:
        facts.append(("internal errors", f"{summary.internal_errors:,} (see log; re-run)"))
    print(summary_table(counts, facts=facts, toplist_lines=stats.summary_lines()))
    warning = dnssec_warning(manifest["resolver_validates"], args.dnssec_check)
    if warning:
        print(f"scan: {warning}", file=sys.stderr)
    if summary.input_error is not None:
        print(f"scan: {args.toplist}: {summary.input_error}", file=sys.stderr)
        return 1
    if summary.interrupted:
        print(f"stopped; re-run the same command to resume into {args.store or outdir}",
              file=sys.stderr)
    elif summary.internal_errors:
        print(f"scan: {summary.internal_errors} internal error(s), see the log; re-run the same "
              f"command to finish {args.store or outdir}", file=sys.stderr)
        return 1
    return 0


def resolver_validates(name: str | None, resolvers: tuple[tuple[str, int], ...],
                       timeout: float, retries: int) -> bool | None:
    """Whether the resolvers validate DNSSEC, asked once per session with ``name`` (a name
    known to be signed): the manifest's ``resolver_validates``; None when not asked or no
    answer came. Every resolver must validate: the scan spreads its queries over all."""
    if name is None:
        return None
    import trio

    from survey.probes.dns import DnsClient, DnsConfig

    async def ask() -> bool | None:
        answers = []
        for resolver in resolvers:
            config = DnsConfig(resolvers=(resolver,), timeout=timeout, retries=retries)
            async with DnsClient(config) as client:
                answers.append(await client.validates(name))
        if False in answers:
            return False
        return None if None in answers else True

    return trio.run(ask)


def dnssec_warning(validates: bool | None, name: str | None) -> str | None:
    """What the end of a scan says about its DNSSEC and DANE columns (None: they hold)."""
    if validates is True:
        return None
    if validates is False:
        return (f"the resolver does not validate DNSSEC (no AD for {name}): the DNSSEC and DANE "
                "columns of this run mean nothing; scan through a validating resolver "
                "(README: Unbound with validation on)")
    if name is None:
        return ("DNSSEC validation of the resolver not checked (--dnssec-check NAME): the "
                "DNSSEC and DANE columns hold only if it validates")
    return (f"could not tell whether the resolver validates DNSSEC ({name} got no answer): the "
            "DNSSEC and DANE columns hold only if it does")


def _sharded_done(outdir: Path, store: Store | None = None) -> int:
    """Rows earlier sessions of a sharded run wrote (what its progress feed does not count)."""
    from survey.runs.progress import shard_progress
    from survey.runs.shards import planned_shards

    if store is not None:
        count = store.planned_shards() or 0
        return sum(sum(store.shard_progress(i, count).values()) for i in range(count))
    count = planned_shards(outdir) or 0
    return sum(sum(shard_progress(outdir, i, count).values()) for i in range(count))


def _store_counts(store: Store, complete: bool) -> tuple[dict[str, int], bool]:
    """Counts by status from the store's shard records, and whether the run is complete:
    every shard recorded and the parts no record lists deleted (``survey.runs.store.finalize``)."""
    from survey.runs.store import finalize, recorded_counts

    count = store.planned_shards() or 0
    if complete:
        counts = finalize(store, count)
        if counts is not None:
            return counts, True
    return recorded_counts(store, count), False


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError inside ``exc`` (trio wraps task errors in exception groups), if any."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _os_error(inner)
            if found is not None:
                return found
    return None


def toplist_stats_dict(stats: ToplistStats) -> dict[str, Any]:
    return {"lines": stats.lines, "entries": stats.entries, "duplicates": stats.duplicates,
            "excluded": stats.excluded, "skipped_by_shard": stats.skipped_by_shard,
            "ignored": stats.ignored, "invalid": dict(stats.invalid),
            "examples": dict(stats.examples)}
