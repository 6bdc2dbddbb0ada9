"""Toplists: where a list comes from (files, compression, URLs) and how its rows are read.

``survey.toplist`` keeps the names it had as a module (``read_toplist``, ``shard_of``, ...)."""

from survey.toplist.reader import *  # noqa: F403
