"""``survey.report`` is ``survey.analysis.report`` (the alias is in ``survey/__init__.py``)."""

from survey.analysis.report import *  # noqa: F403
