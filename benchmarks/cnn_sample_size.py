"""The CNN against the MLlib model by cohort size, on patients neither has seen.

PneumoniaMNIST's training split (3,882 images) and validation split (524) from
`../shared/data/pneumoniamnist` are wrapped as DICOM, one patient per image, and described once
(`medspark pipeline` with arrays on). For each size (300, 600, 1,200 and all 3,882 training
images) and each seed, a labels file names that many training patients (drawn with the seed)
plus the 524 validation-split patients as `split=test`; `medspark train` fits the MLlib model
and `medspark train --kind cnn` the network (two TorchDistributor processes) with
`model.seed` = the seed, and both are scored on the 524 held-out images. A CNN that learns
nothing ends in exit 6 and is tabled as refused.

Usage: .venv/bin/python benchmarks/cnn_sample_size.py [--sizes 300 600 1200 3882]
       [--seeds 1 2 3] [--work /tmp/medspark-cnn-bench]
Prints one line per run and a Markdown table per size (docs/classifier.md's table).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NPZ = REPO.parent / "shared" / "data" / "pneumoniamnist" / "pneumoniamnist_trainval.npz"
ARRAYS = ["--set", "features.tensor=true", "--set", "features.keypoints=false"]
ENVIRONMENT = {**os.environ, "MEDSPARK_PSEUDONYM_KEY": "cnn-sample-size-benchmark-key-01"}


def _medspark(*args: str) -> tuple[int, str, float]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "medspark.cli", *args],
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


def described(work: Path) -> tuple[Path, list[dict[str, str]]]:
    """OUT with every image described once, and the labels file's rows (with their split)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from pneumoniamnist_to_dicom import wrap

    out = work / "out"
    labels = work / "labels.csv"
    if not (out / "features").is_dir():
        wrap(NPZ, work, 0, keep_splits=True)
        code, printed, _ = _medspark("pipeline", str(work / "images"), str(out), *ARRAYS)
        if code != 0:
            raise SystemExit(f"pipeline failed ({code}):\n{printed}")
    return out, list(csv.DictReader(labels.open()))


def cohort(rows: list[dict[str, str]], size: int, seed: int, path: Path) -> Path:
    """`size` training patients drawn with `seed`, and every held-out one."""
    training = [r for r in rows if r["split"] == "train"]
    held_out = [r for r in rows if r["split"] == "test"]
    chosen = np.random.default_rng(seed).choice(len(training), min(size, len(training)), False)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient_id", "label", "split"])
        for row in [training[i] for i in sorted(chosen)] + held_out:
            writer.writerow([row["patient_id"], row["label"], row["split"]])
    return path


def run(out: Path, labels: Path, work: Path, size: int, seed: int, processes: int) -> dict:
    seeded = ["--set", f"model.seed={seed}"]
    models = work / f"models-{size}-{seed}"
    code, printed, mllib_seconds = _medspark(
        "train", str(out), "--labels", str(labels), "--model", str(models / "mllib"), *seeded
    )
    if code != 0:
        raise SystemExit(f"MLlib train failed ({code}):\n{printed}")
    mllib = json.loads((out / "evaluation" / "metrics.json").read_text())
    code, printed, cnn_seconds = _medspark(
        "train", str(out), "--labels", str(labels), "--model", str(models / "cnn"),
        "--kind", "cnn", "--processes", str(processes), *seeded, *ARRAYS,
    )  # fmt: skip
    if code not in (0, 6):
        raise SystemExit(f"CNN train failed ({code}):\n{printed}")
    network = json.loads((out / "evaluation" / "cnn" / "metrics.json").read_text())
    split = network["split"]
    sidecar = models / "cnn" / "medspark-model.json"
    training = json.loads(sidecar.read_text())["training"] if code == 0 else {}
    return {
        "size": size,
        "seed": seed,
        "train_frames": split["train_frames"],
        "validation_frames": split["validation_frames"],
        "test_frames": split["test_frames"],
        "mllib_auc": mllib["model"]["roc_auc"],
        "cnn_auc": network["model"]["roc_auc"] if code == 0 else None,
        "cnn_refused": network.get("refused"),
        "cnn_best_step": training.get("best_step"),
        "cnn_steps_run": training.get("steps_run"),
        "mllib_seconds": round(mllib_seconds, 1),
        "cnn_seconds": round(cnn_seconds, 1),
    }


def table(results: list[dict]) -> str:
    lines = [
        "| training images | seeds | MLlib AUC (min / mean) | CNN AUC (min / mean) "
        "| CNN minus MLlib (worst seed) | CNN train s (mean) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sorted({r["size"] for r in results}):
        rows = [r for r in results if r["size"] == size]
        mllib = [r["mllib_auc"] for r in rows]
        cnn = [r["cnn_auc"] if r["cnn_auc"] is not None else 0.0 for r in rows]
        worst = min(c - m for c, m in zip(cnn, mllib, strict=True))
        refused = sum(r["cnn_auc"] is None for r in rows)
        lines.append(
            f"| {size:,} | {len(rows)} | {min(mllib):.3f} / {statistics.mean(mllib):.3f} | "
            f"{min(cnn):.3f} / {statistics.mean(cnn):.3f}"
            + (f" ({refused} refused)" if refused else "")
            + f" | {worst:+.3f} | {statistics.mean(r['cnn_seconds'] for r in rows):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 600, 1200, 3882])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/medspark-cnn-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    out, rows = described(args.work)
    results = []
    for size in args.sizes:
        for seed in args.seeds:
            labels = cohort(rows, size, seed, args.work / f"labels-{size}-{seed}.csv")
            result = run(out, labels, args.work, size, seed, args.processes)
            print(json.dumps(result), flush=True)
            results.append(result)
    (args.work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
