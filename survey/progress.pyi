"""``survey.progress`` is ``survey.scan.progress`` (the alias is in ``survey/__init__.py``)."""

from survey.scan.progress import *  # noqa: F403
