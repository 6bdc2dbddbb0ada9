"""One scan: the config, the funnel of questions asked about each domain, and the worker pool.

``survey.scan`` keeps the names it had as a module (``ScanConfig``, ``run_scan``, ...)."""

from survey.scan.pool import *  # noqa: F403
