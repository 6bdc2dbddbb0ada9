"""A scan session sharded over worker processes, a Dask cluster or an object store."""
