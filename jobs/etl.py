"""spark-submit entry point: `spark-submit jobs/etl.py INPUT OUT [--settle-seconds S]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["etl", *sys.argv[1:]]))
