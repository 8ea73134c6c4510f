"""spark-submit entry point: `spark-submit jobs/volumes.py OUT [--profile P]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["volumes", *sys.argv[1:]]))
