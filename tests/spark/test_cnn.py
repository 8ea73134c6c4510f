"""The CNN stage from the command line: TorchDistributor with two processes in local mode, the
MLlib stage's patient split and metrics, predict through predict_batch_udf equal to the network
applied directly, the ONNX copy equal through onnxruntime, and a clear exit without PyTorch."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pytest

from medspark.cli import main
from medspark.errors import EXIT_USAGE
from medspark.ml import cnn
from tests.conftest import needs
from tests.spark.test_classify import NPZ, wrap

pytestmark = pytest.mark.spark
SETTINGS = ["--set", "features.tensor=true", "--set", "features.keypoints=false"]


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    needs(cnn.torch_available(), "PyTorch (scripts/install.sh --deep)")
    needs(NPZ.is_file(), "shared/data/pneumoniamnist")
    root = tmp_path_factory.mktemp("cnn")
    labels = wrap(NPZ, root / "xrays", 60)
    out, model = root / "out", root / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDSPARK_PSEUDONYM_KEY", "cnn-test-key-0123456789abc")
        assert main(["pipeline", str(root / "xrays" / "images"), str(out), "--labels",
                     str(labels), *SETTINGS]) == 0  # fmt: skip
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(["train", str(out), "--labels", str(labels), "--model", str(model),
                         "--kind", "cnn", *SETTINGS])  # fmt: skip
        assert code == 0
        assert main(["predict", str(out), "--model", str(model), "--aggregate", "patient",
                     *SETTINGS]) == 0  # fmt: skip
    return out, model, printed.getvalue()


def test_torch_distributor_trained_with_two_processes(trained):
    _, model, _ = trained
    sidecar = json.loads((model / "medspark-model.json").read_text())
    assert sidecar["kind"] == "cnn" and sidecar["processes"] == 2
    assert sidecar["training"]["world_size"] == 2
    assert sidecar["training"]["history"] and (model / "network.pt").is_file()


def test_the_same_held_out_patients_and_metrics_as_the_mllib_stage(trained):
    out, _, printed = trained
    mllib = json.loads((out / "evaluation" / "metrics.json").read_text())
    network = json.loads((out / "evaluation" / "cnn" / "metrics.json").read_text())
    assert network["split"]["test_patients"] == mllib["split"]["test_patients"]
    assert network["split"]["test_frames"] == mllib["split"]["test_frames"]
    assert set(network["model"]) >= {"accuracy", "roc_auc", "roc_points", "confusion_matrix"}
    assert set(network["majority_baseline"]) == set(mllib["majority_baseline"])
    assert 0.0 <= network["model"]["roc_auc"] <= 1.0  # quality: the full-data benchmark (README)
    assert f"on the same {mllib['split']['test_patients']} patients: cnn" in printed


def _direct(out: Path, model: Path, keys: list[tuple[str, int]]) -> np.ndarray:
    features = pads.dataset(out / "features").to_table(
        columns=["sop_instance_uid", "frame", "tensor_npz"]
    )
    arrays = {(r["sop_instance_uid"], r["frame"]): r["tensor_npz"] for r in features.to_pylist()}
    return np.stack([cnn.network_input(arrays[k]) for k in keys])


def test_predict_gives_the_networks_own_probabilities_and_so_does_onnx(trained):
    out, model, _ = trained
    rows = pads.dataset(out / "predictions").to_table().to_pylist()
    assert len(rows) == 120
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
    assert len(patients) == 120 and {"confidence", "probability_normal"} <= set(patients[0])


def test_the_report_draws_both_models(trained):
    out, _, _ = trained
    from pyspark.sql import SparkSession

    from medspark.report.gather import gather

    data = gather(SparkSession.getActiveSession(), str(out))
    assert set(data.evaluations) == {"mllib", "cnn"}


def test_without_pytorch_the_cnn_says_how_to_install_it(trained, monkeypatch, capsys, tmp_path):
    out, _, _ = trained
    monkeypatch.setattr(cnn, "torch_available", lambda: False)
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", "cnn-test-key-0123456789abc")
    labels = tmp_path / "labels.csv"
    labels.write_text("patient_id,label\na,x\nb,y\n")
    code = main(["train", str(out), "--labels", str(labels), "--model", str(tmp_path / "m"),
                 "--kind", "cnn"])  # fmt: skip
    assert code == EXIT_USAGE
    assert "scripts/install.sh --deep" in capsys.readouterr().err
