"""``survey.publish`` is ``survey.analysis.publish`` (the alias is in ``survey/__init__.py``)."""

from survey.analysis.publish import *  # noqa: F403
