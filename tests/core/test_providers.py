"""The provider table: every entry says where its names come from, and its patterns behave."""

from __future__ import annotations

from survey.core.providers import PROVIDERS, submission_provider, wildcard_provider


def test_every_provider_names_its_documentation_read_or_unverified() -> None:
    for p in PROVIDERS:
        assert p.source or p.unverified, p.name
        assert all(u.strip() for u in p.unverified), p.name


def test_wildcards_and_submission_hosts_find_their_provider() -> None:
    for p in PROVIDERS:
        for domain in p.domains:
            assert wildcard_provider(f"*.{domain.upper()}.") is p
            assert wildcard_provider(domain) is None
        for host in p.submission_hosts:
            assert submission_provider(host) is p
        assert submission_provider(p.mx_example) is None
