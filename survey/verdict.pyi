"""``survey.verdict`` is ``survey.core.verdict`` (the alias is in ``survey/__init__.py``)."""

from survey.core.verdict import *  # noqa: F403
