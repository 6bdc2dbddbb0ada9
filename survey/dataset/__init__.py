"""The dataset on disk: crash-safe file writes, the Arrow schema, Parquet parts, the manifest."""
