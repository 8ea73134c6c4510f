"""Research exports over the tables: DICOM re-encoded losslessly, NIfTI volumes with label maps,
training shards. Each writer is per-file or per-study core code; the Spark jobs only plan."""
