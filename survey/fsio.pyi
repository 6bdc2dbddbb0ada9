"""``survey.fsio`` is ``survey.dataset.fsio`` (the alias is in ``survey/__init__.py``)."""

from survey.dataset.fsio import *  # noqa: F403
