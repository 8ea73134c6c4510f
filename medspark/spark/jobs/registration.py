"""`medspark register`: align two stored series or instances on the driver; write the result."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from medspark import layout
from medspark.config import Settings
from medspark.errors import UsageError
from medspark.schemas import METADATA
from medspark.spark.output.tables import read_table
from medspark.spark.records.pixel_clearance import usable_pixels, with_pixel_clearance
from medspark.spark.run import Run
from medspark.storage import write_bytes, write_text
from medspark.volume.build import Volume
from medspark.volume.registration import fusion_png, register_images, register_volumes, warp
from medspark.volume.series import INPUT_COLUMNS, VolumeOptions, load_series


class UnknownImageError(UsageError):
    """The UID names no series or instance with pixel data in OUT/metadata."""


@dataclass(frozen=True)
class RegistrationResult:
    """What was aligned, the transform found, and where it was written."""

    kind: str
    transform: dict[str, Any]
    json_uri: str
    fusion_uri: str

    def describe(self) -> str:
        t = self.transform
        return (
            f"registered {self.kind}: rotation {t['angle_degrees']:.2f} deg, shift "
            f"{t['shift_rows']:.2f} rows {t['shift_columns']:.2f} columns"
            + (
                f", {t['shift_along_normal_mm']:.2f} mm along the normal"
                if "shift_along_normal_mm" in t
                else ""
            )
            + f"; correlation {t['similarity_before']:.3f} -> {t['similarity_after']:.3f}\n"
            f"transform: {self.json_uri}\nfusion: {self.fusion_uri}"
        )


def _volume(spark: SparkSession, settings: Settings, out_uri: str, uid: str, key) -> Volume:
    everything = with_pixel_clearance(
        spark, settings, out_uri, read_table(spark, out_uri, METADATA)
    )
    metadata = everything.filter(F.col("has_pixel_data") & usable_pixels(settings))
    for column in ("series_instance_uid", "sop_instance_uid"):
        rows = [
            r.asDict()
            for r in metadata.filter(F.col(column) == uid).select(*INPUT_COLUMNS).collect()
        ]
        if rows:
            options = VolumeOptions(
                "register", settings.volumes, settings.ingest.archive_limits(), key
            )
            return load_series(rows, options)
    raise UnknownImageError(f"no series or instance with pixel data has the UID {uid}")


def run_registration(run: Run, fixed_uid: str, moving_uid: str) -> RegistrationResult:
    """Rigidly align MOVING to FIXED; write OUT/registrations/<id>.json and <id>.png."""
    spark, settings, out_uri, key = run.spark, run.settings, run.out_uri, run.key
    fixed = _volume(spark, settings, out_uri, fixed_uid, key)
    moving = _volume(spark, settings, out_uri, moving_uid, key)
    if fixed.values.shape[0] > 1 and moving.values.shape[0] > 1:
        found = register_volumes(fixed, moving)
        kind = "volumes"
        transform = {
            **dataclasses.asdict(found.in_plane),
            "shift_along_normal_mm": found.shift_slices_mm,
            "in_plane_on": "axial maximum-intensity projections",
        }
        fixed_image, moving_image = fixed.values.max(axis=0), moving.values.max(axis=0)
        in_plane = found.in_plane
    else:
        fixed_image = fixed.values[fixed.values.shape[0] // 2]
        moving_image = moving.values[moving.values.shape[0] // 2]
        in_plane = register_images(fixed_image, moving_image)
        kind = "images"
        transform = dataclasses.asdict(in_plane)
    if moving_image.shape != fixed_image.shape:
        import cv2

        moving_image = cv2.resize(moving_image, (fixed_image.shape[1], fixed_image.shape[0]))
    aligned = warp(moving_image, np.asarray(in_plane.matrix), fixed_image.shape)
    name = hashlib.sha256(f"{fixed_uid}|{moving_uid}".encode()).hexdigest()[:16]
    base = layout.registration(out_uri, name)
    document = {
        "fixed": fixed_uid,
        "moving": moving_uid,
        "kind": kind,
        "method": "phase correlation start, OpenCV ECC (Euclidean), coarse to fine",
        "transform": transform,
    }
    write_text(base + ".json", json.dumps(document, indent=2) + "\n")
    write_bytes(base + ".png", fusion_png(fixed_image, aligned))
    return RegistrationResult(kind, transform, base + ".json", base + ".png")
