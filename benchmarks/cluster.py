"""The pipeline on a standalone cluster of two one-core workers against local mode, same machine.

    python benchmarks/cluster.py [--files 2000] [--workdir DIR]

Generates (or reuses) N synthetic 512x512 CT slices, starts a standalone master and two workers
(one core, 2 GiB each) on 127.0.0.1 from the pip-installed pyspark, and runs the same
`spark-submit jobs/run.py pipeline INPUT OUT --profile cluster` twice: with `--master` the cluster,
and with `--master local[2]`. Times come from each run summary (listing, the single pass and
its tables, the counts), so JVM start-up and the report are left out; it prints files/s per
core for both, the ratio cluster / local, and whether the two runs' tables hold the same rows.
The cluster is stopped by process id whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from throughput import MALLOC_ENV, generate  # noqa: E402

from tests.cluster.standalone import SPARK_HOME, StandaloneCluster  # noqa: E402

KEY = "benchmark-only-key-not-secret-000"


def submit(master: str, inputs: Path, out: Path, env: dict[str, str]) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    result = subprocess.run(
        [str(SPARK_HOME / "bin" / "spark-submit"), "--master", master,
         "--conf", f"spark.pyspark.python={sys.executable}",
         "--conf", f"spark.pyspark.driver.python={sys.executable}",
         "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false",
         "--executor-memory", "2g", "--total-executor-cores", "2",
         str(REPO / "jobs" / "run.py"), "pipeline", str(inputs), str(out), "--profile", "cluster"],
        env=env, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"{master}: exit {result.returncode}\n{result.stderr[-3000:]}")
    summaries = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    return next(s for s in summaries if s["job"] == "pipeline")


def rows(out: Path, name: str) -> int:
    import pyarrow.dataset as pads

    return pads.dataset(out / name, partitioning="hive").count_rows()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workdir", default="/tmp/medspark-bench")
    args = parser.parse_args()
    work = Path(args.workdir)
    inputs = work / f"input-{args.files}" / "synthetic"
    generate(inputs, args.files)
    env = {**os.environ, **MALLOC_ENV, "SPARK_LOCAL_IP": "127.0.0.1",
           "MEDSPARK_PSEUDONYM_KEY": KEY, "PYTHONPATH": str(REPO)}  # fmt: skip
    cluster = StandaloneCluster(work / "cluster", Path(sys.executable))
    runs = {}
    try:
        cluster.start()
        runs["cluster, 2 workers x 1 core"] = submit(cluster.url, inputs, work / "out-cluster", env)
    finally:
        cluster.stop()
    runs["local[2]"] = submit("local[2]", inputs, work / "out-local", env)
    rates = {}
    for name, summary in runs.items():
        seconds = sum(stage["seconds"] for stage in summary["stages"].values())
        files = summary["counts"]["listed_files"]
        rates[name] = files / seconds
        print(f"{name}: {files} files in {seconds:.1f} s = {files / seconds:.1f} files/s, "
              f"{files / seconds / 2:.1f} files/s per core; stages "
              + json.dumps({k: v["seconds"] for k, v in summary["stages"].items()}))  # fmt: skip
    same = all(
        rows(work / "out-cluster", name) == rows(work / "out-local", name)
        for name in ("metadata", "quarantine", "features")
    )
    cluster_rate, local_rate = rates.values()
    print(f"same row counts in every table: {same}")
    print(f"ratio cluster/local={cluster_rate / local_rate:.3f}")


if __name__ == "__main__":
    main()
