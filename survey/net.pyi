"""``survey.net`` is ``survey.probes.net`` (the alias is in ``survey/__init__.py``)."""

from survey.probes.net import *  # noqa: F403
