"""analysis.stats against a ten-domain dataset whose every number is counted by hand below."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from survey.analysis import stats
from survey.dataset.schema import SCHEMA, rows_to_table

SCANNED = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
R11 = "CN=R11,O=Let's Encrypt,C=US"


def row(domain: str, rank: int, status: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "run_id": "r1", "scanned_at": SCANNED, "toplist": "test", "rank": rank, "domain": domain,
        "status": status, "mistakes": [], "sts_dns_status": "NOERROR", "sts_txt": [],
        "sts_record_errors": [], "tlsrpt_dns_status": "NXDOMAIN", "tlsrpt_txt": [],
        "tlsrpt_rua": [], "tlsrpt_record_errors": [], "mx_dns_status": "NOERROR",
        "mx_hosts": [], "policy_host_cname": [], "policy_host_addresses": [],
        "sts_cname": [], "tlsrpt_cname": [], "mx_cname": [], "https_attempted": False,
        "smtp": [],
    }
    base.update(kw)
    return base


STS = {"sts_txt": [["v=STSv1; id=1"]]}
TLSRPT = {"tlsrpt_dns_status": "NOERROR", "tlsrpt_txt": [["v=TLSRPTv1; rua=mailto:a@b.c"]]}


def fetched(mode: str, issuer: str = R11, days: int = 60) -> dict[str, Any]:
    return {
        "https_attempted": True, "https_status": 200, "https_cert_issuer": issuer,
        "https_cert_not_after": SCANNED + dt.timedelta(days=days), "policy_truncated": False,
        "policy_errors": [], "policy_mode": mode, "mode": mode,
    }


def mx(*hosts: tuple[int, str]) -> dict[str, Any]:
    return {"mx_hosts": [{"preference": p, "host": h} for p, h in hosts]}


GOOGLE = mx((20, "alt1.aspmx.l.google.com"), (10, "aspmx.l.google.com"))
OUTLOOK = mx((0, "x.mail.protection.outlook.com"))

ROWS = [
    row("a.test", 1, "enforce", grade="pass", **STS, **TLSRPT, **fetched("enforce"), **GOOGLE),
    row("b.test", 5, "testing", mistakes=["testing_without_tlsrpt"], **STS, **fetched("testing"),
        **OUTLOOK),
    row("c.test", 50, "none", **STS, **TLSRPT, **fetched("none"), **mx((10, "aspmx.l.google.com"))),
    row("d.test", 2000, "invalid", mistakes=["txt_without_policy", "policy_cert_expired"], **STS,
        https_attempted=True, https_error="certificate-expired", https_cert_issuer="CN=Test CA",
        https_cert_not_after=SCANNED - dt.timedelta(days=3), **mx((10, "mail.d.test"))),
    row("e.test", 20000, "absent", **mx((10, "aspmx.l.google.com"))),
    row("f.test", 200000, "absent"),
    row("g.test", 2000000, "error", sts_dns_status="TIMEOUT", error_reason="_mta-sts TXT: TIMEOUT"),
    row("h.test", 3, "enforce", mistakes=["mx_not_in_policy"], **STS, **TLSRPT,
        **fetched("enforce"), policy_host_cname=["policy.provider.net"], policy_mx=["mx1.h.test"],
        **mx((10, "mx.h.test"))),
    row("i.test", 30000, "absent", mistakes=["tlsrpt_invalid"], tlsrpt_dns_status="NOERROR",
        tlsrpt_txt=[["v=TLSRPTv1"]], tlsrpt_record_errors=["rua_missing"]),
    row("j.test", 4, "invalid", mistakes=["txt_multiple"],
        sts_txt=[["v=STSv1; id=1"], ["v=STSv1; id=2"]], sts_record_errors=["multiple_records"],
        **fetched("enforce"), **OUTLOOK),
]


@pytest.fixture(scope="module")
def lf(tmp_path_factory: pytest.TempPathFactory) -> pl.LazyFrame:
    directory: Path = tmp_path_factory.mktemp("ds") / "parts"
    directory.mkdir()
    table = rows_to_table(ROWS)
    assert table.schema.equals(SCHEMA)
    pq.write_table(table.slice(0, 6), directory / "part-1.parquet")
    pq.write_table(table.slice(6), directory / "part-2.parquet")
    return stats.load(directory.parent)


def as_dict(df: pl.DataFrame, key: str, value: str) -> dict[Any, Any]:
    return dict(zip(df[key].to_list(), df[value].to_list(), strict=True))


def test_funnel(lf: pl.LazyFrame) -> None:
    df = stats.funnel(lf)
    assert as_dict(df, "step", "count") == {
        "scanned": 10, "measurement_error": 1, "measured": 9, "with_mx": 7,
        "with_sts_record": 6, "valid_sts_record": 5, "policy_fetched": 4, "valid_policy": 4,
        "mode_none": 1, "mode_testing": 1, "mode_enforce": 2,
    }
    share = as_dict(df, "step", "share")
    assert share["measurement_error"] == pytest.approx(0.1)
    assert share["with_sts_record"] == pytest.approx(6 / 9)
    prev = as_dict(df, "step", "share_of_previous")
    assert prev["valid_sts_record"] == pytest.approx(5 / 6)
    assert prev["mode_enforce"] == pytest.approx(2 / 4)


def test_status_counts(lf: pl.LazyFrame) -> None:
    assert as_dict(stats.status_counts(lf), "status", "domains") == {
        "absent": 3, "invalid": 2, "none": 1, "testing": 1, "enforce": 2, "error": 1}


def test_wilson_interval_known_values() -> None:
    low, high = stats.wilson_interval(4, 5)
    assert low == pytest.approx(0.3755, abs=1e-4)
    assert high == pytest.approx(0.9638, abs=1e-4)
    assert stats.wilson_interval(0, 10)[0] == 0.0
    assert all(math.isnan(x) for x in stats.wilson_interval(0, 0))


def test_adoption_by_rank(lf: pl.LazyFrame) -> None:
    df = stats.adoption_by_rank(lf)
    assert df["bucket"].to_list() == ["top 1k", "1k-10k", "10k-100k", "100k-1M", "rest"]
    assert df["measured"].to_list() == [5, 1, 2, 1, 0]
    assert df["adopted"].to_list() == [4, 0, 0, 0, 0]
    assert df["enforce"].to_list() == [2, 0, 0, 0, 0]
    assert df["errors"].to_list() == [0, 0, 0, 0, 1]
    top = df.row(0, named=True)
    assert top["adopted_share"] == pytest.approx(0.8)
    assert top["adopted_ci_low"] == pytest.approx(0.3755, abs=1e-4)
    assert df.row(4, named=True)["adopted_share"] is None


def test_tlsrpt(lf: pl.LazyFrame) -> None:
    alone = stats.tlsrpt_adoption(lf).row(0, named=True)
    assert (alone["measured"], alone["valid"], alone["invalid"]) == (9, 3, 1)
    assert alone["valid_share"] == pytest.approx(1 / 3)
    crossed = stats.tlsrpt_by_status(lf)
    assert as_dict(crossed, "status", "with_tlsrpt") == {
        "absent": 0, "invalid": 0, "none": 1, "testing": 0, "enforce": 2, "error": 0}
    assert as_dict(crossed, "status", "domains")["absent"] == 3


def test_mistakes(lf: pl.LazyFrame) -> None:
    freq = stats.mistake_frequency(lf)
    assert freq["code"].to_list() == sorted(
        ["testing_without_tlsrpt", "txt_without_policy", "policy_cert_expired",
         "mx_not_in_policy", "tlsrpt_invalid", "txt_multiple"])
    assert set(freq["domains"].to_list()) == {1}
    first = freq.row(0, named=True)
    assert first["share_of_measured"] == pytest.approx(1 / 9)
    assert first["share_of_publishers"] == pytest.approx(1 / 6)
    assert as_dict(freq, "code", "severity")["tlsrpt_invalid"] == "warning"
    sev = stats.mistakes_by_severity(lf)
    assert as_dict(sev, "severity", "occurrences") == {"error": 4, "warning": 2}
    assert as_dict(sev, "severity", "domains") == {"error": 3, "warning": 2}
    by_status = stats.mistakes_by_status(lf)
    assert by_status.filter(pl.col("code") == "txt_multiple")["status"].to_list() == ["invalid"]
    assert stats.worst_offenders(lf)["domain"].to_list() == ["h.test", "j.test", "d.test"]
    assert stats.worst_offenders(lf)["error_mistakes"].to_list() == [1, 1, 2]


def test_mx_consistency(lf: pl.LazyFrame) -> None:
    df = stats.mx_consistency(lf)
    assert df["domain"].to_list() == ["h.test"]
    assert df["mx_hosts"].to_list() == [["mx.h.test"]]
    summary = stats.mx_consistency_summary(lf)
    assert as_dict(summary, "status", "mx_not_in_policy") == {"enforce": 1, "testing": 0}


def test_providers(lf: pl.LazyFrame) -> None:
    mxp = stats.mx_providers(lf)
    assert as_dict(mxp, "mx_provider", "domains") == {
        "google.com": 3, "outlook.com": 2, "d.test": 1, "h.test": 1}
    assert as_dict(mxp, "mx_provider", "adopted") == {
        "google.com": 2, "outlook.com": 1, "d.test": 0, "h.test": 1}
    hosting = stats.policy_hosting(lf)
    assert as_dict(hosting, "policy_provider", "domains") == {
        "issuer: R11": 4, "provider.net": 1, "issuer: Test CA": 1}


def test_https_and_certificates(lf: pl.LazyFrame) -> None:
    assert as_dict(stats.https_errors(lf), "outcome", "domains") == {
        "http 200": 5, "certificate-expired": 1}
    issuers = stats.certificate_issuers(lf)
    assert as_dict(issuers, "issuer", "hosts") == {"R11": 5, "Test CA": 1}
    assert as_dict(issuers, "issuer", "verified") == {"R11": 5, "Test CA": 0}
    expiry = stats.certificate_expiry(lf)
    assert as_dict(expiry, "expiry", "hosts") == {
        "expired": 1, "< 7 days": 0, "< 30 days": 0, "< 90 days": 5, ">= 90 days": 0}


def test_load_refuses_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        stats.load(tmp_path)


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows_to_table(rows), path)


def test_load_reads_committed_parts_only(tmp_path: Path) -> None:
    """An interrupted sharded run: attempts' staging parts under shards/ (their domains also
    in parts/ once committed), a damaged part in quarantine/: only parts/ are rows."""
    out = tmp_path / "data" / "shards" / "quarantine" / "out"  # such names above OUT are fine
    _write(out / "parts" / "part-000001-abs0of2.parquet", ROWS[:6])
    _write(out / "shards" / "0-of-2" / "attempt-1" / "parts" / "part-000001-ab.parquet", ROWS[:3])
    _write(out / "shards" / "1-of-2" / "attempt-2" / "parts" / "part-000001-cd.parquet", ROWS[6:])
    _write(out / "quarantine" / "part-000002-abs0of2.parquet", ROWS[6:])
    (out / "parts" / "part-000002-abs1of2.parquet.tmp").write_bytes(b"half a part")
    assert stats.parquet_files(out) == [out / "parts" / "part-000001-abs0of2.parquet"]
    assert stats.load(out).select(pl.len()).collect().item() == 6
    (out / "parts" / "part-000001-abs0of2.parquet").unlink()
    with pytest.raises(FileNotFoundError):  # nothing committed yet: no rows, not staging rows
        stats.load(out)


def test_load_reads_a_snapshots_data_only(tmp_path: Path) -> None:
    snapshot = tmp_path / "2026-11-01-sim-run0"
    _write(snapshot / "data" / "status=enforce" / "part-0.parquet", ROWS[:1])
    _write(snapshot / "data" / "status=absent" / "part-0.parquet", ROWS[6:])
    _write(snapshot / "diff-older.parquet", ROWS[1:3])  # not rows: e.g. a diff's output
    assert stats.load(snapshot).select(pl.len()).collect().item() == 1 + len(ROWS) - 6
    loose = tmp_path / "loose"  # neither layout: any depth, but never shards/ or hidden ones
    _write(loose / "a.parquet", ROWS[:2])
    _write(loose / "deeper" / "b.parquet", ROWS[2:3])
    _write(loose / "shards" / "c.parquet", ROWS[3:])
    _write(loose / ".staging" / "d.parquet", ROWS[3:])
    assert stats.parquet_files(loose) == [loose / "a.parquet", loose / "deeper" / "b.parquet"]


@pytest.mark.parametrize(("name", "domain"), [
    ("mx1.mail.example.co.uk.", "example.co.uk"),  # the last two labels would say co.uk
    ("ASPMX.L.GOOGLE.COM", "google.com"),
    ("mta-sts.user.github.io", "github.io"),  # a private suffix is the provider's
    ("mx.d.test", "d.test"),  # an unlisted TLD counts as a public suffix
    ("co.uk", "co.uk"),
    (None, None),
])
def test_registered_domain_follows_the_public_suffix_list(name: str | None,
                                                          domain: str | None) -> None:
    assert stats.registered_domain(name) == domain


def test_providers_under_a_two_label_suffix_are_told_apart() -> None:
    rows = pl.LazyFrame({
        "status": ["absent", "enforce", "absent"],
        "mistakes": [[], [], []],
        "mx_hosts": [[{"host": "mx.provider-a.co.uk", "preference": 10}],
                     [{"host": "mx2.provider-b.co.uk", "preference": 5},
                      {"host": "mx.provider-a.co.uk", "preference": 20}],
                     [{"host": "mx1.provider-a.co.uk.", "preference": 0}]],
    })
    mxp = stats.mx_providers(rows)
    assert as_dict(mxp, "mx_provider", "domains") == {"provider-a.co.uk": 2,
                                                      "provider-b.co.uk": 1}
