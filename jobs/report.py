"""spark-submit entry point: `spark-submit jobs/report.py OUT [--show-paths] [--profile P]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
