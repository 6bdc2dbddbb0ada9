"""Every name a dataset has on disk (or on an object store), in one place, and how its rows are
cut into parts. Light on purpose (no pyarrow): the CLI's parser and every layer read it.

    OUT/manifest.json                        the run (``dataset.sink``)
    OUT/parts/part-<seq>-<tag>.parquet       committed rows
    OUT/quarantine/                          parts that failed a check, kept for a look
    OUT/shards/<i>-of-<n>/committed/shard.json   a sharded run's per-shard state (``runs``)
    OUT/shards/<i>-of-<n>/attempt-*/progress.json
    OUT/shards/STOP                          asks every task of a cluster run to stop
    SNAPSHOT/data/, SNAPSHOT/SHA256SUMS      a published snapshot (``analysis.publish``)
"""

from __future__ import annotations

MANIFEST = "manifest.json"
PARTS = "parts"
QUARANTINE = "quarantine"
#: Where sharded runs keep their per-shard state (``survey.runs.shards``, ``survey.runs.store``).
SHARDS = "shards"
#: A shard's directory once its attempt committed (renamed atomically).
COMMITTED = "committed"
#: A committed shard's record (counts, toplist stats; on a store also its parts).
SHARD_RECORD = "shard.json"
#: An attempt's rows so far, polled by the parent's progress bar.
PROGRESS_FILE = "progress.json"
#: Its existence asks every shard task of the run to stop (Ctrl-C in the client).
STOP = "STOP"
#: A published snapshot's rows (Hive partitions) and its checksum file.
DATA = "data"
SUMS = "SHA256SUMS"
#: Where rows live: a scan's output directory, then a published snapshot.
ROW_DIRS = (PARTS, DATA)
#: Directories of a dataset that hold no committed rows.
NOT_ROWS = (SHARDS, QUARANTINE)

#: Rows per part: bounds the memory of the writer and the work lost by a crash.
PART_ROWS = 2_000
#: A part is also flushed after this many seconds, so a slow scan still makes durable progress.
PART_SECONDS = 30.0
