"""OUT's tables, written and read one way: the table contract (`tables`), a pass's tasks writing
their own files and the counts from their ledger (`task_tables`, `pass_counts`), later copies of
an instance (`duplicates`), an etl output's current rows and Delta logs (`current`,
`delta_log`), Parquet column encryption (`encryption`, `kms`) and the file system under OUT."""
