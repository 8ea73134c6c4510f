"""spark-submit entry point: `spark-submit jobs/train.py OUT --model DIR --labels FILE`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
