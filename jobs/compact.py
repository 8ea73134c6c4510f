"""spark-submit entry point: `spark-submit jobs/compact.py OUT [--profile P]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["compact", *sys.argv[1:]]))
