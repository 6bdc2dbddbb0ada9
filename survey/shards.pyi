"""``survey.shards`` is ``survey.runs.shards`` (the alias is in ``survey/__init__.py``)."""

from survey.runs.shards import *  # noqa: F403
