"""The classifier stage on real labelled images: PneumoniaMNIST chest X-rays wrapped as DICOM."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pytest

from medspark.config import FeatureSettings
from medspark.spark.jobs.classify import load_model, predict, train_and_evaluate
from medspark.spark.jobs.features import run_features
from medspark.spark.jobs.ingest import run_ingest
from medspark.spark.run import Run
from tests.conftest import SHARED_DATA, TEST_KEY, needs
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark
NPZ = SHARED_DATA / "pneumoniamnist" / "pneumoniamnist_trainval.npz"
PER_CLASS = 300  # images per class: enough to learn, small enough for CI
REPO = Path(__file__).resolve().parents[2]


def _wrapper():
    """scripts/pneumoniamnist_to_dicom.py, the same script docs/classifier.md tells users to run."""
    spec = importlib.util.spec_from_file_location(
        "pneumoniamnist_to_dicom", REPO / "scripts" / "pneumoniamnist_to_dicom.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.wrap


wrap = _wrapper()


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    needs(NPZ.is_file(), "shared/data/pneumoniamnist")
    root = tmp_path_factory.mktemp("classify")
    labels_file = wrap(NPZ, root, PER_CLASS)
    inputs = root / "images"
    base = make_settings()
    settings = base.model_copy(
        update={
            "features": FeatureSettings(preprocess=[], thumbnail=False, keypoints=False),
            "model": base.model.model_copy(update={"grid": {"regParam": [0.01, 0.1]}}),
        }
    )
    out, model_dir = root / "out", root / "model"
    run_ingest(Run(spark, settings, str(out), str(inputs), TEST_KEY))
    run_features(Run(spark, settings, str(out)))
    result = train_and_evaluate(
        Run(spark, settings, str(out), key=TEST_KEY), str(labels_file), str(model_dir)
    )
    return result, out, model_dir, settings


def test_model_beats_the_majority_baseline_on_held_out_patients(trained):
    result, _, _, _ = trained
    print(result.table)
    model, baseline = result.metrics, result.baseline
    # Margins: balanced accuracy 0.15 over the baseline's 0.5, and ROC AUC at least 0.80.
    assert model["balanced_accuracy"] >= baseline["balanced_accuracy"] + 0.15
    assert model["roc_auc"] >= 0.80
    assert model["macro"]["f1"] > baseline["macro"]["f1"] + 0.15
    assert len(model["roc_points"]["pneumonia"]) > 5
    assert np.array(model["confusion_matrix"]).sum() == model["n"]


def test_no_patient_is_on_both_sides_of_the_split(trained):
    result, _, _, _ = trained
    split = result.metrics["split"]
    assert split["patients_in_both"] == 0
    assert split["test_patients"] > 50 and split["train_patients"] > 200


def test_the_split_keeps_every_frame_of_a_patient_on_one_side(spark):
    """40 patients with 5 frames each: the actual train and test rows, not a count."""
    from medspark.config import ModelSettings
    from medspark.spark.learning.patient_split import ASSIGNED_SPLIT, split_by_patient
    from medspark.spark.learning.patient_split import GROUP as _GROUP

    rows = [(f"P{p:02d}", f"1.2.3.{p}.{f}", 1, None) for p in range(40) for f in range(5)]
    frames = spark.createDataFrame(
        rows, f"{_GROUP} string, sop_instance_uid string, frame int, {ASSIGNED_SPLIT} string"
    )
    train, test = split_by_patient(frames, ModelSettings(test_fraction=0.25, folds=3))
    train_rows = {(r[_GROUP], r["sop_instance_uid"], r["fold"]) for r in train.collect()}
    test_rows = {(r[_GROUP], r["sop_instance_uid"]) for r in test.collect()}
    assert len(train_rows) + len(test_rows) == 200
    train_patients = {patient for patient, _, _ in train_rows}
    test_patients = {patient for patient, _ in test_rows}
    assert train_patients.isdisjoint(test_patients)
    assert train_patients | test_patients == {f"P{p:02d}" for p in range(40)}
    assert 4 <= len(test_patients) <= 18
    for patient in test_patients:
        assert sum(1 for p, _ in test_rows if p == patient) == 5
    folds = {}
    for patient, _, fold in train_rows:
        folds.setdefault(patient, set()).add(fold)
    assert all(len(f) == 1 for f in folds.values())
    assert {min(f) for f in folds.values()} <= {0, 1, 2}


def test_a_labels_files_split_column_decides_where_it_speaks(spark, tmp_path):
    """Patients the labels file calls test are held out and those it calls train are not,
    whatever the hash says; patients it is silent on follow the hash. Consumers agree."""
    from medspark.config import ModelSettings
    from medspark.spark.learning.labels import with_labels
    from medspark.spark.learning.patient_split import GROUP as _GROUP
    from medspark.spark.learning.patient_split import patient_group, split_by_patient, split_name

    labels = tmp_path / "labels.csv"
    splits = ["test"] * 10 + ["train"] * 10 + [""] * 20
    labels.write_text(
        "patient_id,label,split\n"
        + "".join(f"P{p:02d},{'ab'[p % 2]},{s}\n" for p, s in enumerate(splits))
    )
    rows = [(f"P{p:02d}", f"1.2.{p}", f"1.2.3.{p}.{f}", 1) for p in range(40) for f in range(3)]
    frames = spark.createDataFrame(
        rows, "patient_id string, study_instance_uid string, sop_instance_uid string, frame int"
    )
    frames = with_labels(spark, frames, str(labels), None).withColumn(_GROUP, patient_group())
    settings = ModelSettings(test_fraction=0.5, folds=3)
    train, test = split_by_patient(frames, settings)
    held_out = {r[_GROUP] for r in test.collect()}
    trained_on = {r[_GROUP] for r in train.collect()}
    assert {f"P{p:02d}" for p in range(10)} <= held_out
    assert {f"P{p:02d}" for p in range(10, 20)} <= trained_on
    silent = {f"P{p:02d}" for p in range(20, 40)}
    assert held_out & silent and trained_on & silent  # the hash still splits the rest
    named = {
        r[_GROUP]: r["split"] for r in frames.withColumn("split", split_name(settings)).collect()
    }
    assert {p for p, s in named.items() if s == "test"} == held_out


def test_a_split_the_labels_file_cannot_mean_is_refused(tmp_path):
    from medspark.ml.labels import LabelsError, prepared_labels

    labels = tmp_path / "labels.csv"
    labels.write_text("patient_id,label,split\nP1,a,held-out\n")
    with pytest.raises(LabelsError, match="held-out"):
        prepared_labels(labels, None)
    labels.write_text("patient_id,label,split\nP1,a,Test\nP2,b,\n")
    assert prepared_labels(labels, None)[1] == [("P1", "a", "test"), ("P2", "b", None)]


def test_metrics_and_sidecar_are_written(trained):
    result, out, model_dir, _ = trained
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["model_id"] == result.model_id
    assert {"model", "majority_baseline", "split"} <= set(metrics)
    sidecar = json.loads((model_dir / "medspark-model.json").read_text())
    assert sidecar["classes"] == ["normal", "pneumonia"]
    assert sidecar["training_data"]["rows"] == 2 * PER_CLASS
    assert "fo_mean" in sidecar["feature_columns"]
    assert "accuracy" in result.table


def test_saved_model_reloads_and_predicts_the_same(spark, trained):
    result, out, model_dir, settings = trained
    written = predict(
        Run(spark, settings, str(out)), str(model_dir), aggregate=("study", "patient")
    )
    assert written["predictions"] == 2 * PER_CLASS
    assert written["predictions_patient"] == 2 * PER_CLASS
    first = pads.dataset(out / "predictions").to_table().to_pylist()
    model, sidecar = load_model(str(model_dir))
    assert model.stages and sidecar["model_id"] == first[0]["model_id"]
    features = spark.read.parquet(str(out / "features"))
    in_memory = {
        r["sop_instance_uid"]: [float(p) for p in r["probability"]]
        for r in result.model.transform(features)
        .select("sop_instance_uid", "probability")
        .collect()
    }
    for row in first:
        scores = in_memory[row["sop_instance_uid"]]
        assert row["confidence"] == pytest.approx(max(scores), abs=1e-12)
        assert row["probability_normal"] == pytest.approx(scores[0], abs=1e-12)
        assert row["probability_pneumonia"] == pytest.approx(scores[1], abs=1e-12)
        assert row["prediction"] == ("normal", "pneumonia")[scores.index(max(scores))]
    patients = pads.dataset(out / "predictions_patient").to_table().to_pylist()
    assert {"probability_normal", "probability_pneumonia", "confidence"} <= set(patients[0])
    for row in patients:
        assert row["probability_normal"] + row["probability_pneumonia"] == pytest.approx(1.0)
        assert row["confidence"] == max(row["probability_normal"], row["probability_pneumonia"])
    predict(Run(spark, settings, str(out)), str(model_dir))
    again = {
        r["sop_instance_uid"]: r["confidence"]
        for r in pads.dataset(out / "predictions").to_table().to_pylist()
    }
    for row in first:
        assert again[row["sop_instance_uid"]] == pytest.approx(row["confidence"], abs=1e-12)
        assert row["prediction"] in ("normal", "pneumonia")
    assert "path" not in first[0]
