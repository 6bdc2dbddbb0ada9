"""``survey.stats`` is ``survey.analysis.stats`` (the alias is in ``survey/__init__.py``)."""

from survey.analysis.stats import *  # noqa: F403
