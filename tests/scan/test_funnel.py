"""The funnel's question plan (``survey.scan.funnel``): what is asked about a domain, in order,
against the in-process DNS server of the probe tests."""

from __future__ import annotations

import struct

from survey.core.observations import DnsStatus, MxRecord
from survey.probes.dns import DnsClient, encode_qname
from survey.scan import funnel
from tests.conftest import trio_test
from tests.probes.test_probe_dns import answer, config, dns_server


def test_domain_questions_equal_encoding_each_name() -> None:
    for domain in ("example.com", "Example.COM.", "", "münchen.de", "a" * 63 + ".example",
                   "x." * 120, ".", "a..b"):
        names = [f"_mta-sts.{domain}", f"_smtp._tls.{domain}", domain, f"mta-sts.{domain}"]
        try:
            want = [encode_qname(n) + struct.pack("!HH", t, 1) for n, t in
                    zip(names, (16, 16, 15, 1), strict=True)]
        except ValueError:
            want = []
        assert funnel.domain_questions(domain) == want, domain


@trio_test
async def test_the_four_lookups_of_a_domain_in_order_in_one_batch() -> None:
    async with dns_server(answer) as server, DnsClient(config(server)) as client:
        sts, tlsrpt, mx, host = await funnel.lookup_domain(client, "example.com")
    assert [(r.qname, r.qtype) for r in (sts, tlsrpt, mx, host)] == [
        ("_mta-sts.example.com", "TXT"), ("_smtp._tls.example.com", "TXT"),
        ("example.com", "MX"), ("mta-sts.example.com", "A")]
    assert sts.txt == (("v=STSv1; ", "id=20240101"),) and sts.status is DnsStatus.NOERROR
    assert set(mx.mx) == {MxRecord(10, "mx1.example.com"), MxRecord(20, "mx2.example.com")}
    assert sorted(host.addresses) == ["192.0.2.10", "192.0.2.11"]
    assert all(r.attempts == 1 for r in (sts, tlsrpt, mx, host))
    assert client.queries_sent == 4  # A has addresses: no AAAA


@trio_test
async def test_policy_host_aaaa_only_when_sts_record_and_no_a() -> None:
    async with dns_server(answer) as server, DnsClient(config(server)) as client:
        *_, with_txt = await funnel.lookup_domain(client, "v6.example")
        *_, without_txt = await funnel.lookup_domain(client, "v6none.example")
        sent = client.queries_sent
        v6 = await client.resolve_addresses("v6only.example")
    assert with_txt.addresses == ("2001:db8::2",) and with_txt.attempts == 2
    assert with_txt.qtype == "AAAA"
    assert without_txt.addresses == () and without_txt.qtype == "A"
    assert sent == 4 + 1 + 4  # the AAAA of v6.example only
    assert v6.addresses == ("2001:db8::1",) and v6.qtype == "AAAA"


@trio_test
async def test_a_domain_that_cannot_be_encoded_is_asked_name_by_name() -> None:
    async with dns_server(answer) as server, DnsClient(config(server)) as client:
        results = await funnel.lookup_domain(client, "a..example")
    assert [r.status for r in results] == [DnsStatus.ERROR] * 4
    assert all(r.attempts == 0 and r.error for r in results)
    assert client.queries_sent == 0
