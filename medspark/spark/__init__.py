"""The thin Spark shell: sessions, listing, partition-wise mapping of the core, table writes."""
