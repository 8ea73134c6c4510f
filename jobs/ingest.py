"""spark-submit entry point: `spark-submit jobs/ingest.py INPUT OUT [--profile P] [--conf F]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
