"""``survey.cluster`` is ``survey.runs.cluster`` (the alias is in ``survey/__init__.py``)."""

from survey.runs.cluster import *  # noqa: F403
