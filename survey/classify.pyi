"""``survey.classify`` is ``survey.core.classify`` (the alias is in ``survey/__init__.py``)."""

from survey.core.classify import *  # noqa: F403
