"""One metadata row to feature rows: decode each selected frame, preprocess, describe.

This is the whole per-image feature stage, with no Spark in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

from medspark.dicom.functional_groups import functional_value
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.pixels import (
    DecodeLimits,
    check_decoded_size,
    frame_count,
    iter_frames,
    read_image_dataset,
    select_frames,
)
from medspark.dicom.reasons import Reason, Rejection, Stage
from medspark.dicom.sources import ArchiveLimits, read_verified
from medspark.imaging.burned_in_text import TEXT_CONFIDENCE, clean_frame, header_values
from medspark.imaging.feature_groups import FrameView, compute_groups
from medspark.imaging.intensity import intensities
from medspark.imaging.options import FeatureSettings
from medspark.imaging.preprocess import Frame, apply_steps, describe
from medspark.imaging.shape import foreground_mask, to_uint8

Record = dict[str, Any]
_IDENTITY_COLUMNS = (
    "sop_instance_uid",
    "series_instance_uid",
    "study_instance_uid",
    "patient_id",
    "modality",
    "sha256",  # not a features column; lets incremental runs tie rows to a file version
)


@dataclass(frozen=True)
class FeatureOptions:
    """What a worker needs to turn metadata rows into feature rows; pickled once per task."""

    run_id: str
    settings: FeatureSettings
    archive_limits: ArchiveLimits
    key: PseudonymKey | None = None  # unseals paths when the metadata holds hashed paths
    decode_limits: DecodeLimits = field(default_factory=DecodeLimits)
    examine_max_frames: int = 16
    text_confidence: float = TEXT_CONFIDENCE


def pixel_spacing(dataset: Dataset, frame_index: int) -> tuple[float, float] | None:
    """(row, column) spacing in mm: Pixel Spacing, the frame's Pixel Measures, or the imager's."""
    candidates = [
        dataset.get("PixelSpacing"),
        functional_value(dataset, frame_index, "PixelMeasuresSequence", "PixelSpacing"),
        dataset.get("ImagerPixelSpacing"),
    ]
    for value in candidates:
        try:
            if value is not None and len(value) == 2 and float(value[0]) > 0 < float(value[1]):
                return float(value[0]), float(value[1])
        except (TypeError, ValueError):
            continue
    return None


def describe_frame(frame: Frame, settings: FeatureSettings) -> Record:
    """Every enabled feature group's values of one preprocessed frame."""
    display8 = to_uint8(frame.display)
    mask = foreground_mask(display8) if settings.mask == "otsu" else None
    mask_name = (
        "otsu"
        if mask is not None
        else ("whole" if settings.mask == "whole" else "whole (no foreground found)")
    )
    region = mask if mask is not None else np.ones(frame.values.shape, dtype=bool)
    view = FrameView(frame.values, display8, mask, region, frame.spacing)
    return {
        "mask": mask_name,
        "height": int(frame.values.shape[0]),
        "width": int(frame.values.shape[1]),
        "pixel_spacing_mm": list(frame.spacing) if frame.spacing else None,
        **compute_groups(view, settings),
    }


def _decode_quarantine(row: Record, rejection: Rejection, frame: int | None) -> Record:
    where = f"frame {frame}: " if frame is not None else ""
    return {
        "path": row["path"],
        "file_size": row.get("file_size"),
        "sha256": row.get("sha256"),
        "stage": str(Stage.DECODE),
        "reason": str(rejection.reason),
        "detail": where + rejection.detail,
        "outcome": "quarantine",
    }


def _examine(
    pixels: np.ndarray, dataset: Dataset, identifying: dict[str, list[str]], confidence: float
) -> tuple[np.ndarray, Record]:
    """The frame with its PHI text boxes filled, and what was found (never the text)."""
    try:
        view = None
        if str(dataset.get("PhotometricInterpretation", "")) == "PALETTE COLOR":
            view = apply_color_lut(pixels, dataset)
        cleaned, judgement = clean_frame(pixels, identifying, view, confidence)
    except Exception as exc:  # a detector failure must never release the frame
        raise Rejection(
            Stage.DECODE,
            Reason.BURNED_IN_TEXT_UNCHECKED,
            f"the text detector failed on a frame ({type(exc).__name__}); the image is held back.",
        ) from None
    return cleaned, {
        "pixels_examined": True,
        "pixel_text_boxes": len(judgement.text),
        "pixel_text_regions": [[*map(float, b.box), round(b.score, 4)] for b in judgement.boxes],
        "pixel_phi_boxes": len(judgement.redact),
        "pixel_phi_kinds": judgement.kinds,
        "pixel_redactions": [list(box) for box in judgement.redact],
    }


def extract_instance(
    row: Record, options: FeatureOptions, data: bytes | None = None
) -> Iterator[Record]:
    """Feature rows for each selected frame of one instance, or a decode quarantine row.

    `data`, when given, are the instance's bytes as the row describes them (already read and
    hashed); otherwise they are read again from the row's path and checked against its SHA-256.
    """
    now = dt.datetime.now(dt.UTC)
    settings = options.settings
    identity = {column: row.get(column) for column in _IDENTITY_COLUMNS}
    current: int | None = None
    examine = bool(row.get("examine_pixels"))
    examined: list[Record] = []
    try:
        if data is None:
            data = read_verified(row, options.key, options.archive_limits)
        dataset = read_image_dataset(data, row.get("transfer_syntax_uid"))
        del data
        check_decoded_size(dataset, options.decode_limits)
        indices = select_frames(frame_count(dataset), settings.frames, settings.max_frames)
        if examine and len(indices) > options.examine_max_frames:
            raise Rejection(
                Stage.DECODE,
                Reason.BURNED_IN_TEXT_UNCHECKED,
                f"{len(indices)} frames to examine for burned-in text, over "
                f"deid.examine_max_frames ({options.examine_max_frames}); the image is held back.",
            )
        steps_json = describe(settings.preprocess)
        identifying = header_values(dataset) if examine else {}
        for index, pixels in iter_frames(dataset, indices):
            current = index + 1
            text: Record = {"pixels_examined": examine}
            if examine:
                pixels, text = _examine(pixels, dataset, identifying, options.text_confidence)
            rendered = intensities(pixels, dataset, index, settings.window)
            frame = apply_steps(
                Frame(rendered.values, rendered.display, pixel_spacing(dataset, index)),
                settings.preprocess,
            )
            record = {
                **identity,
                "frame": current,
                "intensity_unit": rendered.unit,
                "window": rendered.window,
                "preprocessing": steps_json,
                **text,
                **describe_frame(frame, settings),
                "outcome": "features",
                "run_id": options.run_id,
                "processed_at": now,
            }
            if examine:
                examined.append(record)  # released only once every frame is examined
            else:
                yield record
        yield from examined
    except Rejection as rejection:
        failure = rejection
    except Exception as exc:  # a bug or an exotic image ends this instance, not the task
        failure = Rejection(
            Stage.DECODE,
            Reason.INTERNAL_ERROR,
            f"medspark failed on this file ({type(exc).__name__}); please report.",
        )
    else:
        return
    yield {
        **_decode_quarantine(row, failure, current),
        "run_id": options.run_id,
        "processed_at": now,
    }
