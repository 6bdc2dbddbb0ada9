"""``survey.notebooks`` is ``analysis.notebooks`` (the alias is in ``survey/__init__.py``)."""

from survey.analysis.notebooks import *  # noqa: F403
