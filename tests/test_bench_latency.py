"""The latency rows of ``make bench``: dnsdist's configuration for a delay and a loss, and the
figures the rows are judged by (retries beyond the loss-free path, the retry budget's error
rows, the two targets). dnsdist itself runs only in ``make bench``."""

from __future__ import annotations

from benchmarks import latency
from benchmarks.dnsdist import Impairment, config
from benchmarks.run import Row


def test_dnsdist_config_drops_first_then_delays_and_listens_where_told() -> None:
    text = config(("127.53.0.3", 5300), ("127.53.0.2", 5301), Impairment(50, 0.02))
    lines = text.splitlines()
    assert lines[0] == 'setLocal("127.53.0.3:5300")'
    assert 'address="127.53.0.2:5301"' in text and "setMaxUDPOutstanding(65535)" in text
    drop = lines.index("addAction(ProbaRule(0.02), DropAction())")
    delay = lines.index("addAction(AllRule(), DelayAction(50))")
    assert drop < delay  # a dropped query is not delayed first
    plain = config(("127.53.0.3", 1), ("127.53.0.2", 2), Impairment())
    assert "Action(" not in plain  # the 0 ms path only relays
    assert Impairment(200, 0.05).label == "200ms-5pct"


def test_annotate_counts_retries_predicts_error_rows_and_judges_the_targets() -> None:
    def row(label: str, domains: int, queries: int, wall: float, **extra: object) -> Row:
        return Row(label, domains, queries, wall, 1.0, 100.0, extra=dict(extra))

    rows = [row("path-0ms-0pct", 10_000, 46_000, 5.0),
            row("path-50ms-2pct", 10_000, 47_000, 5.4, loss=0.02),
            row("path-200ms-5pct-rate1000", 2_000, 9_600, 9.8, loss=0.05, rate_cap=1000)]
    summary = latency.annotate(rows)
    assert summary["queries_per_domain_0ms"] == 4.6
    assert rows[1].extra["retries"] == 1_000
    # 46,000 queries, each failing when all 3 attempts are lost: 46,000 x 0.02^3
    assert rows[1].extra["predicted_error_rows"] == round(46_000 * 0.02 ** 3, 2)
    assert summary["50ms-2pct/0ms"] == round((10_000 / 5.4) / (10_000 / 5.0), 3)
    assert summary["50ms-2pct_target_met"] is True  # 0.926 >= 0.9
    assert summary["200ms-5pct_rate1000_queries_per_s"] == 980
    assert summary["200ms-5pct_rate1000_target_met"] is True  # >= 95 % of 1,000 queries/s
    rows[2] = row("path-200ms-5pct-rate1000", 2_000, 9_600, 12.0, loss=0.05, rate_cap=1000)
    assert latency.annotate(rows)["200ms-5pct_rate1000_target_met"] is False  # 800 q/s


def test_error_rows_are_judged_against_the_poisson_bound_of_the_budget() -> None:
    # P(X <= k) for Poisson(0.66): 0.517, 0.858, 0.970, 0.9951, 0.99920 at k = 0..4
    assert latency.poisson_bound(0.66) == 4
    assert latency.poisson_bound(0.0) == 0
    assert latency.poisson_bound(10.3, confidence=0.5) == 10  # about the mean
    rows = [Row("path-0ms-0pct", 10_000, 46_000, 5.0, 1.0, 100.0),
            Row("path-50ms-2pct", 10_000, 47_000, 5.4, 1.0, 100.0,
                extra={"loss": 0.02, "error_rows": 3}),
            Row("path-200ms-5pct", 10_000, 48_000, 9.0, 1.0, 100.0,
                extra={"loss": 0.05, "error_rows": 23})]
    latency.annotate(rows)
    # 46,000 x 0.02^3 = 0.37 predicted: P(X <= 3) = 0.9996, so 3 error rows are within it
    assert rows[1].extra["error_rows_within_budget"] is True
    rows[1].extra["error_rows"] = 4
    latency.annotate(rows)
    assert rows[1].extra["error_rows_within_budget"] is False
    assert rows[2].extra["predicted_error_rows"] == round(46_000 * 0.05 ** 3, 2)  # 5.75
    assert rows[2].extra["error_rows_within_budget"] is False  # 23 > bound(5.75) = 14
    rows[2].extra["manifest_dns"] = {"timeout_share": 0.1}
    latency.annotate(rows)
    assert rows[2].extra["predicted_error_rows_at_measured_timeouts"] == 46.0  # 46,000 x 0.1^3
