"""The settings the per-image core takes: decoding limits, preprocessing and which features."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from medspark.imaging.intensity import WINDOW_PRESETS
from medspark.imaging.preprocess import Step
from medspark.options import StrictOptions


class FeatureSettings(StrictOptions):
    """How images are decoded, preprocessed and described."""

    files_per_task: int = Field(200, ge=1)
    max_decoded_frame_mb: int = Field(256, ge=1, description="larger frames are not decoded")
    max_decoded_instance_mb: int = Field(
        4096, ge=1, description="instances whose frames decode to more are not decoded"
    )
    frames: Literal["all", "first", "middle"] = "all"
    max_frames: int = Field(0, ge=0, description="0: no limit; else an evenly spaced subset")
    window: str | tuple[float, float] = "header"
    preprocess: list[Step] = Field(default_factory=list)
    mask: Literal["otsu", "whole"] = "otsu"
    bins: int = Field(32, ge=2, le=4096)
    bin_width: float | None = Field(
        None, gt=0, description="fixed bin width in the values' units; overrides bins"
    )
    bin_lower_bound: float = Field(
        -1000.0, description="where bin 1 of a fixed bin width starts, the same in every image"
    )
    glcm_distance: int = Field(1, ge=1)
    texture: bool = True
    keypoints: bool = True
    watershed: bool = False
    thumbnail: bool = True
    thumbnail_size: int = Field(128, ge=16)
    tensor: bool = False

    @field_validator("window")
    @classmethod
    def _known_window(cls, value: str | tuple[float, float]) -> str | tuple[float, float]:
        if isinstance(value, str) and value not in ("header", "none", *WINDOW_PRESETS):
            raise ValueError(
                f"window must be header, none, [center, width] or one of {sorted(WINDOW_PRESETS)}"
            )
        return value
