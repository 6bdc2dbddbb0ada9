"""One row per domain, exactly the schema's columns, raw evidence kept and parsed fields derived."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from survey.core import policy as policy_module
from survey.core.classify import classify
from survey.core.observations import (
    Certificate,
    DnsResult,
    DnsStatus,
    DomainObservations,
    FetchError,
    HttpsFetch,
    MxRecord,
    SmtpProbe,
)
from survey.core.verdict import Grade, Status, Verdict
from survey.dataset.schema import COLUMNS, SCHEMA, SCHEMA_VERSION, RunContext, rows_to_table, to_row
from tests.conftest import count_calls

NOW = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
BODY = b"version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 604800\r\n"
CERT = Certificate(subject="CN=mta-sts.example.com", issuer="CN=Test CA",
                   names=("mta-sts.example.com",), not_before=NOW, not_after=NOW, sha256="ab")


def observations() -> DomainObservations:
    return DomainObservations(
        domain="example.com",
        sts_txt=DnsResult("_mta-sts.example.com", "TXT", DnsStatus.NOERROR, 0,
                          txt=(("v=STSv1; ", "id=2026"),)),
        tlsrpt_txt=DnsResult("_smtp._tls.example.com", "TXT", DnsStatus.NOERROR, 0,
                             txt=(("v=TLSRPTv1; rua=mailto:r@example.com",),)),
        mx=DnsResult("example.com", "MX", DnsStatus.NOERROR, 0,
                     mx=(MxRecord(10, "mx.example.com"),)),
        policy_host=DnsResult("mta-sts.example.com", "A", DnsStatus.NOERROR, 0,
                              addresses=("192.0.2.1",), cname_chain=("sts.provider.net",)),
        policy_fetch=HttpsFetch(url="https://mta-sts.example.com/.well-known/mta-sts.txt",
                                address="192.0.2.1", http_status=200,
                                content_type="text/plain", body=BODY, tls_version="TLSv1.3",
                                certificate=CERT, elapsed_ms=12.5),
        smtp=(SmtpProbe(host="mx.example.com", address="192.0.2.2",
                        error=FetchError.CERT_EXPIRED, starttls_offered=True, certificate=CERT),),
    )


def test_row_has_every_column_and_derives_parsed_fields(tmp_path: Path) -> None:
    verdict = Verdict(Status.ENFORCE, "enforce", Grade.PASS, ("mx_cert_invalid",))
    row = to_row(RunContext("run1", "tranco-X", dt.date(2026, 11, 27)), 7, observations(),
                 verdict, NOW)
    assert sorted(row) == sorted(COLUMNS) and len(row) == len(COLUMNS)
    assert row["sts_txt"] == [["v=STSv1; ", "id=2026"]]
    assert row["sts_id"] == "2026" and row["sts_record_errors"] == []
    assert row["tlsrpt_rua"] == ["mailto:r@example.com"]
    assert row["policy_mode"] == "enforce" and row["policy_max_age"] == 604800
    assert row["policy_mx"] == ["mx.example.com"] and row["policy_errors"] == []
    assert row["policy_sha256"] == hashlib.sha256(BODY).hexdigest()
    assert row["policy_host_cname"] == ["sts.provider.net"]
    assert row["smtp"][0]["error"] == "certificate-expired"
    table = rows_to_table([row])
    pq.write_table(table, tmp_path / "p.parquet")
    back = pq.read_table(tmp_path / "p.parquet")
    assert back.schema.equals(SCHEMA, check_metadata=False)
    assert back.schema.metadata[b"schema_version"] == SCHEMA_VERSION.encode()
    assert back.to_pylist()[0]["mx_hosts"] == [{"preference": 10, "host": "mx.example.com"}]


def test_row_without_fetch_has_null_policy_and_https_columns() -> None:
    obs = observations()
    bare = DomainObservations(obs.domain, obs.sts_txt, obs.tlsrpt_txt, obs.mx, obs.policy_host)
    verdict = Verdict(Status.INVALID, None, Grade.FAIL, ("txt_without_policy",))
    row = to_row(RunContext("r", "t"), None, bare, verdict, NOW)
    assert row["https_attempted"] is False
    assert row["policy_text"] is None and row["policy_errors"] is None
    assert row["smtp"] == []
    assert rows_to_table([row]).num_rows == 1


PARSERS = ("parse_policy", "select_sts_record", "select_tlsrpt_record")


def counted_parsers(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the policy and TXT parsers' calls, wherever a survey module holds them, but in
    ``survey.core.outcomes``: each sender profile parses under its own reading (issue 15)."""
    calls: Counter[str] = Counter()
    for name in PARSERS:
        original = getattr(policy_module, name)
        holders = [m for m in list(sys.modules.values()) if m is not None
                   and m.__name__.startswith("survey.") and m.__name__ != "survey.core.outcomes"
                   and getattr(m, name, None) is original]
        assert holders  # the parser is still called from somewhere
        count_calls(monkeypatch, calls, name, holders)
    return calls


def failed_sts() -> DomainObservations:
    """An error verdict (TXT lookup timed out) whose row still shows the body and the TLS-RPT."""
    obs = observations()
    timeout = DnsResult("_mta-sts.example.com", "TXT", DnsStatus.TIMEOUT, -1, error="timeout")
    return dataclasses.replace(obs, sts_txt=timeout)


@pytest.mark.parametrize(("make", "policy_parses"), [
    (observations, 1), (failed_sts, 1),
    (lambda: dataclasses.replace(observations(), policy_fetch=None), 0)])
def test_classify_and_to_row_parse_each_record_and_the_policy_once(
        monkeypatch: pytest.MonkeyPatch, make: Callable[[], DomainObservations],
        policy_parses: int) -> None:
    obs = make()
    calls = counted_parsers(monkeypatch)
    verdict = classify(obs)
    row = to_row(RunContext("r", "t"), 1, obs, verdict, NOW)
    assert calls == Counter({"select_sts_record": 1, "select_tlsrpt_record": 1,
                             "parse_policy": policy_parses})
    # a verdict built without its facts gets the same row, parsing them in to_row
    assert to_row(RunContext("r", "t"), 1, obs, dataclasses.replace(verdict, facts=None),
                  NOW) == row
    assert calls["select_sts_record"] == 2


def test_the_row_shows_the_records_and_policy_of_an_error_verdict() -> None:
    obs = failed_sts()
    verdict = classify(obs)
    row = to_row(RunContext("r", "t"), 1, obs, verdict, NOW)
    assert verdict.status is Status.ERROR and verdict.facts is not None
    assert row["policy_mode"] == "enforce" and row["tlsrpt_rua"] == ["mailto:r@example.com"]
    assert row["sts_id"] is None and row["sts_record_errors"] == []
