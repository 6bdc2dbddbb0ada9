"""The dataset on disk: crash-safe file writes, the Arrow schema, Parquet parts, the manifest;
where snapshots are published (directory or object store), their index, toplist citations."""
