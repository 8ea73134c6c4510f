"""The settings that turn a series into a volume."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from medspark.options import StrictOptions


class VolumeSettings(StrictOptions):
    """How series become volumes (`medspark volumes`)."""

    region: Literal["otsu"] | list[float] = Field(
        "otsu", description="otsu, or [low, high] in the volume's units, e.g. [-500, 3000] HU"
    )
    largest_component: bool = Field(True, description="keep the region's largest 3D component")
    window: str | list[float] = Field(
        "header", description="the thumbnails' window: header, a preset or [center, width]"
    )
    thumbnail_size: int = Field(192, ge=16, description="each view's longer side, pixels")
    bins: int = Field(32, ge=2, le=4096, description="fixed bin number of the texture features")
    max_voxels: int = Field(200_000_000, ge=1, description="larger series are quarantined")
    gap_factor: float = Field(1.5, gt=1.0, description="a step this many spacings is a gap")
    spacing_tolerance: float = Field(0.01, gt=0, description="relative spacing deviation")
