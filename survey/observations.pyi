"""``survey.observations`` is ``core.observations`` (the alias is in ``survey/__init__.py``)."""

from survey.core.observations import *  # noqa: F403
