"""``survey.diff`` is ``survey.analysis.diff`` (the alias is in ``survey/__init__.py``)."""

from survey.analysis.diff import *  # noqa: F403
