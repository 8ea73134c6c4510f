"""spark-submit entry point: `spark-submit jobs/register.py OUT --fixed UID --moving UID`."""

import sys

from medspark.cli import main

if __name__ == "__main__":
    sys.exit(main(["register", *sys.argv[1:]]))
