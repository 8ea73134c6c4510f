"""The pure per-file core: bytes in, header rows and reasons out. Never imports pyspark."""
