"""The CNN stage from the command line on a small cohort (300 frames): TorchDistributor with two
processes in local mode, a network that ranks held-out patients well and predicts both classes,
the MLlib stage's patient split and metrics, the validation curve, predict through
predict_batch_udf equal to the network applied directly, the ONNX copy equal through
onnxruntime, exit 6 on labels nothing can be learned from, and a clear exit without PyTorch."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pytest

from medspark.cli import main
from medspark.errors import EXIT_DATA, EXIT_USAGE
from medspark.ml import cnn
from tests.conftest import needs
from tests.spark.test_classify import NPZ, wrap

pytestmark = pytest.mark.spark
SETTINGS = ["--set", "features.tensor=true", "--set", "features.keypoints=false"]
PER_CLASS = 150  # a few hundred frames: the cohorts hospital projects start with
KEY = "cnn-test-key-0123456789abc"


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    needs(cnn.torch_available(), "PyTorch (scripts/install.sh --deep)")
    needs(NPZ.is_file(), "shared/data/pneumoniamnist")
    root = tmp_path_factory.mktemp("cnn")
    labels = wrap(NPZ, root / "xrays", PER_CLASS)
    out, model = root / "out", root / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDSPARK_PSEUDONYM_KEY", KEY)
        assert main(["pipeline", str(root / "xrays" / "images"), str(out), "--labels",
                     str(labels), *SETTINGS]) == 0  # fmt: skip
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(["train", str(out), "--labels", str(labels), "--model", str(model),
                         "--kind", "cnn", *SETTINGS])  # fmt: skip
        assert code == 0
        assert main(["predict", str(out), "--model", str(model), "--aggregate", "patient",
                     *SETTINGS]) == 0  # fmt: skip
    return out, model, printed.getvalue(), labels


def test_torch_distributor_trained_with_two_processes(trained):
    _, model, _, _ = trained
    sidecar = json.loads((model / "medspark-model.json").read_text())
    assert sidecar["kind"] == "cnn" and sidecar["processes"] == 2
    assert sidecar["training"]["world_size"] == 2
    curve = sidecar["training"]["curve"]
    assert (model / "network.pt").is_file() and len(curve) >= 2
    assert [p["step"] for p in curve] == sorted(p["step"] for p in curve)
    assert sidecar["training"]["best_step"] in [p["step"] for p in curve]


def test_a_few_hundred_frames_teach_it_to_rank_held_out_patients(trained):
    out, _, printed, _ = trained
    network = json.loads((out / "evaluation" / "cnn" / "metrics.json").read_text())
    assert network["split"]["train_frames"] < 200
    assert network["model"]["roc_auc"] > 0.75
    confusion = np.array(network["model"]["confusion_matrix"])
    assert (confusion.sum(axis=0) > 0).all(), "the network predicts a single class"
    assert network["validation_curve"] and network["recommendation"]
    assert f"recommendation: {network['recommendation']}" in printed


def test_the_same_held_out_patients_and_metrics_as_the_mllib_stage(trained):
    out, _, printed, _ = trained
    mllib = json.loads((out / "evaluation" / "metrics.json").read_text())
    network = json.loads((out / "evaluation" / "cnn" / "metrics.json").read_text())
    assert network["split"]["test_patients"] == mllib["split"]["test_patients"]
    assert network["split"]["test_frames"] == mllib["split"]["test_frames"]
    assert set(network["model"]) >= {"accuracy", "roc_auc", "roc_points", "confusion_matrix"}
    assert set(network["majority_baseline"]) == set(mllib["majority_baseline"])
    assert f"on the same {mllib['split']['test_patients']} patients: cnn" in printed


def _direct(out: Path, model: Path, keys: list[tuple[str, int]]) -> np.ndarray:
    features = pads.dataset(out / "features").to_table(
        columns=["sop_instance_uid", "frame", "tensor_npz"]
    )
    arrays = {(r["sop_instance_uid"], r["frame"]): r["tensor_npz"] for r in features.to_pylist()}
    return np.stack([cnn.network_input(arrays[k]) for k in keys])


def test_predict_gives_the_networks_own_probabilities_and_so_does_onnx(trained):
    out, model, _, _ = trained
    rows = pads.dataset(out / "predictions").to_table().to_pylist()
    assert len(rows) == 2 * PER_CLASS
    keys = [(r["sop_instance_uid"], r["frame"]) for r in rows]
    inputs = _direct(out, model, keys)
    direct = cnn.probabilities(cnn.load_network(str(model / "network.pt"), 2), inputs)
    spark_scores = np.array([r["class_scores"] for r in rows])
    assert np.abs(direct - spark_scores).max() < 1e-5
    assert np.allclose([r["probability_pneumonia"] for r in rows], direct[:, 1], atol=1e-5)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model / "network.onnx"))
    served = session.run(None, {"image": inputs[:, None]})[0]
    assert np.abs(served - direct).max() < 1e-5
    patients = pads.dataset(out / "predictions_patient").to_table().to_pylist()
    assert len(patients) == 2 * PER_CLASS and {"confidence", "probability_normal"} <= set(
        patients[0]
    )


def test_the_report_draws_both_models(trained):
    out, _, _, _ = trained
    from pyspark.sql import SparkSession

    from medspark.report.gather import gather
    from medspark.report.page import render

    data = gather(SparkSession.getActiveSession(), str(out))
    assert set(data.evaluations) == {"mllib", "cnn"}
    page = render(data)
    assert 'alt="CNN validation curve"' in page and "Recommendation: the " in page


def test_labels_nothing_can_be_learned_from_end_in_exit_6(trained, tmp_path, monkeypatch, capsys):
    """The same frames with their labels shuffled: the network is refused with its reason, no
    model is kept, and the refusal is on record for the report."""
    trained_out, _, _, labels = trained
    out = tmp_path / "out"
    shutil.copytree(trained_out, out)  # the refusal's record must not replace the kept model's
    rows = list(csv.DictReader(labels.open()))
    shuffled = [r["label"] for r in rows]
    random.Random(3).shuffle(shuffled)
    unlearnable = tmp_path / "shuffled.csv"
    with unlearnable.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient_id", "label"])
        writer.writerows((r["patient_id"], label) for r, label in zip(rows, shuffled, strict=True))
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", KEY)
    model = tmp_path / "model"
    code = main(["train", str(out), "--labels", str(unlearnable), "--model", str(model),
                 "--kind", "cnn", *SETTINGS])  # fmt: skip
    error = capsys.readouterr().err
    assert code == EXIT_DATA
    assert "the CNN learned nothing: " in error and len(error.strip().splitlines()) == 1
    assert not (model / "network.pt").exists() and not (model / "medspark-model.json").exists()
    record = json.loads((out / "evaluation" / "cnn" / "metrics.json").read_text())
    assert record["refused"] in error and record["validation_curve"]


def test_without_pytorch_the_cnn_says_how_to_install_it(trained, monkeypatch, capsys, tmp_path):
    out, _, _, _ = trained
    monkeypatch.setattr(cnn, "torch_available", lambda: False)
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", KEY)
    labels = tmp_path / "labels.csv"
    labels.write_text("patient_id,label\na,x\nb,y\n")
    code = main(["train", str(out), "--labels", str(labels), "--model", str(tmp_path / "m"),
                 "--kind", "cnn"])  # fmt: skip
    assert code == EXIT_USAGE
    assert "scripts/install.sh --deep" in capsys.readouterr().err
