"""The spark-submit entry point: `spark-submit jobs/run.py COMMAND ARGUMENTS…`, any command
of `medspark` (pipeline, ingest, features, etl, radiomics, export, report, …). Not named
medspark.py: Python puts this folder first on the path, where it would shadow the package."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
