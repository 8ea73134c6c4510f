"""Class probabilities of a saved network for every frame with a preprocessed array, computed
in the workers with Spark ML's `predict_batch_udf` (the network loaded once per worker)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.functions import predict_batch_udf
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, FloatType

from medspark import layout
from medspark.ml.cnn import INPUT_SIZE, load_network, network_input, probabilities


def network_inputs(size: int = INPUT_SIZE) -> Any:
    """A pandas UDF: tensor_npz -> the network's flattened input."""

    def inputs(npz: pd.Series) -> pd.Series:
        return npz.map(lambda b: network_input(bytes(b), size).ravel())

    return F.pandas_udf(inputs, ArrayType(FloatType()))  # type: ignore[call-overload]


def network_scores(frames: DataFrame, model_dir: str, sidecar: dict[str, Any]) -> Column:
    """The class probabilities (array<float>, class order) of the network saved in model_dir;
    `frames` needs an `_input` column (network_inputs)."""
    weights, classes = layout.model_weights(model_dir), len(sidecar["classes"])
    size = int(sidecar.get("input_size", INPUT_SIZE))

    def make_predict():
        network = load_network(weights, classes)

        def predict(inputs: np.ndarray) -> np.ndarray:
            return probabilities(network, inputs.reshape(-1, size, size).astype(np.float32))

        return predict

    score = predict_batch_udf(
        make_predict,
        return_type=ArrayType(FloatType()),
        batch_size=128,
        input_tensor_shapes=[[size * size]],
    )
    return score(F.col("_input"))
