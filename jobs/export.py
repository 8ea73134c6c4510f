"""spark-submit entry point: `spark-submit jobs/export.py OUT DESTINATION [--conf F]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
