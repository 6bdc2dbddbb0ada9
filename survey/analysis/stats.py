"""Adoption statistics over a results dataset: the only source of numbers for notebooks and reports.

Every function takes a ``polars.LazyFrame`` from ``load`` (a lazy scan of the Parquet parts, so
only the columns a statistic needs are read) and returns a small ``polars.DataFrame``. Shares
are fractions in [0, 1]. Measurement errors (``status == "error"``) are counted apart and never
mixed into the denominators of adoption shares: a domain we could not measure is not "absent".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

import polars as pl
from publicsuffixlist import PublicSuffixList

from survey.core.mistakes import MISTAKES
from survey.core.observations import DNS_FAILURES
from survey.core.outcomes import SenderOutcome, disagreement_class
from survey.core.policy import (
    POLICY_ERROR_SEVERITY,
    STS_RECORD_ERROR_SEVERITY,
    TLSRPT_RECORD_ERROR_SEVERITY,
    ParseSeverity,
)
from survey.core.verdict import ADOPTED as ADOPTED
from survey.core.verdict import STATUSES as STATUSES
from survey.dataset.layout import NOT_ROWS, ROW_DIRS

#: Rank buckets as (label, first rank, last rank); ranks past the last bucket are "rest".
RANK_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("top 1k", 1, 1_000),
    ("1k-10k", 1_001, 10_000),
    ("10k-100k", 10_001, 100_000),
    ("100k-1M", 100_001, 1_000_000),
)




def parquet_files(path: str | Path) -> list[Path]:
    """The Parquet files of a dataset: a file; a run directory's ``parts/`` alone; a snapshot's
    ``data/`` (any depth); else any depth but ``shards/``, ``quarantine/`` and hidden entries.

    Only committed rows count: an interrupted sharded run keeps uncommitted attempts under
    ``shards/`` (read them and a domain counts twice), and ``diff`` may write its own Parquet
    next to a snapshot's data.
    """
    root = Path(path)
    if root.is_file():
        return [root]
    rows = next((root / d for d in ROW_DIRS if (root / d).is_dir()), None)
    if rows is not None:
        files = sorted(rows.rglob("*.parquet"))
    else:
        files = sorted(p for p in root.rglob("*.parquet") if not _skipped(p.relative_to(root)))
    if not files:
        raise FileNotFoundError(f"no Parquet files under {root}")
    return files


def _skipped(relative: Path) -> bool:
    return relative.parts[0] in NOT_ROWS or any(p.startswith(".") for p in relative.parts)


def load(path: str | Path) -> pl.LazyFrame:
    """Lazily scan a dataset; nothing is read until a statistic collects its columns."""
    return pl.scan_parquet([str(p) for p in parquet_files(path)], hive_partitioning=False)


# -- small helpers -------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval: honest at shares near 0, where adoption shares live."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _with_ci(df: pl.DataFrame, successes: str, total: str, prefix: str) -> pl.DataFrame:
    pairs = zip(df[successes], df[total], strict=True)
    bounds = [wilson_interval(int(s), int(n)) for s, n in pairs]
    return df.with_columns(
        pl.Series(f"{prefix}_ci_low", [b[0] for b in bounds], dtype=pl.Float64),
        pl.Series(f"{prefix}_ci_high", [b[1] for b in bounds], dtype=pl.Float64),
    )


def _share(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den).otherwise(None)


MEASURED = pl.col("status") != "error"
HAS_STS_RECORD = (pl.col("sts_txt").list.len() > 0) & ~pl.col("sts_record_errors").list.contains(
    "no_record"
)


def _only_warnings(column: str, severity: dict[str, ParseSeverity]) -> pl.Expr:
    """No fatal code in a parse-errors column (warnings, e.g. a duplicated field, allowed)."""
    warnings = [c for c, s in severity.items() if s is ParseSeverity.WARNING]
    return pl.col(column).list.eval(pl.element().is_in(warnings)).list.all()


VALID_STS_RECORD = (pl.col("sts_txt").list.len() > 0) & _only_warnings(
    "sts_record_errors", dict(STS_RECORD_ERROR_SEVERITY))
POLICY_FETCHED = (
    (pl.col("https_status") == 200)
    & pl.col("https_error").is_null()
    & ~pl.col("policy_truncated").fill_null(False)
)
VALID_POLICY = POLICY_FETCHED & _only_warnings("policy_errors", dict(POLICY_ERROR_SEVERITY))
VALID_TLSRPT = (pl.col("tlsrpt_txt").list.len() > 0) & _only_warnings(
    "tlsrpt_record_errors", dict(TLSRPT_RECORD_ERROR_SEVERITY))
HAS_MX = pl.col("mx_hosts").list.eval(pl.element().struct.field("host") != "").list.any()


# -- the adoption funnel -------------------------------------------------------------------


def funnel(lf: pl.LazyFrame) -> pl.DataFrame:
    """Scanned → with MX → with a record → valid record → fetched → valid policy → modes.

    ``count`` and ``share`` (of measured domains) per step, plus ``share_of_previous`` for the
    main chain; the measurement errors are one row apart (share of scanned).
    """
    row = (
        lf.select(
            pl.len().alias("scanned"),
            (~MEASURED).sum().alias("measurement_error"),
            MEASURED.sum().alias("measured"),
            (MEASURED & HAS_MX).sum().alias("with_mx"),
            (MEASURED & HAS_STS_RECORD).sum().alias("with_sts_record"),
            (MEASURED & VALID_STS_RECORD).sum().alias("valid_sts_record"),
            (MEASURED & VALID_STS_RECORD & POLICY_FETCHED).sum().alias("policy_fetched"),
            (MEASURED & VALID_STS_RECORD & VALID_POLICY).sum().alias("valid_policy"),
            *(
                (pl.col("status") == mode).sum().alias(f"mode_{mode}")
                for mode in ("none", "testing", "enforce")
            ),
        )
        .collect()
        .row(0, named=True)
    )
    chain = ["measured", "with_mx", "with_sts_record", "valid_sts_record", "policy_fetched",
             "valid_policy"]
    steps = ["scanned", "measurement_error", *chain, "mode_none", "mode_testing", "mode_enforce"]
    measured = row["measured"]
    records = []
    for step in steps:
        count = int(row[step])
        if step in ("scanned", "measurement_error"):
            share = count / row["scanned"] if row["scanned"] else None
        else:
            share = count / measured if measured else None
        prev: float | None = None
        if step in chain[1:]:
            before = row[chain[chain.index(step) - 1]]
            prev = count / before if before else None
        elif step.startswith("mode_"):
            prev = count / row["valid_policy"] if row["valid_policy"] else None
        records.append({"step": step, "count": count, "share": share, "share_of_previous": prev})
    return pl.DataFrame(
        records,
        schema={"step": pl.String, "count": pl.Int64, "share": pl.Float64,
                "share_of_previous": pl.Float64},
        orient="row",
    )


def status_counts(lf: pl.LazyFrame) -> pl.DataFrame:
    """Domains per status (every status listed, zero included) with the share of scanned."""
    counts = lf.group_by("status").agg(pl.len().alias("domains")).collect()
    base = pl.DataFrame({"status": list(STATUSES)})
    out = base.join(counts, on="status", how="left").with_columns(pl.col("domains").fill_null(0))
    total = out["domains"].sum()
    return out.with_columns(
        (pl.col("domains") / total if total else pl.lit(None, pl.Float64)).alias("share")
    )


# -- rank buckets --------------------------------------------------------------------------


def _bucket_expr() -> pl.Expr:
    expr: pl.Expr = pl.lit("rest")
    for label, _first, last in reversed(RANK_BUCKETS):
        expr = pl.when(pl.col("rank") <= last).then(pl.lit(label)).otherwise(expr)
    return pl.when(pl.col("rank").is_null()).then(pl.lit("unranked")).otherwise(expr)


def adoption_by_rank(lf: pl.LazyFrame) -> pl.DataFrame:
    """Adoption (a policy in effect) and enforce share per rank bucket, with Wilson 95% CIs."""
    labels = [b[0] for b in RANK_BUCKETS] + ["rest", "unranked"]
    agg = (
        lf.with_columns(_bucket_expr().alias("bucket"))
        .group_by("bucket")
        .agg(
            pl.len().alias("scanned"),
            (~MEASURED).sum().alias("errors"),
            MEASURED.sum().alias("measured"),
            pl.col("status").is_in(ADOPTED).sum().alias("adopted"),
            (pl.col("status") == "enforce").sum().alias("enforce"),
        )
        .collect()
    )
    order = pl.DataFrame({"bucket": labels, "order": list(range(len(labels)))})
    df = (
        order.join(agg, on="bucket", how="inner")
        .sort("order")
        .drop("order")
        .with_columns(
            _share(pl.col("adopted"), pl.col("measured")).alias("adopted_share"),
            _share(pl.col("enforce"), pl.col("measured")).alias("enforce_share"),
        )
    )
    df = _with_ci(df, "adopted", "measured", "adopted")
    return _with_ci(df, "enforce", "measured", "enforce")


# -- TLS-RPT -------------------------------------------------------------------------------


def tlsrpt_adoption(lf: pl.LazyFrame) -> pl.DataFrame:
    """TLS-RPT alone: measured domains with a valid record, an invalid one, or none."""
    row = (
        lf.filter(MEASURED & ~pl.col("tlsrpt_dns_status").is_in(DNS_FAILURES))
        .select(
            pl.len().alias("measured"),
            VALID_TLSRPT.sum().alias("valid"),
            ((pl.col("tlsrpt_txt").list.len() > 0) & ~VALID_TLSRPT).sum().alias("invalid"),
        )
        .collect()
    )
    df = row.with_columns(_share(pl.col("valid"), pl.col("measured")).alias("valid_share"))
    return _with_ci(df, "valid", "measured", "valid")


def tlsrpt_by_status(lf: pl.LazyFrame) -> pl.DataFrame:
    """TLS-RPT crossed with the MTA-STS status: how many enforce/testing domains get reports."""
    agg = (
        lf.group_by("status")
        .agg(pl.len().alias("domains"), VALID_TLSRPT.sum().alias("with_tlsrpt"))
        .collect()
    )
    base = pl.DataFrame({"status": list(STATUSES)})
    return (
        base.join(agg, on="status", how="left")
        .with_columns(pl.col("domains").fill_null(0), pl.col("with_tlsrpt").fill_null(0))
        .with_columns(_share(pl.col("with_tlsrpt"), pl.col("domains")).alias("tlsrpt_share"))
    )


# -- mistakes ------------------------------------------------------------------------------


def _exploded_mistakes(lf: pl.LazyFrame) -> pl.LazyFrame:
    return (
        lf.select("domain", "rank", "status", "mistakes")
        .explode("mistakes")
        .drop_nulls("mistakes")
        .rename({"mistakes": "code"})
    )


def _severity_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {"code": list(MISTAKES), "severity": [str(m.severity) for m in MISTAKES.values()]}
    )


def mistake_frequency(lf: pl.LazyFrame) -> pl.DataFrame:
    """Each mistake code: domains affected, share of measured domains, share of publishers.

    Publishers are measured domains that publish anything (status not absent/error).
    """
    totals = lf.select(
        MEASURED.sum().alias("measured"),
        pl.col("status").is_in(["invalid", *ADOPTED]).sum().alias("publishers"),
    ).collect().row(0, named=True)
    counts = _exploded_mistakes(lf).group_by("code").agg(pl.len().alias("domains")).collect()
    return (
        counts.join(_severity_frame(), on="code", how="left")
        .with_columns(
            (pl.col("domains") / totals["measured"] if totals["measured"] else pl.lit(None))
            .cast(pl.Float64).alias("share_of_measured"),
            (pl.col("domains") / totals["publishers"] if totals["publishers"] else pl.lit(None))
            .cast(pl.Float64).alias("share_of_publishers"),
        )
        .sort(["domains", "code"], descending=[True, False])
        .select("code", "severity", "domains", "share_of_measured", "share_of_publishers")
    )


def mistakes_by_status(lf: pl.LazyFrame) -> pl.DataFrame:
    """Domains per (code, status): where each mistake lives."""
    return (
        _exploded_mistakes(lf)
        .group_by("code", "status")
        .agg(pl.len().alias("domains"))
        .collect()
        .sort(["code", "status"])
    )


def mistakes_by_severity(lf: pl.LazyFrame) -> pl.DataFrame:
    """Per severity: mistake occurrences and distinct domains with at least one."""
    return (
        _exploded_mistakes(lf)
        .collect()
        .join(_severity_frame(), on="code", how="left")
        .group_by("severity")
        .agg(pl.len().alias("occurrences"), pl.col("domain").n_unique().alias("domains"))
        .sort("severity")
    )


def worst_offenders(lf: pl.LazyFrame, n: int = 20) -> pl.DataFrame:
    """Domains with at least one error-severity mistake, highest-ranked (smallest rank) first."""
    errors = [c for c, m in MISTAKES.items() if str(m.severity) == "error"]
    return (
        lf.select("rank", "domain", "status", "mode", "mistakes")
        .with_columns(
            pl.col("mistakes").list.eval(pl.element().is_in(errors)).list.sum()
            .alias("error_mistakes")
        )
        .filter(pl.col("error_mistakes") > 0)
        .sort(["rank", "domain"], nulls_last=True)
        .head(n)
        .collect()
    )


# -- MX consistency ------------------------------------------------------------------------


def mx_consistency(lf: pl.LazyFrame) -> pl.DataFrame:
    """Enforce domains whose own policy would block one of their MX hosts (mx_not_in_policy)."""
    return (
        lf.filter((pl.col("status") == "enforce") & pl.col("mistakes").list.contains(
            "mx_not_in_policy"))
        .select(
            "rank", "domain",
            pl.col("mx_hosts").list.eval(pl.element().struct.field("host")).alias("mx_hosts"),
            pl.col("policy_mx"),
        )
        .sort(["rank", "domain"], nulls_last=True)
        .collect()
    )


def mx_consistency_summary(lf: pl.LazyFrame) -> pl.DataFrame:
    """Per mode (testing/enforce): policies checked, with an MX missing, with unused patterns."""
    return (
        lf.filter(pl.col("status").is_in(["testing", "enforce"]))
        .group_by("status")
        .agg(
            pl.len().alias("domains"),
            pl.col("mistakes").list.contains("mx_not_in_policy").sum().alias("mx_not_in_policy"),
            pl.col("mistakes").list.contains("policy_mx_unused").sum().alias("policy_mx_unused"),
        )
        .sort("status")
        .collect()
    )


# -- providers -----------------------------------------------------------------------------


def registered_suffix(name: str | None, labels: int = 2) -> str | None:
    """The last ``labels`` labels of a host name (kept for old notebooks: it puts every
    ``*.co.uk`` host under ``co.uk``; ``registered_domain`` is what the statistics use)."""
    if not name:
        return None
    parts = name.rstrip(".").lower().split(".")
    return ".".join(parts[-labels:])


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    # the list bundled with the package (no network, the same every run); ICANN suffixes only:
    # hosts under a private suffix (github.io, herokuapp.com) belong to that provider
    return PublicSuffixList(only_icann=True)


def public_suffix_list_version() -> str:
    """The publicsuffixlist release whose bundled list names the providers (for datasheets)."""
    import importlib.metadata

    return importlib.metadata.version("publicsuffixlist")


def registered_domain(name: str | None) -> str | None:
    """The registrable domain of a host name by the Public Suffix List: one label below its
    public suffix (``mx1.mail.example.co.uk`` -> ``example.co.uk``; an unlisted TLD counts as a
    suffix, so ``mx.d.test`` -> ``d.test``). A name that is itself a public suffix is kept."""
    if not name:
        return None
    host = name.rstrip(".").lower()
    return _public_suffixes().privatesuffix(host) or host


def _registered_domains(names: pl.Series) -> pl.Series:
    """``registered_domain`` of a column, computed once per distinct name (MX hosts repeat)."""
    distinct = names.drop_nulls().unique().to_list()
    mapping = {name: registered_domain(name) for name in distinct}
    return names.replace_strict(mapping, default=None, return_dtype=pl.String)


def _registered_domain_expr(col: pl.Expr) -> pl.Expr:
    return col.map_batches(_registered_domains, return_dtype=pl.String)


def _provider_stats(df: pl.LazyFrame, key: str) -> pl.DataFrame:
    return (
        df.group_by(key)
        .agg(
            pl.len().alias("domains"),
            pl.col("status").is_in(ADOPTED).sum().alias("adopted"),
            (pl.col("status") == "enforce").sum().alias("enforce"),
            (pl.col("status") == "invalid").sum().alias("invalid"),
            pl.col("mistakes").list.len().sum().alias("mistakes"),
        )
        .with_columns(_share(pl.col("adopted"), pl.col("domains")).alias("adopted_share"))
        .sort(["domains", key], descending=[True, False])
        .collect()
    )


def policy_hosting(lf: pl.LazyFrame) -> pl.DataFrame:
    """Who hosts policies: the CNAME target's suffix, else the certificate issuer, else self."""
    issuer_cn = pl.col("https_cert_issuer").str.extract(r"CN=([^,]+)", 1)
    provider = (
        pl.when(pl.col("policy_host_cname").list.len() > 0)
        .then(_registered_domain_expr(pl.col("policy_host_cname").list.last()))
        .when(issuer_cn.is_not_null())
        .then(pl.lit("issuer: ") + issuer_cn)
        .otherwise(pl.lit("self-hosted / unknown"))
        .alias("policy_provider")
    )
    hosts = lf.filter(pl.col("https_attempted") & MEASURED & pl.col("status").ne("absent"))
    return _provider_stats(hosts.with_columns(provider), "policy_provider")


def mx_providers(lf: pl.LazyFrame, top: int | None = 20) -> pl.DataFrame:
    """Who runs the MX hosts (suffix of the most preferred MX), with adoption and mistakes."""
    primary = (
        pl.col("mx_hosts")
        .list.eval(pl.element().sort_by(pl.element().struct.field("preference")))
        .list.first()
        .struct.field("host")
    )
    provider = _registered_domain_expr(primary).alias("mx_provider")
    df = lf.filter(MEASURED & HAS_MX).with_columns(provider)
    out = _provider_stats(df, "mx_provider")
    return out.head(top) if top else out


# -- HTTPS and certificate health ----------------------------------------------------------


def https_errors(lf: pl.LazyFrame) -> pl.DataFrame:
    """Fetch outcomes of policy hosts of publishing domains: HTTP status or error category."""
    outcome = (
        pl.when(pl.col("https_error").is_not_null())
        .then(pl.col("https_error"))
        .otherwise(pl.lit("http ") + pl.col("https_status").cast(pl.String))
        .alias("outcome")
    )
    return (
        lf.filter(pl.col("https_attempted") & pl.col("status").is_in(["invalid", *ADOPTED]))
        .select(outcome)
        .group_by("outcome")
        .agg(pl.len().alias("domains"))
        .sort(["domains", "outcome"], descending=[True, False])
        .collect()
    )


def certificate_issuers(lf: pl.LazyFrame) -> pl.DataFrame:
    """Issuers of policy-host certificates (by issuer CN) among fetches that presented one."""
    return (
        lf.filter(pl.col("https_cert_issuer").is_not_null())
        .select(
            pl.col("https_cert_issuer").str.extract(r"CN=([^,]+)", 1).fill_null(
                pl.col("https_cert_issuer")).alias("issuer"),
            pl.col("https_error").is_null().alias("verified"),
        )
        .group_by("issuer")
        .agg(pl.len().alias("hosts"), pl.col("verified").sum().alias("verified"))
        .sort(["hosts", "issuer"], descending=[True, False])
        .collect()
    )


EXPIRY_BUCKETS: Sequence[tuple[str, float]] = (
    ("expired", 0.0), ("< 7 days", 7.0), ("< 30 days", 30.0), ("< 90 days", 90.0),
)


def certificate_expiry(lf: pl.LazyFrame) -> pl.DataFrame:
    """Days from the scan to each policy certificate's expiry, in buckets."""
    days = (
        (pl.col("https_cert_not_after") - pl.col("scanned_at")).dt.total_seconds() / 86400.0
    )
    bucket: pl.Expr = pl.lit(">= 90 days")
    for label, limit in reversed(EXPIRY_BUCKETS):
        bucket = pl.when(days < limit).then(pl.lit(label)).otherwise(bucket)
    labels = [b[0] for b in EXPIRY_BUCKETS] + [">= 90 days"]
    agg = (
        lf.filter(pl.col("https_cert_not_after").is_not_null())
        .select(bucket.alias("expiry"))
        .group_by("expiry")
        .agg(pl.len().alias("hosts"))
        .collect()
    )
    order = pl.DataFrame({"expiry": labels, "order": list(range(len(labels)))})
    return (
        order.join(agg, on="expiry", how="left")
        .with_columns(pl.col("hosts").fill_null(0))
        .sort("order")
        .drop("order")
    )


# -- DANE beside MTA-STS (issue 16) --------------------------------------------------------

#: The ``dane`` verdicts in table order; null (TLSA not looked up) is shown as "not probed".
DANE_VERDICTS = ("usable", "partial", "insecure", "bogus", "none", "not probed")
#: Columns the DANE statistics read; datasets scanned before they existed have none of them.
DANE_COLUMNS = ("dane", "mx_dnssec", "sender_mechanism", "sender_protection")
#: The field's standard question, per domain: MTA-STS (testing/enforce), DANE (usable or
#: partial secure TLSA), both, or neither.
MECHANISMS = ("both", "mta-sts only", "dane only", "neither")
_BUCKET_LABELS = ("all", *(b[0] for b in RANK_BUCKETS), "rest", "unranked")


def has_dane_columns(lf: pl.LazyFrame) -> bool:
    """Whether the dataset has the DANE columns (scanned with schema 1.1 or later)."""
    return set(DANE_COLUMNS) <= set(lf.collect_schema().names())


def _by_bucket(lf: pl.LazyFrame, keys: Sequence[str], aggs: Sequence[pl.Expr]) -> pl.DataFrame:
    """``aggs`` per rank bucket and ``keys``, with an ``all`` bucket first, in bucket order."""
    bucketed = lf.with_columns(_bucket_expr().alias("bucket"))
    everything = bucketed.with_columns(pl.lit("all").alias("bucket"))
    agg = (
        pl.concat([everything, bucketed])
        .group_by("bucket", *keys)
        .agg(*aggs)
        .collect()
    )
    order = pl.DataFrame({"bucket": list(_BUCKET_LABELS),
                          "order": list(range(len(_BUCKET_LABELS)))})
    return order.join(agg, on="bucket", how="inner").sort("order", *keys).drop("order")


def _mechanism_expr() -> pl.Expr:
    sts = pl.col("status").is_in(["testing", "enforce"])
    dane = pl.col("dane").is_in(["usable", "partial"])
    return (
        pl.when(sts & dane).then(pl.lit("both"))
        .when(sts).then(pl.lit("mta-sts only"))
        .when(dane).then(pl.lit("dane only"))
        .otherwise(pl.lit("neither"))
    )


def _shares_in_bucket(df: pl.DataFrame, count: str, prefix: str) -> pl.DataFrame:
    """Each row's ``count`` as a share of its bucket's total, with Wilson 95% intervals."""
    df = df.with_columns(pl.col(count).sum().over("bucket").alias("bucket_total"))
    df = df.with_columns(_share(pl.col(count), pl.col("bucket_total")).alias(f"{prefix}_share"))
    return _with_ci(df, count, "bucket_total", prefix)


def codeployment(lf: pl.LazyFrame) -> pl.DataFrame:
    """The co-deployment matrix: measured domains per (MTA-STS status, DANE verdict), as a
    share of the rank bucket's measured domains with Wilson 95% intervals (``all`` first)."""
    df = _by_bucket(
        lf.filter(MEASURED).with_columns(pl.col("dane").fill_null("not probed")),
        ("status", "dane"), (pl.len().alias("domains"),))
    return _shares_in_bucket(df, "domains", "domains")


def mechanisms_by_rank(lf: pl.LazyFrame) -> pl.DataFrame:
    """MTA-STS, DANE, both or neither, per rank bucket: the field's standard question.

    MTA-STS counts at testing or enforce; DANE at ``usable`` or ``partial`` (secure TLSA
    records a DANE sender uses at some MX host). Shares of measured domains, Wilson 95% CIs.
    """
    df = _by_bucket(lf.filter(MEASURED).with_columns(_mechanism_expr().alias("mechanism")),
                    ("mechanism",), (pl.len().alias("domains"),))
    return _shares_in_bucket(df, "domains", "domains")


def dnssec_signed_mx(lf: pl.LazyFrame) -> pl.DataFrame:
    """Share of domains with MX hosts whose MX answer is DNSSEC-secure, per rank bucket.

    Denominator: measured domains with an MX host and a secure/insecure MX answer (bogus and
    failed lookups are counted apart: ``bogus`` is a share of the same base plus themselves).
    """
    base = lf.filter(MEASURED & HAS_MX & pl.col("mx_dnssec").is_not_null())
    df = _by_bucket(base, (), (
        pl.col("mx_dnssec").is_in(["secure", "insecure"]).sum().alias("judged"),
        (pl.col("mx_dnssec") == "secure").sum().alias("signed"),
        (pl.col("mx_dnssec") == "bogus").sum().alias("bogus"),
    ))
    df = df.with_columns(_share(pl.col("signed"), pl.col("judged")).alias("signed_share"))
    return _with_ci(df, "signed", "judged", "signed")


def protection_by_mechanism(lf: pl.LazyFrame) -> pl.DataFrame:
    """What a sender implementing MTA-STS and DANE does (``sender_mechanism`` x
    ``sender_protection``) over measured domains; null (unknown) as "unknown".

    Issue 16 named it ``sender_outcomes``, the name of issue 15's per-profile column; that name
    stays as an alias (``sender_outcomes`` below) for code and notebooks that call it.
    """
    return (
        lf.filter(MEASURED)
        .select(pl.col("sender_mechanism").fill_null("unknown").alias("mechanism"),
                pl.col("sender_protection").fill_null("unknown").alias("protection"))
        .group_by("mechanism", "protection")
        .agg(pl.len().alias("domains"))
        .with_columns(_share(pl.col("domains"), pl.col("domains").sum()).alias("share"))
        .sort(["domains", "mechanism", "protection"], descending=[True, False, False])
        .collect()
    )


#: Issue 16's first name for ``protection_by_mechanism`` (not the ``sender_outcomes`` column).
sender_outcomes = protection_by_mechanism


# -- per sender (issue 15) ------------------------------------------------------------------

def has_sender_columns(lf: pl.LazyFrame) -> bool:
    """Whether the dataset has ``sender_outcomes`` (scanned with schema 1.1 or later)."""
    return "sender_outcomes" in lf.collect_schema().names()


_APPLYING = pl.col("sender_outcomes").list.eval(
    pl.element().struct.field("applies").fill_null(False).cast(pl.Int32)).list.sum()
_PUBLISHING = pl.col("status").is_in(("invalid", *ADOPTED))


def senders_in_effect(lf: pl.LazyFrame) -> pl.DataFrame:
    """Domains that publish MTA-STS (status invalid, none, testing, enforce) by the number of
    sender profiles that apply their policy: "in effect by the RFC" beside "for k of n".

    One row per k (0..n), with ``domains``, ``in_effect_by_rfc`` (of those, how many the RFC's
    letter applies) and ``share`` of the publishing domains.
    """
    if not has_sender_columns(lf):
        lf = lf.with_columns(pl.lit([], pl.List(pl.Struct({"applies": pl.Boolean})))
                             .alias("sender_outcomes"))
    n_profiles = lf.select(pl.col("sender_outcomes").list.len().max()).collect().item() or 0
    counts = (lf.filter(_PUBLISHING)
              .group_by(_APPLYING.alias("senders_applying"))
              .agg(pl.len().alias("domains"),
                   pl.col("status").is_in(ADOPTED).sum().alias("in_effect_by_rfc"))
              .collect())
    base = pl.DataFrame({"senders_applying": list(range(n_profiles + 1))},
                        schema={"senders_applying": counts.schema["senders_applying"]})
    out = base.join(counts, on="senders_applying", how="left").with_columns(
        pl.col("domains").fill_null(0), pl.col("in_effect_by_rfc").fill_null(0).cast(pl.Int64),
        pl.lit(n_profiles).alias("senders"))
    total = int(out["domains"].sum())
    return out.with_columns(
        (pl.col("domains") / total if total else pl.lit(None, pl.Float64)).alias("share"))


def sender_adoption(lf: pl.LazyFrame) -> pl.DataFrame:
    """Per sender profile: on how many measured domains it applies a policy, and in which mode
    (``rfc8461`` first: its ``in_effect`` equals the statuses none + testing + enforce)."""
    if not has_sender_columns(lf):
        return pl.DataFrame(schema={"sender": pl.String, "in_effect": pl.UInt32,
                                    "unknown": pl.UInt32, "share_in_effect": pl.Float64})
    exploded = (lf.filter(MEASURED)
                .select(pl.col("sender_outcomes").list.eval(pl.struct(
                    pl.element().struct.field("sender"), pl.int_range(pl.len()).alias("order"),
                    pl.element().struct.field("applies"), pl.element().struct.field("mode"))))
                .explode("sender_outcomes").drop_nulls().unnest("sender_outcomes"))
    measured = lf.filter(MEASURED).select(pl.len()).collect().item()
    out = (exploded.group_by("sender")
           .agg(pl.col("order").min(),
                (pl.col("applies") == True).sum().alias("in_effect"),  # noqa: E712
                pl.col("applies").is_null().sum().alias("unknown"),
                *((pl.col("mode") == m).sum().alias(f"mode_{m}") for m in ADOPTED))
           .sort("order").drop("order").collect())
    return out.with_columns(
        (pl.col("in_effect") / measured if measured else pl.lit(None, pl.Float64))
        .alias("share_in_effect"))


def disagreement_classes(lf: pl.LazyFrame) -> pl.DataFrame:
    """Domains on which the senders disagree, grouped by who does what (most common first),
    e.g. ``enforce: chasquid, stalwart | ignored: rfc8461, mox`` with its domain count."""
    if not has_sender_columns(lf):
        return pl.DataFrame(schema={"senders": pl.String, "domains": pl.Int64})
    rows = (lf.filter(pl.col("mistakes").list.contains("senders_disagree"))
            .select("sender_outcomes").collect())
    counts: dict[str, int] = {}
    for outcomes in rows["sender_outcomes"].to_list():
        label = disagreement_class([SenderOutcome(o["sender"], o["applies"], o["mode"],
                                                  o["reason"]) for o in outcomes])
        counts[label] = counts.get(label, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return pl.DataFrame({"senders": [k for k, _ in ordered], "domains": [v for _, v in ordered]},
                        schema={"senders": pl.String, "domains": pl.Int64})
