"""Train, evaluate and apply a Spark ML classifier on OUT/features, split by patient."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import (
    GBTClassifier,
    LinearSVC,
    LogisticRegression,
    MultilayerPerceptronClassifier,
    OneVsRest,
    RandomForestClassifier,
)
from pyspark.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator
from pyspark.ml.feature import Imputer, IndexToString, StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medspark import layout
from medspark.config import ModelSettings
from medspark.errors import DataError, UsageError
from medspark.ml.evaluation import classification_metrics, majority_baseline, metrics_table
from medspark.ml.labels import KEY_COLUMNS
from medspark.schemas import FEATURES, METADATA, PREDICTION_LEVELS, PREDICTIONS, QUARANTINE
from medspark.spark.learning.labels import labelled_frames, training_fingerprint
from medspark.spark.learning.patient_split import GROUP, split_by_patient
from medspark.spark.output.tables import read_table, write_table
from medspark.spark.run import Run
from medspark.storage import local_path, write_text

log = logging.getLogger("medspark.classify")


@dataclass(frozen=True)
class TrainResult:
    model_id: str
    metrics: dict[str, Any]
    baseline: dict[str, Any]
    table: str
    model_dir: str
    model: PipelineModel


def feature_columns(settings: ModelSettings) -> list[str]:
    """Numeric feature columns of the features table that the configured prefixes select."""
    numeric = {"double", "int", "float", "bigint"}
    schema = {f.name: str(f.type) for f in FEATURES.schema}
    return [
        name
        for name in FEATURES.columns
        if name.startswith(tuple(settings.feature_prefixes))
        and any(kind in schema[name] for kind in numeric)
    ]


_NO_FEATURES_HINT = (
    "with deid.pixels: detect_and_redact (the default) images at risk of burned-in text are "
    "examined and kept; --set deid.pixels=detect_and_redact, or see "
    "docs/deidentification.md: Burned-in text"
)


def _why_no_features(spark: SparkSession, out_uri: str) -> str:
    """0 feature rows, explained by what OUT/metadata and OUT/quarantine hold."""
    metadata = read_table(spark, out_uri, METADATA)
    row = metadata.agg(
        F.count(F.when(F.col("has_pixel_data"), 1)).alias("images"),
        F.count(F.when(F.col("has_pixel_data") & F.col("burned_in_risk"), 1)).alias("at_risk"),
    ).collect()[0]
    failed = read_table(spark, out_uri, QUARANTINE).filter(F.col("stage") == "decode").count()
    return (
        f"OUT/features has 0 rows, so there is nothing to train on: of {row['images']} images "
        f"in OUT/metadata, {row['at_risk']} may carry burned-in annotation (held back unless "
        f"examined) and {failed} could not be decoded"
    )


def with_class_weights(train: DataFrame, classes: list[str]) -> DataFrame:
    """A `weight` column of n / (classes x n_class), so every class counts the same."""
    counts = {
        int(r["label_index"]): r["count"] for r in train.groupBy("label_index").count().collect()
    }
    total = sum(counts.values())
    weights = {k: total / (len(classes) * n) for k, n in counts.items()}
    weight = F.create_map(
        *[item for k, w in weights.items() for item in (F.lit(float(k)), F.lit(w))]
    )
    return train.withColumn("weight", weight[F.col("label_index")])


def _estimator(settings: ModelSettings, n_features: int, n_classes: int):
    """The configured classifier (one-vs-rest where Spark's is binary only) and its grid."""
    common: dict[str, Any] = {"featuresCol": "scaled", "labelCol": "label_index"}
    weighted: dict[str, Any] = {"weightCol": "weight"} if settings.class_weights else {}
    name = settings.classifier
    model: Any
    grid: dict[str, list[Any]]
    if name == "logistic_regression":
        model = LogisticRegression(maxIter=100, tol=1e-5, **common, **weighted)
        grid = {"regParam": [0.0, 0.01, 0.1], "elasticNetParam": [0.0]}
    elif name == "linear_svm":
        model = LinearSVC(maxIter=100, **common, **weighted)
        grid = {"regParam": [0.0, 0.01, 0.1]}
    elif name == "random_forest":
        model = RandomForestClassifier(seed=settings.seed, **common, **weighted)
        grid = {"numTrees": [50, 100], "maxDepth": [5, 8]}
    elif name == "gradient_boosted_trees":
        model = GBTClassifier(seed=settings.seed, **common, **weighted)
        grid = {"maxIter": [20, 50], "maxDepth": [3, 5]}
    else:  # multilayer perceptron: Spark's takes no sample weights
        model = MultilayerPerceptronClassifier(seed=settings.seed, maxIter=200, **common)
        grid = {"layers": [[n_features, 16, n_classes], [n_features, 32, 16, n_classes]]}
    grid.update(settings.grid)
    builder = ParamGridBuilder()
    for param, values in grid.items():
        builder = builder.addGrid(model.getParam(param), values)
    if n_classes > 2 and name in ("linear_svm", "gradient_boosted_trees"):
        model = OneVsRest(classifier=model, featuresCol="scaled", labelCol="label_index")
    return model, builder.build()


def _scores_column(predictions: DataFrame) -> str:
    return "probability" if "probability" in predictions.columns else "rawPrediction"


def train_and_evaluate(run: Run, labels_path: str, model_dir: str) -> TrainResult:
    """Fit on training patients (CV grouped by patient), evaluate on held-out patients, save."""
    spark, settings, out_uri, key = run.spark, run.settings, run.out_uri, run.key
    ms = settings.model
    features = read_table(spark, out_uri, FEATURES)
    if features.limit(1).count() == 0:
        raise DataError(_why_no_features(spark, out_uri), hint=_NO_FEATURES_HINT)
    columns = feature_columns(ms)
    # only keys and feature columns: thumbnails and arrays must not be cached for the fits
    features = features.select(*KEY_COLUMNS, "frame", *columns)
    frames, classes = labelled_frames(spark, features, labels_path, key)
    train, test = split_by_patient(frames, ms)
    if ms.class_weights:
        train = with_class_weights(train, classes)
    # ML fits iterate over the cached data: a few partitions, not the shuffle's hundreds.
    partitions = spark.sparkContext.defaultParallelism
    train, test = train.coalesce(partitions).cache(), test.coalesce(partitions).cache()
    present = train.select([F.count(c).alias(c) for c in columns]).collect()[0].asDict()
    columns = [c for c in columns if present[c] > 0]  # e.g. mm² features without spacing
    n_train, n_test = train.count(), test.count()
    if n_train == 0 or n_test == 0:
        raise DataError(
            f"{n_train} labelled frames for training and {n_test} held out: too few labelled "
            "patients to hold some out",
            hint="label more patients, or lower model.test_fraction",
        )

    classifier, grid = _estimator(ms, len(columns), len(classes))
    prepare: list[Any] = [
        Imputer(inputCols=columns, outputCols=[f"_imp_{c}" for c in columns], strategy="median"),
        VectorAssembler(
            inputCols=[f"_imp_{c}" for c in columns], outputCol="_vector", handleInvalid="keep"
        ),
        StandardScaler(inputCol="_vector", outputCol="scaled", withMean=True, withStd=True),
    ]
    evaluator = (
        BinaryClassificationEvaluator(labelCol="label_index", metricName="areaUnderROC")
        if len(classes) == 2
        else MulticlassClassificationEvaluator(labelCol="label_index", metricName="f1")
    )
    search = CrossValidator(
        estimator=Pipeline(stages=[*prepare, classifier]),
        estimatorParamMaps=grid,
        evaluator=evaluator,
        foldCol="fold",
        parallelism=2,
        seed=ms.seed,
    )
    fitted = search.fit(train)
    best = cast(PipelineModel, fitted.bestModel)
    model = PipelineModel(
        stages=[
            *best.stages,
            IndexToString(inputCol="prediction", outputCol="predicted_label", labels=classes),
        ]
    )

    predictions = model.transform(test)
    scores_col = _scores_column(predictions)
    rows = predictions.select(
        "label_index", "prediction", vector_to_array(F.col(scores_col)).alias("scores")
    ).collect()
    truth = [int(r["label_index"]) for r in rows]
    predicted = [int(r["prediction"]) for r in rows]
    scores = np.array([r["scores"] for r in rows], dtype=np.float64)
    if scores_col == "rawPrediction" and scores.shape[1] == len(classes):
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
    train_truth = [int(r["label_index"]) for r in train.select("label_index").collect()]
    result = classification_metrics(truth, predicted, scores, classes)
    baseline = majority_baseline(train_truth, truth, classes)
    result["importances"] = _importances(best.stages[-1], columns)
    result["best_params"] = {
        param.name: value
        for param, value in fitted.getEstimatorParamMaps()[
            int(np.argmax(fitted.avgMetrics))
        ].items()
    }
    result["cv_metric"] = {"name": evaluator.getMetricName(), "values": list(fitted.avgMetrics)}
    test_patients = {r[GROUP] for r in test.select(GROUP).distinct().collect()}
    train_patients = {r[GROUP] for r in train.select(GROUP).distinct().collect()}
    split = {
        "train_frames": n_train,
        "test_frames": n_test,
        "train_patients": len(train_patients),
        "test_patients": len(test_patients),
        "patients_in_both": len(test_patients & train_patients),
    }

    model_id = uuid.uuid4().hex
    fingerprint = training_fingerprint(frames)
    model.write().overwrite().save(layout.model_pipeline(model_dir))
    sidecar = {
        "model_id": model_id,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "classifier": ms.classifier,
        "classes": classes,
        "feature_columns": columns,
        "scores_column": scores_col,
        "config": ms.model_dump(),
        "config_sha256": settings.fingerprint(),
        "training_data": {**fingerprint, **split},
        "metrics": {"model": result, "majority_baseline": baseline},
    }
    write_text(layout.model_sidecar(model_dir), json.dumps(sidecar, indent=2, default=str) + "\n")
    evaluation = {
        "model_id": model_id,
        "split": split,
        "model": result,
        "majority_baseline": baseline,
    }
    write_text(layout.metrics(out_uri), json.dumps(evaluation, indent=2, default=str) + "\n")
    train.unpersist()
    test.unpersist()
    table = metrics_table(result, baseline)
    log.info("trained %s on %d frames, held out %d", ms.classifier, n_train, n_test)
    return TrainResult(model_id, {**result, "split": split}, baseline, table, model_dir, model)


def _importances(stage, columns: list[str]) -> dict[str, float]:
    """Feature importances (trees) or mean absolute scaled coefficients (linear models)."""
    values = None
    if hasattr(stage, "featureImportances"):
        values = stage.featureImportances.toArray()
    elif hasattr(stage, "coefficientMatrix"):
        values = np.abs(stage.coefficientMatrix.toArray()).mean(axis=0)
    elif hasattr(stage, "coefficients"):
        values = np.abs(stage.coefficients.toArray())
    if values is None:
        return {}
    ranked = sorted(zip(columns, values.tolist(), strict=True), key=lambda kv: -kv[1])
    return {name: float(value) for name, value in ranked}


def load_model(model_dir: str) -> tuple[PipelineModel, dict[str, Any]]:
    """A saved pipeline and its sidecar."""
    sidecar = read_sidecar(model_dir)
    return PipelineModel.load(layout.model_pipeline(model_dir)), sidecar


def read_sidecar(model_dir: str) -> dict[str, Any]:
    """The description saved beside any medspark model (Spark ML pipeline or network)."""
    path = local_path(layout.model_sidecar(model_dir))
    if path is None:
        raise UsageError(f"models are read from local or mounted paths, not {model_dir}")
    if not Path(path).is_file():
        raise UsageError(f"{model_dir} holds no medspark model ({Path(path).name} is missing)")
    return json.loads(Path(path).read_text())


def _scored(features: DataFrame, model_dir: str, sidecar: dict[str, Any]) -> DataFrame:
    """Frames with `class_scores` (array<double>, class order) and `predicted_label`."""
    classes = sidecar["classes"]
    if sidecar.get("kind") == "cnn":
        from medspark.spark.learning.network_scoring import network_inputs, network_scores

        frames = features.filter(F.col("tensor_npz").isNotNull()).withColumn(
            "_input", network_inputs(int(sidecar["input_size"]))("tensor_npz")
        )
        scores = network_scores(frames, model_dir, sidecar).cast("array<double>")
        scored = frames.withColumn("class_scores", scores)
        best = F.array_position(F.col("class_scores"), F.array_max("class_scores"))
        names = F.array(*[F.lit(c) for c in classes])
        return scored.withColumn("predicted_label", F.element_at(names, best.cast("int")))
    model = PipelineModel.load(layout.model_pipeline(model_dir))
    scores = vector_to_array(F.col(sidecar.get("scores_column", "probability")))
    return model.transform(features).withColumn("class_scores", scores)


def probability_column(label: str) -> str:
    """The predictions column holding one class's probability: `probability_<class>`, the
    class name lower-cased with anything but letters, digits and _ as _."""
    return "probability_" + re.sub(r"[^0-9a-z_]", "_", str(label).strip().lower())


def _with_class_probabilities(rows: DataFrame, classes: list[str]) -> DataFrame:
    names = [probability_column(c) for c in classes]
    if len(set(names)) != len(names):
        raise DataError(
            f"class names {classes} give the same column names {names}",
            hint="use labels that differ in more than case or punctuation",
        )
    return rows.select("*", *[F.col("class_scores")[k].alias(name) for k, name in enumerate(names)])


def predict(run: Run, model_dir: str, aggregate: tuple[str, ...] = ()) -> dict[str, int]:
    """OUT/predictions (per frame) and, when asked, per study and per patient: the predicted
    class, its `confidence`, and one `probability_<class>` column per class; identifier
    columns encrypted as the profile says."""
    spark, out_uri, encryption = run.spark, run.out_uri, run.settings.deid.encryption
    sidecar = read_sidecar(model_dir)
    classes = sidecar["classes"]
    scored = _scored(read_table(spark, out_uri, FEATURES), model_dir, sidecar)
    predictions = scored.select(
        "sop_instance_uid",
        "frame",
        "series_instance_uid",
        "study_instance_uid",
        "patient_id",
        F.col("predicted_label").alias("prediction"),
        F.array_max("class_scores").alias("confidence"),
        "class_scores",
        F.lit(sidecar["model_id"]).alias("model_id"),
    )
    write_table(_with_class_probabilities(predictions, classes), out_uri, PREDICTIONS, encryption)
    frame_scores = read_table(spark, out_uri, PREDICTIONS)
    written = {PREDICTIONS.name: frame_scores.count()}
    for level in aggregate:
        spec = PREDICTION_LEVELS[level]
        column = spec.key[0]
        mean = frame_scores.groupBy(column).agg(
            *[F.avg(F.col("class_scores")[k]).alias(f"_s{k}") for k in range(len(classes))],
            F.count("*").alias("frames"),
        )
        best = F.greatest(*[F.col(f"_s{k}") for k in range(len(classes))])
        label = F.coalesce(
            *[F.when(F.col(f"_s{k}") == best, F.lit(c)) for k, c in enumerate(classes)]
        )
        table = mean.select(
            column,
            "frames",
            label.alias("prediction"),
            best.alias("confidence"),
            F.array(*[F.col(f"_s{k}") for k in range(len(classes))]).alias("class_scores"),
            F.lit(sidecar["model_id"]).alias("model_id"),
        )
        write_table(_with_class_probabilities(table, classes), out_uri, spec, encryption)
        written[spec.name] = table.count()
    return written
