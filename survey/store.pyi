"""``survey.store`` is ``survey.runs.store`` (the alias is in ``survey/__init__.py``)."""

from survey.runs.store import *  # noqa: F403
