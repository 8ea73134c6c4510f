"""From stored pixel values to physical units (Modality LUT) and to a display image (VOI LUT)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_voi_lut

from medspark.dicom.functional_groups import functional_item
from medspark.dicom.reasons import Reason, Rejection, Stage

# Common CT windows in Hounsfield units, as (center, width).
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "soft_tissue": (40.0, 400.0),
    "abdomen": (60.0, 400.0),
    "liver": (60.0, 160.0),
    "brain": (40.0, 80.0),
    "bone": (400.0, 1800.0),
}
FLOAT32_MAX = float(np.finfo(np.float32).max)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Intensities:
    """A frame in physical units (`values`), its display rendering in [0, 1], and how."""

    values: np.ndarray
    display: np.ndarray
    unit: str
    window: str


def _first(value) -> float | None:
    """The first of a possibly multi-valued DS, as a float; None when absent or invalid."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def rescale(dataset: Dataset, frame_index: int) -> tuple[float, float, str | None]:
    """(slope, intercept, rescale type) for a frame, from the top level or functional groups."""
    source: Dataset | None = dataset if "RescaleSlope" in dataset else None
    if source is None:
        source = functional_item(dataset, frame_index, "PixelValueTransformationSequence")
    if source is None:
        return 1.0, 0.0, None
    slope = _first(source.get("RescaleSlope")) or 1.0
    intercept = _first(source.get("RescaleIntercept")) or 0.0
    if not (math.isfinite(slope) and math.isfinite(intercept)):
        raise Rejection(
            Stage.DECODE,
            Reason.INVALID_PIXEL_ATTRIBUTE,
            "Rescale Slope or Rescale Intercept is not a finite number.",
        )
    kind = str(source.get("RescaleType", "") or "") or None
    return slope, intercept, kind


def physical(grey: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Stored values through the Modality LUT, as float32 (in place on a float32 `grey`);
    rejected when the slope or intercept carries them past float32's range."""
    values = grey.astype(np.float32, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        values *= np.float32(slope) if abs(slope) <= FLOAT32_MAX else np.float32(np.inf)
        values += np.float32(intercept) if abs(intercept) <= FLOAT32_MAX else np.float32(np.inf)
    if not np.isfinite(values).all():
        raise Rejection(
            Stage.DECODE,
            Reason.INVALID_PIXEL_ATTRIBUTE,
            "Rescale Slope or Rescale Intercept carries the pixel values past the 32-bit float "
            "range.",
        )
    return values


def window(dataset: Dataset, frame_index: int) -> tuple[float, float] | None:
    """(center, width) from the header or the frame's VOI functional group, if any."""
    source: Dataset | None = dataset if "WindowCenter" in dataset else None
    if source is None:
        source = functional_item(dataset, frame_index, "FrameVOILUTSequence")
    if source is None:
        return None
    center, width = _first(source.get("WindowCenter")), _first(source.get("WindowWidth"))
    if center is None or width is None or not math.isfinite(center) or not width >= 1:
        return None
    if not math.isfinite(width):
        return None
    return center, width


def to_grey(frame: np.ndarray, dataset: Dataset) -> np.ndarray:
    """One grey channel: palette colour is looked up, RGB weighted by ITU-R BT.601 luma."""
    photometric = str(dataset.get("PhotometricInterpretation", "") or "")
    if photometric == "PALETTE COLOR":
        frame = apply_color_lut(frame, dataset)
    if frame.ndim == 3 and frame.shape[-1] in (3, 4):
        return frame[..., :3].astype(np.float32) @ _LUMA
    return frame.astype(np.float32)


def linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 linear VOI function, scaled to [0, 1]."""
    low = center - 0.5 - (width - 1) / 2
    scaled = np.subtract(values, center - 0.5, dtype=np.float32)
    scaled /= np.float32(max(width - 1, 1e-6))
    scaled += np.float32(0.5)
    np.clip(scaled, 0.0, 1.0, out=scaled)
    scaled[values <= low] = 0.0
    return scaled


def _auto_window(values: np.ndarray) -> np.ndarray:
    low, high = np.percentile(values, [0.5, 99.5]) if values.size else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    return np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)


def intensities(
    frame: np.ndarray,
    dataset: Dataset,
    frame_index: int,
    setting: str | Sequence[float],
) -> Intensities:
    """Modality LUT to physical units, then the configured window for display.

    `setting` is "header" (the file's window, else its VOI LUT, else automatic), "none"
    (automatic 0.5-99.5 percentile scaling), a preset name, or [center, width].
    MONOCHROME1 images are inverted in the display rendering only.
    """
    grey = to_grey(frame, dataset)
    is_colour = grey.ndim == 2 and frame.ndim == 3
    slope, intercept, kind = (1.0, 0.0, None) if is_colour else rescale(dataset, frame_index)
    values = physical(grey, slope, intercept)  # grey is a fresh float32 array: scaled in place
    modality = str(dataset.get("Modality", "") or "")
    unit = kind or ("HU" if modality == "CT" and (slope, intercept) != (1.0, 0.0) else "stored")

    description = "auto"
    display: np.ndarray | None = None
    if isinstance(setting, list | tuple):
        center, width = float(setting[0]), float(setting[1])
        display, description = linear_window(values, center, width), f"explicit {center}/{width}"
    elif setting in WINDOW_PRESETS:
        center, width = WINDOW_PRESETS[setting]
        display, description = linear_window(values, center, width), f"preset {setting}"
    elif setting == "header":
        found = window(dataset, frame_index)
        if found is not None:
            display = linear_window(values, *found)
            description = f"header {found[0]:g}/{found[1]:g}"
        elif "VOILUTSequence" in dataset and not is_colour:
            lut = apply_voi_lut(frame, dataset, prefer_lut=True).astype(np.float32)
            display, description = _auto_window(lut), "header VOI LUT"
    if display is None:
        display = _auto_window(values)
    if str(dataset.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        display = 1.0 - display
    return Intensities(values, display, unit, description)
