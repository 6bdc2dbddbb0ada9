"""``survey.charts`` is ``survey.analysis.charts`` (the alias is in ``survey/__init__.py``)."""

from survey.analysis.charts import *  # noqa: F403
