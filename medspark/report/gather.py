"""What the run report shows, read from an output root with Spark: counts, samples, metrics."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from medspark import layout
from medspark.radiomics.catalogue import FAMILIES
from medspark.schemas import (
    AUDIT,
    FEATURES,
    METADATA,
    PREDICTIONS,
    PREDICTIONS_PATIENT,
    PREDICTIONS_STUDY,
    QUARANTINE,
    ROI_FEATURES,
    VOLUMES,
    TableSpec,
)
from medspark.spark.output.current import TABLES, read_current
from medspark.spark.output.filesystem import path_exists
from medspark.spark.output.tables import read_table
from medspark.spark.records.extraction import pixel_text_counts
from medspark.storage import open_uri

log = logging.getLogger("medspark.report")

DISTRIBUTION_FEATURES = (
    "fo_mean",
    "fo_entropy",
    "glcm_contrast",
    "shape_foreground_fraction",
    "edge_density",
)
OPTIONAL_TABLES = (PREDICTIONS, PREDICTIONS_STUDY, PREDICTIONS_PATIENT)


@dataclass(frozen=True)
class Thumbnail:
    """One de-identified thumbnail and what the page prints under it."""

    png: bytes
    modality: str
    window: str
    frame: int
    instance: str


@dataclass(frozen=True)
class RedactedFrame:
    """A frame whose burned-in text was redacted: its (redacted) thumbnail, the boxes filled in
    stored-pixel coordinates and the frame's size, to outline them on the thumbnail."""

    png: bytes
    boxes: list[list[int]]
    rows: int
    columns: int
    modality: str
    frame: int
    instance: str


@dataclass
class ReportData:
    """Everything the page needs, already reduced to driver-sized pieces."""

    out_uri: str
    inputs: dict[str, Any] = field(default_factory=dict)
    table_rows: dict[str, int] = field(default_factory=dict)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    stage_times: list[dict[str, Any]] = field(default_factory=list)
    thumbnails: list[Thumbnail] = field(default_factory=list)
    distributions: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    distribution_grouping: str = "modality"
    evaluation: dict[str, Any] | None = None
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)  # by kind of model
    refused_models: dict[str, dict[str, Any]] = field(default_factory=dict)  # learned nothing
    volumes: list[dict[str, Any]] = field(default_factory=list)
    volume_statuses: dict[str, int] = field(default_factory=dict)
    pixel_text: dict[str, int] = field(default_factory=dict)
    redacted_frames: list[RedactedFrame] = field(default_factory=list)
    regions: list[dict[str, Any]] = field(default_factory=list)
    region_sources: dict[str, int] = field(default_factory=dict)
    region_families: list[dict[str, Any]] = field(default_factory=list)


def _table(spark: SparkSession, out_uri: str, spec: TableSpec) -> DataFrame | None:
    """A table as it stands; for an incremental (`medspark etl`) output, its current rows."""
    if not path_exists(spark, layout.table(out_uri, spec)):
        return None
    if spec in TABLES and path_exists(spark, layout.etl_state(out_uri)):
        return read_current(spark, out_uri, spec)
    return read_table(spark, out_uri, spec)


def _inputs(metadata: DataFrame | None, quarantine: DataFrame | None) -> dict[str, Any]:
    """Files and bytes that went in, and what the readable ones describe."""
    files, total_bytes = 0, 0
    if quarantine is not None:
        row = (
            quarantine.filter(F.col("stage") != "decode")
            .agg(F.count("*").alias("n"), F.sum("file_size").alias("bytes"))
            .collect()[0]
        )
        files, total_bytes = int(row["n"]), int(row["bytes"] or 0)
    summary: dict[str, Any] = {"modalities": {}}
    if metadata is not None:
        row = metadata.agg(
            F.count("*").alias("n"),
            F.sum("file_size").alias("bytes"),
            F.countDistinct("study_instance_uid").alias("studies"),
            F.countDistinct("series_instance_uid").alias("series"),
            F.countDistinct("patient_id").alias("patients"),
            F.min(F.coalesce("study_date", "series_date", "content_date")).alias("first"),
            F.max(F.coalesce("study_date", "series_date", "content_date")).alias("last"),
        ).collect()[0]
        files += int(row["n"])
        total_bytes += int(row["bytes"] or 0)
        summary.update(
            studies=int(row["studies"]),
            series=int(row["series"]),
            patients=int(row["patients"]),
            first_date=row["first"],
            last_date=row["last"],
        )
        summary["modalities"] = {
            (r["modality"] or "unknown"): int(r["count"])
            for r in metadata.groupBy("modality").count().orderBy(F.desc("count")).collect()
        }
    summary.update(files=files, bytes=total_bytes)
    return summary


def _quarantine(quarantine: DataFrame, examples: int, show_paths: bool) -> list[dict[str, Any]]:
    """Counts by stage and reason, with a few example file keys each."""
    key = F.col("path") if show_paths else F.substring(F.coalesce("sha256", F.lit("-")), 1, 16)
    counts = (
        quarantine.groupBy("stage", "reason")
        .agg(F.count("*").alias("count"), F.min("detail").alias("detail"))
        .withColumn("detail", F.col("detail") if show_paths else F.lit(None).cast("string"))
        .orderBy(F.desc("count"), "stage", "reason")
        .collect()
    )
    picked = (
        quarantine.select("stage", "reason", key.alias("key"))
        .withColumn(
            "_rank", F.row_number().over(Window.partitionBy("stage", "reason").orderBy("key"))
        )
        .filter(F.col("_rank") <= examples)
        .collect()
    )
    keys: dict[tuple[str, str], list[str]] = {}
    for row in sorted(picked, key=lambda r: r["_rank"]):
        keys.setdefault((row["stage"], row["reason"]), []).append(row["key"])
    return [
        {**row.asDict(), "examples": keys.get((row["stage"], row["reason"]), [])} for row in counts
    ]


def _stage_times(spark: SparkSession, out_uri: str) -> list[dict[str, Any]]:
    """Seconds per stage of the newest run of each job, from the run summaries."""
    audit = _table(spark, out_uri, AUDIT)
    if audit is None:
        return []
    newest = (
        audit.groupBy("job").agg(F.max(F.struct("started_at", "run_id")).alias("newest"))
    ).collect()
    times = []
    for row in sorted(newest, key=lambda r: r["newest"]["started_at"]):
        run_id = row["newest"]["run_id"]
        try:
            with open_uri(layout.run_summary(out_uri, run_id)) as stream:
                summary = json.loads(stream.read())
        except (OSError, ValueError):
            log.warning("run summary %s is missing or unreadable; its stages are left out", run_id)
            continue
        for stage, values in summary.get("stages", {}).items():
            times.append(
                {"job": row["job"], "run_id": run_id, "stage": stage, "seconds": values["seconds"]}
            )
    return times


def _thumbnails(features: DataFrame, limit: int) -> list[Thumbnail]:
    """Up to `limit` thumbnails, spread over modalities, in a stable order."""
    with_png = features.filter(F.col("thumbnail_png").isNotNull())
    modalities = [r["modality"] for r in with_png.select("modality").distinct().collect()]
    per_modality = max(1, limit // max(1, len(modalities)))
    ranked = with_png.withColumn(
        "_rank",
        F.row_number().over(
            Window.partitionBy("modality").orderBy(F.xxhash64("sop_instance_uid", "frame"))
        ),
    ).filter(F.col("_rank") <= per_modality)
    rows = (
        ranked.select("thumbnail_png", "modality", "window", "frame", "sop_instance_uid")
        .orderBy("modality", "_rank")
        .limit(limit)
        .collect()
    )
    return [
        Thumbnail(
            bytes(r["thumbnail_png"]),
            r["modality"] or "unknown",
            r["window"] or "",
            int(r["frame"]),
            (r["sop_instance_uid"] or "")[-12:],
        )
        for r in rows
    ]


def _volumes(volumes: DataFrame, limit: int) -> list[dict[str, Any]]:
    """The largest built volumes, with their geometry and the four PNG views."""
    columns = (
        "series_instance_uid", "modality", "dimensions", "spacing_mm", "missing_slices",
        "intensity_unit", "region_volume_mm3", "problems", "axial_png", "coronal_png",
        "sagittal_png", "mip_png",
    )  # fmt: skip
    rows = (
        volumes.filter(F.col("status") == "built")
        .orderBy(F.desc("n_slices"), "series_instance_uid")
        .select(*columns)
        .limit(limit)
        .collect()
    )
    return [{**row.asDict(), "series": (row["series_instance_uid"] or "")[-12:]} for row in rows]


def _regions(roi: DataFrame, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The largest regions with their outline pictures, and per family: how many features were
    computed and the median over regions of its first feature (3D, merged where it applies)."""
    whole = roi.filter(F.col("aggregation") == "3d")
    rows = (
        whole.orderBy(F.desc("voxel_count"), "series_instance_uid", "roi_number")
        .select(
            "roi_source", "roi_label", "series_instance_uid", "voxel_count", "volume_mm3",
            "grey_levels", "overlay_png",
        )
        .limit(limit)
        .collect()
    )  # fmt: skip
    regions = [{**row.asDict(), "series": (row["series_instance_uid"] or "")[-12:]} for row in rows]
    merged = roi.filter(F.col("aggregation") == "3d_merged")
    summary = []
    for family in FAMILIES:
        table = merged if family.textural else whole
        first = family.columns[0]
        stats = table.agg(
            F.count(F.col(first)).alias("regions"),
            F.percentile_approx(F.col(first), 0.5).alias("median"),
        ).collect()[0]
        summary.append(
            {
                "title": family.title,
                "prefix": family.prefix,
                "features": len(family.features),
                "regions": int(stats["regions"]),
                "headline": family.features[0].title,
                "median": stats["median"],
            }
        )
    return regions, summary


def _pixel_text(features: DataFrame, quarantine: DataFrame | None) -> dict[str, int]:
    """Frames examined for burned-in text, with text, redacted; images held back unchecked."""
    held = (
        quarantine.filter(F.col("reason") == "burned_in_text_unchecked").count()
        if quarantine is not None
        else 0
    )
    return {**pixel_text_counts(features), "held_back": held}


def _redacted_frames(
    features: DataFrame, metadata: DataFrame | None, limit: int
) -> list[RedactedFrame]:
    """Up to `limit` redacted frames that have a thumbnail, with the boxes filled in them."""
    if metadata is None:
        return []
    redacted = features.filter(
        (F.col("pixel_phi_boxes") > 0) & F.col("thumbnail_png").isNotNull()
    ).select("sop_instance_uid", "frame", "modality", "thumbnail_png", "pixel_redactions")
    sizes = metadata.select("sop_instance_uid", "rows", "columns").dropDuplicates(
        ["sop_instance_uid"]
    )
    rows = (
        redacted.join(sizes, "sop_instance_uid")
        .orderBy(F.xxhash64("sop_instance_uid", "frame"))
        .limit(limit)
        .collect()
    )
    return [
        RedactedFrame(
            bytes(r["thumbnail_png"]),
            [list(box) for box in r["pixel_redactions"] or []],
            int(r["rows"] or 0),
            int(r["columns"] or 0),
            r["modality"] or "unknown",
            int(r["frame"]),
            (r["sop_instance_uid"] or "")[-12:],
        )
        for r in rows
    ]


def _distributions(
    features: DataFrame, group: str, per_group: int
) -> dict[str, dict[str, list[float]]]:
    """A bounded sample of the main features' values, by group."""
    columns = [c for c in DISTRIBUTION_FEATURES if c in features.columns]
    sampled = (
        features.select(F.coalesce(F.col(group), F.lit("unknown")).alias("_group"), *columns)
        .withColumn(
            "_rank", F.row_number().over(Window.partitionBy("_group").orderBy(F.rand(seed=7)))
        )
        .filter(F.col("_rank") <= per_group)
        .collect()
    )
    result: dict[str, dict[str, list[float]]] = {c: {} for c in columns}
    for row in sampled:
        for column in columns:
            value = row[column]
            if value is not None:
                result[column].setdefault(str(row["_group"]), []).append(float(value))
    return result


def gather(
    spark: SparkSession,
    out_uri: str,
    *,
    thumbnails: int = 24,
    redactions: int = 12,
    examples: int = 3,
    per_group: int = 5000,
    show_paths: bool = False,
) -> ReportData:
    """Read OUT's tables, run summaries and evaluation into a ReportData."""
    data = ReportData(out_uri)
    metadata = _table(spark, out_uri, METADATA)
    quarantine = _table(spark, out_uri, QUARANTINE)
    features = _table(spark, out_uri, FEATURES)
    data.inputs = _inputs(metadata, quarantine)
    for name, table in (("metadata", metadata), ("quarantine", quarantine), ("features", features)):
        if table is not None:
            data.table_rows[name] = table.count()
    for spec in OPTIONAL_TABLES:
        if path_exists(spark, layout.table(out_uri, spec)):
            data.table_rows[spec.name] = read_table(spark, out_uri, spec).count()
    if quarantine is not None:
        data.quarantine = _quarantine(quarantine, examples, show_paths)
    data.stage_times = _stage_times(spark, out_uri)
    if features is not None:
        data.pixel_text = _pixel_text(features, quarantine)
        data.redacted_frames = _redacted_frames(features, metadata, redactions)
        data.thumbnails = _thumbnails(features, thumbnails)
        grouped = features
        if "predictions" in data.table_rows:
            predictions = read_table(spark, out_uri, PREDICTIONS).select(
                "sop_instance_uid", "frame", F.col("prediction").alias("predicted_class")
            )
            grouped = features.join(predictions, ["sop_instance_uid", "frame"], "left")
            data.distribution_grouping = "predicted_class"
        data.distributions = _distributions(grouped, data.distribution_grouping, per_group)
    volumes = _table(spark, out_uri, VOLUMES)
    if volumes is not None:
        data.table_rows["volumes"] = volumes.count()
        data.volume_statuses = {
            r["status"]: int(r["count"]) for r in volumes.groupBy("status").count().collect()
        }
        data.volumes = _volumes(volumes, limit=6)
    roi = _table(spark, out_uri, ROI_FEATURES)
    if roi is not None:
        data.table_rows["roi_features"] = roi.count()
        if "image_filter" in roi.columns:
            roi = roi.filter(F.col("image_filter").isNull())
        data.region_sources = {
            r["roi_source"]: int(r["count"])
            for r in roi.filter(F.col("aggregation") == "3d")
            .groupBy("roi_source")
            .count()
            .collect()
        }
        data.regions, data.region_families = _regions(roi, limit=8)
    for kind in ("mllib", "cnn"):
        metrics_uri = layout.metrics(out_uri, kind)
        if path_exists(spark, metrics_uri):
            with open_uri(metrics_uri) as stream:
                record = json.loads(stream.read())
            (data.refused_models if "refused" in record else data.evaluations)[kind] = record
    data.evaluation = data.evaluations.get("mllib") or data.evaluations.get("cnn")
    return data
