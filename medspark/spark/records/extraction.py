"""Feature extraction over metadata rows, as Arrow batches in the workers: shared by the features
job, etl, and the jobs that reopen images (export, volumes, radiomics, registration)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyspark import Accumulator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.pixels import DecodeLimits
from medspark.dicom.reasons import Stage
from medspark.dicom.sources import HASHED_PREFIX
from medspark.errors import ConfigurationError
from medspark.imaging.extract import FeatureOptions, extract_instance
from medspark.imaging.single_pass import PixelHandling, pixel_handling
from medspark.schemas import FEATURE_RECORDS
from medspark.spark.records.arrow_map import internal_error, record_batches

_INPUT_COLUMNS = (
    "path",
    "path_token",
    "file_size",
    "sha256",
    "sop_instance_uid",
    "series_instance_uid",
    "study_instance_uid",
    "patient_id",
    "modality",
    "transfer_syntax_uid",
)


class HashedPathsError(ConfigurationError):
    """The metadata table's paths are keyed hashes, so the files cannot be opened again."""


def feature_options(
    settings: Settings, run_id: str, key: PseudonymKey | None = None
) -> FeatureOptions:
    return FeatureOptions(
        run_id=run_id,
        settings=settings.features,
        archive_limits=settings.ingest.archive_limits(),
        key=key,
        examine_max_frames=settings.deid.examine_max_frames,
        text_confidence=settings.deid.text_confidence,
        decode_limits=DecodeLimits(
            settings.features.max_decoded_frame_mb << 20,
            settings.features.max_decoded_instance_mb << 20,
        ),
    )


def _extract_partition(
    options: FeatureOptions, pixels: str, examine_pixels: str, progress: Accumulator | None = None
):
    def extract(row: dict) -> Iterator[dict]:
        handling = pixel_handling(row["burned_in_risk"], pixels, examine_pixels)
        examine = handling is PixelHandling.EXAMINE
        return extract_instance({**row, "examine_pixels": examine}, options)

    return record_batches(
        extract,
        FEATURE_RECORDS,
        lambda row, exc: internal_error(row, exc, options.run_id, Stage.DECODE),
        progress,
    )


@dataclass(frozen=True)
class FeatureWork:
    """What the features stage decodes: the image rows, how many, the instances it skips
    ({non_image, held_back}), and the `mapInArrow` function taking rows to FEATURE_RECORDS."""

    images: DataFrame
    count: int
    skipped: dict[str, int]
    extract: Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


def feature_work(
    settings: Settings,
    metadata: DataFrame,
    run_id: str,
    key: PseudonymKey | None = None,
    progress: Accumulator | None = None,
) -> FeatureWork:
    """The images of metadata rows to decode, and how. Images that may carry burned-in
    annotation are examined for text and redacted (deid.pixels: detect_and_redact), or held
    back (hold_back)."""
    if key is None and metadata.filter(F.col("path").startswith(HASHED_PREFIX)).limit(1).count():
        raise HashedPathsError(
            "metadata paths are keyed hashes (deid.hash_paths: true): the pseudonym key is "
            "needed to unseal them and open the images again"
        )
    image_count, non_image = image_kinds(metadata, settings)
    images = metadata.filter(F.col("has_pixel_data") & ~_held_unexamined(settings)).select(
        *_INPUT_COLUMNS, "burned_in_risk"
    )
    extract = _extract_partition(
        feature_options(settings, run_id, key),
        settings.deid.pixels,
        settings.deid.examine_pixels,
        progress,
    )
    return FeatureWork(images, image_count, non_image, extract)


def image_kinds(metadata: DataFrame, settings: Settings) -> tuple[int, dict[str, int]]:
    """(images the features stage decodes, {non_image, held_back} counts) of metadata rows."""
    held = _held_unexamined(settings)
    kind = F.when(~F.col("has_pixel_data"), "non_image").when(held, "held_back").otherwise("image")
    counts = {
        r["kind"]: int(r["count"]) for r in metadata.groupBy(kind.alias("kind")).count().collect()
    }
    skipped = {"non_image": counts.get("non_image", 0), "held_back": counts.get("held_back", 0)}
    return counts.get("image", 0), skipped


def _held_unexamined(settings: Settings) -> Column:
    """True for images deid.pixels: hold_back keeps from the features stage (`PixelHandling`)."""
    return _at_risk() & F.lit(settings.deid.pixels == "hold_back")


def _at_risk() -> Column:
    return F.coalesce(F.col("burned_in_risk"), F.lit(False))


def held_back(settings: Settings) -> Column:
    """True for images that may carry burned-in text, unless deid.pixels is off; the jobs after
    features still use them once examined (`pixel_clearance.usable_pixels`)."""
    return _at_risk() & F.lit(settings.deid.pixels != "off")


def pixel_text_counts(frames: DataFrame) -> dict[str, int]:
    """Feature rows examined for burned-in text, with text found, and redacted."""
    row = frames.agg(*_text_counts()).collect()[0]
    return {name: int(row[name]) for name in ("examined", "with_text", "redacted")}


def _text_counts() -> tuple[Column, ...]:
    return (
        F.count(F.when(F.col("pixels_examined"), 1)).alias("examined"),
        F.count(F.when(F.col("pixel_text_boxes") > 0, 1)).alias("with_text"),
        F.count(F.when(F.col("pixel_phi_boxes") > 0, 1)).alias("redacted"),
    )
