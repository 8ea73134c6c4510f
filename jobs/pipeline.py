"""spark-submit entry point: `spark-submit jobs/pipeline.py INPUT OUT [--profile P] [--conf F]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["pipeline", *sys.argv[1:]]))
