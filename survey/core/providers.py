"""Large mail providers as data: the names their own documentation gives for MX and submission.

Two mistakes read this table (``mx_wildcard_provider``, ``mx_submission_host``); nothing is
inferred from traffic. Each entry names the provider's documentation for its MX host names
(deeper than the registrable domain, e.g. ``aspmx.l.google.com``) and its client submission host
(``smtp.gmail.com``), which is where mail clients submit mail and never an MX: ``source`` when a
stored copy was read and states them, ``unverified`` when the page was named from memory and no
stored copy was found (the names are then the providers' well-known ones). A pattern
``*.<registrable domain>`` covers every host directly under a provider's domain (its customers'
and its services' alike) while matching none of its documented MX hosts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    domains: tuple[str, ...]  # registrable domains the provider's mail hosts live under
    mx_example: str  # an MX host name as the provider documents it
    submission_hosts: tuple[str, ...]  # client submission hosts (RFC 6409), never MX
    #: documentation read (stored copy found and checked to state these names), or "" if none
    source: str
    #: documentation pages named from memory, not found in the stored copies searched (issue 15,
    #: 2026-12-03): they may well exist, but nothing here shows what they say
    unverified: tuple[str, ...] = ()


_MS_DOCS = "MicrosoftDocs/microsoft-365-docs "
_EXO_DOCS = ("MicrosoftDocs/OfficeDocs-Exchange Exchange/ExchangeOnline/mail-flow-best-practices/"
             "how-to-set-up-a-multifunction-device-or-application-to-send-email-using-office-3.md")

PROVIDERS: tuple[Provider, ...] = (
    Provider("Google Workspace / Gmail", ("google.com", "googlemail.com", "gmail.com"),
             "aspmx.l.google.com", ("smtp.gmail.com", "smtp-relay.gmail.com"), "",
             ("support.google.com/a/answer/174125 (Google Workspace MX record values)",
              "support.google.com/a/answer/176600 (send email from a printer, scanner or "
              "app)")),
    Provider("Microsoft 365 / Outlook.com", ("outlook.com", "office365.com", "hotmail.com"),
             "<tenant>.mail.protection.outlook.com",
             ("smtp.office365.com", "smtp-mail.outlook.com"),
             _MS_DOCS + "microsoft-365/admin/get-help-with-domains/create-dns-records-at-any-"
             "dns-hosting-provider.md (MX '<MX token>.mail.protection.outlook.com'; "
             "learn.microsoft.com/microsoft-365/admin/get-help-with-domains/create-dns-records-"
             "at-any-dns-hosting-provider); " + _EXO_DOCS + " (SMTP AUTH client submission "
             "endpoint smtp.office365.com; MX endpoint contoso-com.mail.protection.outlook.com)",
             ("smtp-mail.outlook.com (Outlook.com's submission host): no page found",)),
    Provider("Yahoo", ("yahoo.com", "yahoodns.net"), "mta5.am0.yahoodns.net",
             ("smtp.mail.yahoo.com",), "",
             ("help.yahoo.com/kb/SLN4724.html (IMAP server settings for Yahoo Mail)",)),
    Provider("Zoho Mail", ("zoho.com", "zoho.eu"), "mx.zoho.com", ("smtp.zoho.com",), "",
             ("zoho.com/mail/help/zoho-smtp.html",
              "zoho.com/mail/help/adminconsole/configure-email-delivery.html (MX)")),
    Provider("iCloud Mail", ("icloud.com", "me.com"), "mx01.mail.icloud.com",
             ("smtp.mail.me.com",), "",
             ("support.apple.com/HT202304 (iCloud Mail server settings for other email client "
              "apps)",)),
)

#: Registrable domain -> provider, for ``*.<domain>`` patterns.
PROVIDER_DOMAINS: dict[str, Provider] = {d: p for p in PROVIDERS for d in p.domains}
#: Client submission host -> provider.
SUBMISSION_HOSTS: dict[str, Provider] = {h: p for p in PROVIDERS for h in p.submission_hosts}


def _name(pattern: str) -> str:
    return pattern.lower().removesuffix(".")


def wildcard_provider(pattern: str) -> Provider | None:
    """The provider whose whole registrable domain ``pattern`` (``*.google.com``) covers."""
    name = _name(pattern)
    return PROVIDER_DOMAINS.get(name[2:]) if name.startswith("*.") else None


def submission_provider(pattern: str) -> Provider | None:
    """The provider whose client submission host ``pattern`` names (``smtp.office365.com``)."""
    return SUBMISSION_HOSTS.get(_name(pattern))
