"""Edges of the classifier that a mutation run (``make mutation``) showed untested: each test
here failed against a surviving mutant of ``survey.core.classify``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from survey.core.classify import STS_ATTEMPT, any_attempt, classify
from survey.core.observations import DnsStatus, FetchError
from survey.core.policy import POLICY_MAX_BYTES
from survey.core.verdict import Status
from tests.core.test_classify import body, fetch, obs, probe


def test_an_mx_host_that_does_not_offer_starttls_is_a_mistake_without_an_error() -> None:
    """The probe saw no STARTTLS in EHLO (offered False) and stopped there without an error:
    as much a missing STARTTLS as an explicit STARTTLS_NOT_SUPPORTED."""
    for smtp in (probe(None, offered=False), probe(FetchError.STARTTLS_NOT_SUPPORTED, None)):
        assert "mx_starttls_missing" in classify(obs(smtp=(smtp,))).mistakes, smtp
    assert "mx_starttls_missing" not in classify(obs(smtp=(probe(None, True),))).mistakes


@pytest.mark.parametrize(("status", "mistake"), [
    (299, "policy_http_error"), (300, "policy_redirect"), (301, "policy_redirect"),
    (399, "policy_redirect"), (400, "policy_http_error"), (404, "policy_http_error"),
])
def test_every_3xx_and_only_3xx_is_a_redirect(status: int, mistake: str) -> None:
    verdict = classify(obs(policy=fetch(b"moved", status=status)))
    assert verdict.status is Status.INVALID and mistake in verdict.mistakes
    assert {"policy_redirect", "policy_http_error"} - {mistake} - set(verdict.mistakes) == {
        "policy_redirect", "policy_http_error"} - {mistake}


def test_no_fetch_at_all_is_policy_unreachable() -> None:
    verdict = classify(obs(policy=None))
    assert verdict.status is Status.INVALID
    assert verdict.mistakes == ("txt_without_policy", "policy_unreachable")


def test_a_fetch_with_neither_an_answer_nor_an_error_is_policy_unreachable() -> None:
    """A fetch record with no HTTP status and no error (a row whose fetch columns are null):
    nothing was received, the same mistake as no fetch at all."""
    verdict = classify(obs(policy=replace(fetch(), http_status=None, body=None)))
    assert verdict.status is Status.INVALID
    assert verdict.mistakes == ("txt_without_policy", "policy_unreachable")


def test_a_policy_of_exactly_the_cap_is_read_one_byte_more_is_too_large() -> None:
    valid = body()
    padded = valid + b"x" * (POLICY_MAX_BYTES - len(valid))  # a tail line without a colon
    assert len(padded) == POLICY_MAX_BYTES
    at_cap = classify(obs(policy=fetch(padded)))
    assert "policy_too_large" not in at_cap.mistakes and "policy_invalid" in at_cap.mistakes
    over = classify(obs(policy=fetch(padded + b"x")))
    assert "policy_too_large" in over.mistakes and "policy_invalid" not in over.mistakes


def test_an_attempt_is_judged_after_spaces_and_tabs_only() -> None:
    assert any_attempt(((" \tv=STSv1; id=1",),), STS_ATTEMPT)
    for other in ("Xv=STSv1; id=1", "XXv=STSv1", "\nv=STSv1", "-v=STSv1"):
        assert not any_attempt(((other,),), STS_ATTEMPT), other


def test_a_failed_lookup_without_details_is_described_by_its_status_alone() -> None:
    failed = obs(sts_status=DnsStatus.SERVFAIL)
    quiet = replace(failed, sts_txt=replace(failed.sts_txt, error=None))
    assert classify(quiet).error_reason == "_mta-sts TXT: SERVFAIL"
    assert classify(failed).error_reason == f"_mta-sts TXT: SERVFAIL: {failed.sts_txt.error}"


def test_the_verdict_carries_the_parse_it_was_made_from() -> None:
    """``Verdict.facts`` (the rows' parsed columns come from it): for an error verdict too."""
    verdict = classify(obs())
    assert verdict.facts is not None and verdict.facts.sts.record is not None
    assert verdict.facts.sts.record.id == "2026a"
    assert verdict.facts.policy is not None and verdict.facts.policy.mode == "enforce"
    assert verdict.facts.fetched is verdict.facts.policy  # a 200 within the cap: that parse
    error = classify(obs(sts_status=DnsStatus.SERVFAIL))
    assert error.status is Status.ERROR and error.facts is not None
    assert error.facts.policy is not None and error.facts.policy.mode == "enforce"


def test_a_200_without_a_body_is_read_as_the_empty_policy() -> None:
    verdict = classify(obs(policy=replace(fetch(), body=None)))
    assert verdict.status is Status.INVALID
    assert verdict.mistakes == ("txt_without_policy", "policy_invalid")
    assert verdict.facts is not None and verdict.facts.policy is None  # no body to show
    assert verdict.facts.fetched is not None
    assert [e.code for e in verdict.facts.fetched.errors] == ["empty"]
