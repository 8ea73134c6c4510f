"""Preprocessing steps, configured as an ordered list: pure functions over a frame's arrays.

Geometric steps move `values` (physical units) and `display` ([0, 1]) together and keep the
pixel spacing true; intensity steps change `values` only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Frame:
    """A frame on its way to features: two renderings and the spacing (row, column) in mm."""

    values: np.ndarray
    display: np.ndarray
    spacing: tuple[float, float] | None


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resize(_Step):
    op: Literal["resize"]
    size: int | tuple[int, int] = Field(256, description="longest side, or (rows, columns)")
    keep_aspect: bool = True
    pad: bool = True


class Resample(_Step):
    op: Literal["resample"]
    spacing_mm: float | tuple[float, float] = 1.0


class Crop(_Step):
    op: Literal["crop"]
    box: tuple[int, int, int, int] | None = Field(None, description="top, left, height, width")
    center: tuple[int, int] | None = Field(None, description="height, width around the centre")


class Rotate(_Step):
    op: Literal["rotate"]
    degrees: float


class Flip(_Step):
    op: Literal["flip"]
    axis: Literal["horizontal", "vertical"]


class Normalize(_Step):
    op: Literal["normalize"]
    method: Literal["minmax", "zscore", "percentile"] = "zscore"
    low: float = 1.0
    high: float = 99.0


Step = Annotated[Resize | Resample | Crop | Rotate | Flip | Normalize, Field(discriminator="op")]


def _resize_both(frame: Frame, rows: int, columns: int) -> Frame:
    height, width = frame.values.shape
    shrinking = rows * columns < height * width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    size = (max(columns, 1), max(rows, 1))
    spacing = None
    if frame.spacing is not None:
        spacing = (frame.spacing[0] * height / rows, frame.spacing[1] * width / columns)
    return Frame(
        cv2.resize(frame.values, size, interpolation=interpolation),
        cv2.resize(frame.display, size, interpolation=interpolation),
        spacing,
    )


def resize(frame: Frame, step: Resize) -> Frame:
    height, width = frame.values.shape
    if isinstance(step.size, int):
        target_rows = target_columns = step.size
    else:
        target_rows, target_columns = step.size
    if not step.keep_aspect:
        return _resize_both(frame, target_rows, target_columns)
    scale = min(target_rows / height, target_columns / width)
    rows, columns = max(round(height * scale), 1), max(round(width * scale), 1)
    resized = _resize_both(frame, rows, columns)
    if not step.pad:
        return resized
    top, left = (target_rows - rows) // 2, (target_columns - columns) // 2
    pads = ((top, target_rows - rows - top), (left, target_columns - columns - left))
    background = float(resized.values.min()) if resized.values.size else 0.0
    return replace(
        resized,
        values=np.pad(resized.values, pads, constant_values=background),
        display=np.pad(resized.display, pads, constant_values=0.0),
    )


def resample(frame: Frame, step: Resample) -> Frame:
    if frame.spacing is None:
        return frame  # no spacing in the header: nothing to resample against
    target = step.spacing_mm if isinstance(step.spacing_mm, tuple) else (step.spacing_mm,) * 2
    height, width = frame.values.shape
    rows = max(round(height * frame.spacing[0] / target[0]), 1)
    columns = max(round(width * frame.spacing[1] / target[1]), 1)
    return replace(_resize_both(frame, rows, columns), spacing=(float(target[0]), float(target[1])))


def crop(frame: Frame, step: Crop) -> Frame:
    height, width = frame.values.shape
    if step.box is not None:
        top, left, rows, columns = step.box
    elif step.center is not None:
        rows, columns = min(step.center[0], height), min(step.center[1], width)
        top, left = (height - rows) // 2, (width - columns) // 2
    else:
        return frame
    window = (slice(max(top, 0), top + rows), slice(max(left, 0), left + columns))
    return replace(frame, values=frame.values[window], display=frame.display[window])


def rotate(frame: Frame, step: Rotate) -> Frame:
    quarter_turns = step.degrees / 90.0
    if quarter_turns.is_integer():
        turns = int(quarter_turns) % 4
        spacing = frame.spacing
        if spacing is not None and turns % 2:
            spacing = (spacing[1], spacing[0])
        return Frame(np.rot90(frame.values, turns), np.rot90(frame.display, turns), spacing)
    height, width = frame.values.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), step.degrees, 1.0)
    background = float(frame.values.min()) if frame.values.size else 0.0
    return replace(
        frame,
        values=cv2.warpAffine(frame.values, matrix, (width, height), borderValue=background),
        display=cv2.warpAffine(frame.display, matrix, (width, height), borderValue=0.0),
    )


def flip(frame: Frame, step: Flip) -> Frame:
    axis = 1 if step.axis == "horizontal" else 0
    return replace(frame, values=np.flip(frame.values, axis), display=np.flip(frame.display, axis))


def normalize(frame: Frame, step: Normalize) -> Frame:
    values = frame.values.astype(np.float32)
    if step.method == "minmax":
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    elif step.method == "zscore":
        std = float(values.std())
        scaled = (values - values.mean()) / std if std > 0 else np.zeros_like(values)
    else:
        low, high = np.percentile(values, [step.low, step.high])
        clipped = np.clip(values, low, high)
        scaled = (clipped - low) / (high - low) if high > low else np.zeros_like(values)
    return replace(frame, values=scaled.astype(np.float32))


_APPLY: dict[str, Callable[[Frame, Any], Frame]] = {
    "resize": resize,
    "resample": resample,
    "crop": crop,
    "rotate": rotate,
    "flip": flip,
    "normalize": normalize,
}


def apply_steps(frame: Frame, steps: list[Step]) -> Frame:
    """Apply each configured step in order."""
    for step in steps:
        frame = _APPLY[step.op](frame, step)
    frame = replace(
        frame,
        values=np.ascontiguousarray(frame.values, dtype=np.float32),
        display=np.ascontiguousarray(frame.display, dtype=np.float32),
    )
    return frame


def describe(steps: list[Step]) -> str:
    """The steps as compact JSON, stored with every feature row."""
    import json

    return json.dumps([step.model_dump() for step in steps], separators=(",", ":"))
