"""mta-sts-survey: measure MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) adoption at internet scale."""

__version__ = "0.1.0"
