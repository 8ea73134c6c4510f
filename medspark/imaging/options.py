"""The settings the per-image core takes: decoding limits, preprocessing and which features."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from medspark.imaging.intensity import WINDOW_PRESETS
from medspark.imaging.preprocess import Step
from medspark.options import StrictOptions


class FeatureSettings(StrictOptions):
    """How images are decoded, preprocessed and described."""

    files_per_task: int = Field(200, ge=1, description="images a task of the features job takes")
    max_decoded_frame_mb: int = Field(256, ge=1, description="larger frames are not decoded")
    max_decoded_instance_mb: int = Field(
        4096, ge=1, description="instances whose frames decode to more are not decoded"
    )
    frames: Literal["all", "first", "middle"] = Field(
        "all", description="which frames of a multi-frame instance are described"
    )
    max_frames: int = Field(0, ge=0, description="0: no limit; else an evenly spaced subset")
    window: str | tuple[float, float] = Field(
        "header", description="header, none, a preset (lung, brain, bone, ...) or [center, width]"
    )
    preprocess: list[Step] = Field(
        default_factory=list, description="ordered steps; geometric ones keep pixel spacing true"
    )
    mask: Literal["otsu", "whole"] = Field(
        "otsu", description="otsu (foreground by Otsu and morphology) or the whole frame"
    )
    bins: int = Field(32, ge=2, le=4096, description="fixed bin number (histogram, GLCM)")
    bin_width: float | None = Field(
        None, gt=0, description="fixed bin width in the values' units; overrides bins"
    )
    bin_lower_bound: float = Field(
        -1000.0, description="where bin 1 of a fixed bin width starts, the same in every image"
    )
    glcm_distance: int = Field(1, ge=1, description="pixel distance of the GLCM")
    texture: bool = Field(True, description="the GLCM texture group")
    keypoints: bool = Field(True, description="the ORB keypoint group")
    watershed: bool = Field(False, description="the watershed region group")
    thumbnail: bool = Field(True, description="a PNG thumbnail per frame")
    thumbnail_size: int = Field(128, ge=16, description="the thumbnail's longer side, pixels")
    tensor: bool = Field(False, description="the preprocessed array as .npz bytes")

    @field_validator("window")
    @classmethod
    def _known_window(cls, value: str | tuple[float, float]) -> str | tuple[float, float]:
        if isinstance(value, str) and value not in ("header", "none", *WINDOW_PRESETS):
            raise ValueError(
                f"window must be header, none, [center, width] or one of {sorted(WINDOW_PRESETS)}"
            )
        return value
