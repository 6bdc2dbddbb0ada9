"""One status vocabulary: the statistics read the classifier's lists, so they cannot drift."""

from __future__ import annotations

import polars as pl
import pytest

from survey.analysis import stats
from survey.core.classify import classify
from survey.core.observations import DNS_FAILURES, DnsResult, DnsStatus, DomainObservations
from survey.core.verdict import ADOPTED, DISPLAY_ORDER, STATUSES, Status
from survey.scan.progress import STATUS_ORDER

D = "example.test"


def test_every_status_list_is_the_verdict_s() -> None:
    assert tuple(Status) == STATUSES
    assert sorted(DISPLAY_ORDER) == sorted(STATUSES) and STATUS_ORDER == DISPLAY_ORDER
    assert set(ADOPTED) <= set(STATUSES)
    assert stats.STATUSES == STATUSES and stats.ADOPTED == ADOPTED


@pytest.mark.parametrize("rcode", list(DnsStatus), ids=str)
def test_tlsrpt_lookups_failed_for_stats_exactly_when_they_failed_for_classify(
        rcode: DnsStatus) -> None:
    """A TLS-RPT lookup answered FORMERR or NOTIMP says nothing about the domain's record:
    classify gives it no TLS-RPT mistake, and stats leaves it out of the measured domains."""
    obs = DomainObservations(
        domain=D,
        sts_txt=DnsResult(f"_mta-sts.{D}", "TXT", DnsStatus.NXDOMAIN),
        tlsrpt_txt=DnsResult(f"_smtp._tls.{D}", "TXT", rcode),
        mx=DnsResult(D, "MX", DnsStatus.NOERROR),
        policy_host=DnsResult(f"mta-sts.{D}", "A", DnsStatus.NXDOMAIN),
    )
    verdict = classify(obs)
    rows = pl.LazyFrame({
        "status": [verdict.status.value], "tlsrpt_dns_status": [rcode.value],
        "tlsrpt_txt": [[]], "tlsrpt_record_errors": [[]],
    }, schema_overrides={"tlsrpt_txt": pl.List(pl.List(pl.String)),
                         "tlsrpt_record_errors": pl.List(pl.String)})
    measured = stats.tlsrpt_adoption(rows)["measured"][0]
    failed = rcode.value in DNS_FAILURES
    assert verdict.status is Status.ABSENT  # measured: a TLS-RPT lookup decides no status
    assert obs.tlsrpt_txt.failed == failed  # the gate of classify's TLS-RPT rules
    assert measured == (0 if failed else 1)
