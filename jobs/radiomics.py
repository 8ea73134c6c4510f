"""spark-submit entry point: `spark-submit jobs/radiomics.py OUT [--profile P] [--conf FILE]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["radiomics", *sys.argv[1:]]))
