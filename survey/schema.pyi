"""``survey.schema`` is ``survey.dataset.schema`` (the alias is in ``survey/__init__.py``)."""

from survey.dataset.schema import *  # noqa: F403
