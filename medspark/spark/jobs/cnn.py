"""`medspark train --kind cnn`: a small CNN over the preprocessed arrays of the labelled frames,
trained with TorchDistributor on the same patient split as the MLlib classifier, evaluated on
the same held-out patients with the same metrics, and saved with the same sidecar plus an ONNX
copy."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medspark import layout
from medspark.errors import ConfigurationError, DataError
from medspark.ml import cnn
from medspark.ml.evaluation import classification_metrics, majority_baseline, metrics_table
from medspark.ml.labels import KEY_COLUMNS
from medspark.ml.learning_check import recommendation, why_not_learned
from medspark.schemas import FEATURES
from medspark.spark.learning.labels import labelled_frames, training_fingerprint
from medspark.spark.learning.network_scoring import network_inputs
from medspark.spark.learning.patient_split import GROUP, split_name
from medspark.spark.output.tables import read_table
from medspark.spark.run import Run
from medspark.storage import local_path, write_text

log = logging.getLogger("medspark.cnn")


class ModelNotLearned(DataError):
    """The trained network learned nothing its validation patients show (exit 6)."""


DEEP_HINT = "install the deep-learning extra: bash scripts/install.sh --deep (pip: medspark[deep])"


def _arrays(frames: DataFrame, split: str) -> tuple[np.ndarray, np.ndarray]:
    rows = frames.filter(F.col("split") == split).select("_input", "label_index").collect()
    size = cnn.INPUT_SIZE
    images = np.array([np.asarray(r["_input"], np.float32) for r in rows], np.float32)
    labels = np.array([int(r["label_index"]) for r in rows], np.int64)
    return images.reshape(-1, size, size), labels


def _split_counts(
    frames: DataFrame, train_y: np.ndarray, valid_y: np.ndarray, test_y: np.ndarray
) -> dict[str, int]:
    patients = {
        name: frames.filter(F.col("split") == name).select(GROUP).distinct().count()
        for name in ("train", "validation", "test")
    }
    return {
        "train_frames": len(train_y),
        "validation_frames": len(valid_y),
        "test_frames": len(test_y),
        **{f"{name}_patients": count for name, count in patients.items()},
    }


def _distribute(plan: cnn.TrainingPlan, processes: int) -> dict[str, Any]:
    from pyspark.ml.torch.distributor import TorchDistributor

    distributor = TorchDistributor(num_processes=processes, local_mode=True, use_gpu=False)
    result = distributor.run(cnn.train_process, plan.__dict__)
    return result or {}


def train_cnn(run: Run, labels_path: str, model_dir: str, processes: int = 2) -> dict[str, Any]:
    """Train, evaluate on the held-out patients, save weights + ONNX + sidecar; returns the
    evaluation (and the MLlib model's AUC on the same patients when OUT has one)."""
    spark, settings, out_uri, key = run.spark, run.settings, run.out_uri, run.key
    if not cnn.torch_available():
        raise ConfigurationError("--kind cnn needs PyTorch, which is not installed", DEEP_HINT)
    folder = local_path(model_dir)
    if folder is None:
        raise ConfigurationError(f"the CNN is saved to a local or mounted folder, not {model_dir}")
    began = time.monotonic()
    features = (
        read_table(spark, out_uri, FEATURES)
        .filter(F.col("tensor_npz").isNotNull())
        .select(*KEY_COLUMNS, "frame", "tensor_npz")
    )
    frames, classes = labelled_frames(
        spark, features, labels_path, key, hint="a CNN reads the frames with arrays: run the "
        "features job with --set features.tensor=true",
    )  # fmt: skip
    ms = settings.model
    frames = (
        frames.withColumn("split", split_name(ms))
        .withColumn("_input", network_inputs()("tensor_npz"))
        .drop("tensor_npz")
        .cache()
    )
    train_x, train_y = _arrays(frames, "train")
    valid_x, valid_y = _arrays(frames, "validation")
    test_x, test_y = _arrays(frames, "test")
    if min(len(train_y), len(valid_y), len(test_y)) == 0:
        raise DataError(
            f"{len(train_y)} training, {len(valid_y)} validation and {len(test_y)} held-out "
            "frames: too few labelled patients to split",
            hint="label more patients",
        )
    with tempfile.TemporaryDirectory(prefix="medspark-cnn-") as scratch:
        data_file, trained_weights = str(Path(scratch) / "data.npz"), str(Path(scratch) / "w.pt")
        np.savez(data_file, train_x=train_x, train_y=train_y,
                 validation_x=valid_x, validation_y=valid_y)  # fmt: skip
        plan = cnn.TrainingPlan(
            data_file, trained_weights, len(classes), seed=ms.seed, **ms.cnn.model_dump()
        )
        trained = _distribute(plan, processes)
        network = cnn.load_network(trained_weights, len(classes))
        curve = trained.get("curve", [])
        validation_scores = cnn.probabilities(network, valid_x).astype(np.float64)
        refused = why_not_learned(valid_y, validation_scores, train_y, classes)
        split = _split_counts(frames, train_y, valid_y, test_y)
        if refused:
            frames.unpersist()
            record = {"refused": refused, "split": split, "validation_curve": curve}
            write_text(layout.metrics(out_uri, "cnn"), json.dumps(record, indent=2) + "\n")
            raise ModelNotLearned(
                f"the CNN learned nothing: {refused}; no model was kept",
                hint="check that the labels belong to the images, label more patients, or "
                "use the MLlib model (train without --kind cnn)",
            )
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trained_weights, local_path(layout.model_weights(model_dir)) or "")
    cnn.export_onnx(network, local_path(layout.model_onnx(model_dir)) or "")
    scores = cnn.probabilities(network, test_x).astype(np.float64)
    truth = test_y.tolist()
    result = classification_metrics(truth, scores.argmax(axis=1).tolist(), scores, classes)
    train_truth = np.concatenate([train_y, valid_y]).tolist()
    baseline = majority_baseline(train_truth, truth, classes)
    mllib_auc = _mllib_auc(out_uri, split["test_patients"])
    advice = recommendation(result.get("roc_auc"), mllib_auc)
    model_id = uuid.uuid4().hex
    evaluation = {"model_id": model_id, "split": split, "model": result,
                  "majority_baseline": baseline, "validation_curve": curve,
                  "mllib_roc_auc": mllib_auc, "recommendation": advice}  # fmt: skip
    sidecar = {
        "model_id": model_id,
        "kind": "cnn",
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "classifier": "cnn",
        "classes": classes,
        "input_size": cnn.INPUT_SIZE,
        "preprocessing": "tensor_npz, mean over colour channels, area-resized to "
        f"{cnn.INPUT_SIZE} x {cnn.INPUT_SIZE}, zero mean and unit variance per image",
        "network": "3 x (conv-BN-ReLU x 2, max-pool) 16/32/48, global average pool, linear; "
        "batch statistics calibrated on training images before each validation",
        "training": {k: v for k, v in trained.items() if k != "plan"},
        "processes": processes,
        "config": ms.model_dump(),
        "config_sha256": settings.fingerprint(),
        "training_data": {**training_fingerprint(frames.filter(F.col("split") != "test")), **split},
        "metrics": {"model": result, "majority_baseline": baseline},
        "seconds": round(time.monotonic() - began, 1),
    }
    write_text(layout.model_sidecar(model_dir), json.dumps(sidecar, indent=2, default=str) + "\n")
    write_text(layout.metrics(out_uri, "cnn"), json.dumps(evaluation, indent=2, default=str) + "\n")
    frames.unpersist()
    log.info("cnn: trained on %d frames in %.0f s", len(train_y), sidecar["seconds"])
    return {**evaluation, "table": metrics_table(result, baseline), "seconds": sidecar["seconds"],
            "mllib_auc": mllib_auc}  # fmt: skip


def _mllib_auc(out_uri: str, test_patients: int) -> float | None:
    """The MLlib model's held-out ROC AUC, when OUT has one evaluated on as many patients."""
    path = local_path(layout.metrics(out_uri))
    if path is None or not Path(path).is_file():
        return None
    evaluation = json.loads(Path(path).read_text())
    if evaluation.get("split", {}).get("test_patients") != test_patients:
        return None
    return evaluation.get("model", {}).get("roc_auc")
