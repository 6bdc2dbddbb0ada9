"""``survey.mistakes`` is ``survey.core.mistakes`` (the alias is in ``survey/__init__.py``)."""

from survey.core.mistakes import *  # noqa: F403
