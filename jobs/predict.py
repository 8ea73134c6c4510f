"""spark-submit entry point: `spark-submit jobs/predict.py OUT --model DIR [--conf F]`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
