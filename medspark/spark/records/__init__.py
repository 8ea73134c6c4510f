"""The core's per-file and per-study functions run over Spark partitions as Arrow batches: the
input listed with the cluster (`catalog`), files to records (`inspection`, `single_pass`),
metadata to feature records (`extraction`), one task per study (`studies`), and which images
were examined for burned-in text (`pixel_clearance`)."""
