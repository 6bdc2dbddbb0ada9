"""`mta-sts-survey check DOMAIN`: the scan's funnel for one domain, explained for its operator.

Same probes, same classifier, same row as `scan`, so that what an operator sees here is what
the survey records. Exit status follows the grade: 0 pass (enforce), 1 warn (testing), 3 fail,
4 measurement error; 2 stays argparse's usage error. One refinement: grade pass with a mistake
of severity error (an enforce policy that blocks one of the domain's own MX hosts, an MX
without STARTTLS...) exits 5, since mail is being lost; it is not 0, so a monitoring script that
alerts on any non-zero status catches it, and not 3, because the policy is in effect.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from survey.commands._options import (
    UsageError,
    add_probe_options,
    check_probe_args,
    exclusions_from_args,
    resolvers_from_args,
)
from survey.core.mistakes import MISTAKES, Severity
from survey.core.observations import DnsResult, DomainObservations, HttpsFetch
from survey.core.verdict import Grade, Verdict

EXIT_PASS, EXIT_WARN, EXIT_FAIL, EXIT_ERROR, EXIT_PASS_WITH_ERRORS = 0, 1, 3, 4, 5


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check", help="check one domain and explain what is wrong",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the survey's probes for one domain and print what was found at each "
        "step, the verdict and how to fix each mistake.",
        epilog="exit status, by grade:\n"
        "  0  pass: enforce, no mistake of severity error\n"
        "  1  warn: testing\n"
        "  3  fail: none, absent or invalid\n"
        "  4  measurement error (DNS timeout or SERVFAIL): nothing can be said\n"
        "  5  pass with errors: enforce, but a mistake of severity error (e.g. mx_not_in_policy,\n"
        "     mx_starttls_missing with --smtp): the policy is in effect and mail can be lost\n"
        "  2  bad options",
    )
    parser.add_argument("domain", help="the mail domain, e.g. example.com")
    parser.add_argument("--json", action="store_true",
                        help="print the row (the scan's columns) as JSON instead")
    add_probe_options(parser)
    parser.set_defaults(func=run)


def exit_status(verdict: Verdict) -> int:
    """The exit status of a verdict: by grade, and 5 for a pass with error-severity mistakes."""
    if verdict.grade is None:
        return EXIT_ERROR
    if verdict.grade == Grade.PASS and any(
            code in MISTAKES and MISTAKES[code].severity == Severity.ERROR
            for code in verdict.mistakes):
        return EXIT_PASS_WITH_ERRORS
    return {Grade.PASS: EXIT_PASS, Grade.WARN: EXIT_WARN}.get(verdict.grade, EXIT_FAIL)


def _dns_line(what: str, result: DnsResult, found: str) -> str:
    status = result.status if result.error is None else f"{result.status} ({result.error})"
    chain = f" via CNAME {' -> '.join(result.cname_chain)}" if result.cname_chain else ""
    return f"{what:<22}{status}{chain}{': ' + found if found else ''}"


def _txt(result: DnsResult) -> str:
    return "; ".join(repr("".join(r)) for r in result.txt)


def _fetch_line(fetch: HttpsFetch | None) -> str:
    if fetch is None:
        return f"{'policy fetch':<22}not attempted (no TXT record, no policy host)"
    if fetch.error is not None:
        detail = f" ({fetch.error_detail})" if fetch.error_detail else ""
        return f"{'policy fetch':<22}{fetch.url}: {fetch.error}{detail}"
    extra = f", Location: {fetch.location}" if fetch.location else ""
    size = len(fetch.body or b"")
    return (f"{'policy fetch':<22}{fetch.url} from {fetch.address}: HTTP {fetch.http_status}, "
            f"{fetch.content_type or 'no Content-Type'}, {size} bytes"
            f"{' (truncated)' if fetch.body_truncated else ''}{extra}")


def _dane_lines(obs: DomainObservations, verdict: Verdict) -> list[str]:
    """The DNSSEC and DANE part (issue 16): each answer's DNSSEC status, each MX host's TLSA
    records, the DANE verdict and what a sender implementing both does."""
    statuses = ", ".join(f"{what} {result.dnssec}" for what, result in (
        ("_mta-sts", obs.sts_txt), ("_smtp._tls", obs.tlsrpt_txt), ("MX", obs.mx),
        ("policy host", obs.policy_host)) if result.dnssec is not None)
    lines = [f"{'DNSSEC':<22}{statuses or 'not known'}"]
    if obs.dane is None:
        lines.append(f"{'TLSA':<22}not looked up (the MX answer is not secure; --tlsa all "
                     "looks anyway)")
    for host in obs.dane or ():
        records = "; ".join(r.text() for r in host.tlsa.tlsa) or str(host.tlsa.status)
        checked = f", chain {host.smtp_dane}" if host.smtp_dane else ""
        lines.append(f"{'TLSA':<22}{host.host}: {records} (TLSA {host.tlsa.dnssec}, "
                     f"addresses {host.address_dnssec}{checked})")
    dane = verdict.dane
    if dane is not None:
        lines.append(f"{'DANE':<22}{dane.dane or 'unknown'}; a sender with MTA-STS and DANE "
                     f"applies {dane.mechanism or 'unknown'} ({dane.protection or 'unknown'})")
    return lines


def _sender_lines(verdict: Verdict) -> list[str]:
    """The per-sender table (issue 15): what each profile of survey.core.senders does."""
    if not verdict.sender_outcomes:
        return []
    width = max(len(o.sender) for o in verdict.sender_outcomes)
    lines = ["", "per sender (rfc8461 is the RFC's letter, the verdict above):"]
    for o in verdict.sender_outcomes:
        what = {True: f"applies, mode {o.mode}", False: "ignores", None: "unknown"}[o.applies]
        why = f" ({o.reason})" if o.reason else ""
        lines.append(f"    {o.sender:<{width}}  {what}{why}")
    applying = sum(o.applies is True for o in verdict.sender_outcomes)
    lines.append(f"    in effect for {applying} of {len(verdict.sender_outcomes)} senders")
    return lines


def render(obs: DomainObservations, verdict: Verdict) -> str:
    """The human report: each step's evidence, the verdict, then each mistake with its fix."""
    mx = ", ".join(f"{m.preference} {m.host or '.'}" for m in obs.mx.mx)
    lines = [
        f"MTA-STS check of {obs.domain}",
        "",
        _dns_line("_mta-sts TXT", obs.sts_txt, _txt(obs.sts_txt)),
        _dns_line("_smtp._tls TXT", obs.tlsrpt_txt, _txt(obs.tlsrpt_txt)),
        _dns_line("MX", obs.mx, mx),
        _dns_line("policy host", obs.policy_host, ", ".join(obs.policy_host.addresses)),
        _fetch_line(obs.policy_fetch),
    ]
    fetch = obs.policy_fetch
    if fetch is not None and fetch.body:
        lines.append("policy:")
        text = fetch.body[:2048].decode("latin-1")
        lines.extend(f"    {line}" for line in text.splitlines()[:20])
    for probe in obs.smtp:
        if probe.error is None:
            state = f"STARTTLS ok ({probe.tls_version})"
        else:
            state = f"{probe.error}" + (f" ({probe.error_detail})" if probe.error_detail else "")
        lines.append(f"{'SMTP':<22}{probe.host} ({probe.address or 'no address'}): {state}")
    lines += _dane_lines(obs, verdict)
    lines += ["", f"verdict: {verdict.status}"
              + (f", mode {verdict.mode}" if verdict.mode else "")
              + (f", grade {verdict.grade}" if verdict.grade else "")]
    if exit_status(verdict) == EXIT_PASS_WITH_ERRORS:
        lines.append("the policy is enforced, but a mistake below is of severity error: "
                     "mail can be lost (exit status 5)")
    if verdict.error_reason:
        lines.append(f"measurement error: {verdict.error_reason}")
    lines += _sender_lines(verdict)
    for code in verdict.mistakes:
        mistake = MISTAKES.get(code)
        if mistake is None:
            lines.append(f"- {code}")
            continue
        lines += [f"- {code} ({mistake.severity}, {mistake.reference})",
                  f"    {mistake.explanation}", f"    fix: {mistake.fix}"]
    if not verdict.mistakes and verdict.grade is not None:
        lines.append("no mistakes found")
    return "\n".join(lines)


def _json_default(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except UsageError as exc:
        print(f"check: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    import trio

    from survey.core.classify import classify
    from survey.core.names import InvalidName, normalise_domain
    from survey.dataset.schema import RunContext, to_row
    from survey.scan.config import ScanConfig
    from survey.scan.funnel import observe, open_probes

    domain = normalise_domain(args.domain)
    if isinstance(domain, InvalidName):
        raise UsageError(f"{args.domain!r} is not a domain name ({domain.reason})")
    check_probe_args(args)
    exclusions = exclusions_from_args(args)
    if exclusions is not None and exclusions.excludes_domain(domain):
        raise UsageError(f"{domain} is on the exclusion list")
    try:
        config = ScanConfig.from_options(
            vars(args) | {"resolver": resolvers_from_args(args), "exclude": exclusions,
                          "concurrency": 1},
            context=RunContext("check", "check"), handle_signals=False)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc

    async def probe() -> DomainObservations:
        async with open_probes(config) as probes:
            return await observe(domain, probes, max_mx=config.max_mx, tlsa=config.tlsa.mode)

    obs = trio.run(probe)
    verdict = classify(obs)
    if args.json:
        row = to_row(config.context, None, obs, verdict, dt.datetime.now(dt.UTC))
        print(json.dumps(row, default=_json_default, indent=2))
    else:
        print(render(obs, verdict))
    if args.dnssec_check is not None or obs.dane is not None:
        from survey.commands.scan import dnssec_warning, resolver_validates

        validates = resolver_validates(args.dnssec_check, config.dns.resolvers, args.dns_timeout,
                                       args.retries)
        warning = dnssec_warning(validates, args.dnssec_check)
        if warning:
            print(f"check: {warning}", file=sys.stderr)
    return exit_status(verdict)
