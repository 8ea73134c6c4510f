"""The thin Spark shell over the core: `output/` (OUT's tables, written and read one way),
`records/` (the core's per-file and per-study functions run over partitions), `learning/` (labels,
the patient split, scoring with a network), `jobs/` (one module per command); beside them the
session, the run, its progress and the placement of tasks on the cores. Each floor imports only
the ones below it (tests/unit/test_layers.py)."""
