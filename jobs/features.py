"""spark-submit entry point: `spark-submit jobs/features.py OUT [--profile P] [--conf F]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["features", *sys.argv[1:]]))
