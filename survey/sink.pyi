"""``survey.sink`` is ``survey.dataset.sink`` (the alias is in ``survey/__init__.py``)."""

from survey.dataset.sink import *  # noqa: F403
