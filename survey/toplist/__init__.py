"""Toplists: where a list comes from (files, compression, URLs) and how its rows are read.

``survey.toplist`` keeps the names it had as a module (``read_toplist``, ``shard_of``, ...)."""

from survey.core.names import InvalidName as InvalidName
from survey.core.names import normalise_domain as normalise_domain
from survey.toplist.reader import *  # noqa: F403
