"""``survey.policy`` is ``survey.core.policy`` (the alias is in ``survey/__init__.py``)."""

from survey.core.policy import *  # noqa: F403
