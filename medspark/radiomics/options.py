"""The settings of region description: which regions, families and aggregations, and the IBSI
image processing before them."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from medspark.options import StrictOptions
from medspark.radiomics.filters.settings import ImageFilter

RoiSource = Literal["seg", "rtstruct", "otsu"]
Aggregation = Literal[
    "2d_averaged",
    "2d_slice_merged",
    "2.5d_direction_merged",
    "2.5d_merged",
    "3d_averaged",
    "3d_merged",
]
FamilyKey = Literal[
    "morphology",
    "local_intensity",
    "statistics",
    "histogram",
    "ivh",
    "glcm",
    "glrlm",
    "glszm",
    "gldzm",
    "ngtdm",
    "ngldm",
]


class Discretisation(StrictOptions):
    """IBSI 2.7: a fixed number of bins over the region's range, or bins of a fixed width that
    start at `lower_bound` (the re-segmentation minimum when unset, else the region minimum)."""

    method: Literal["fixed_bin_number", "fixed_bin_width"] = Field(
        "fixed_bin_number", description="IBSI 2.7 discretisation of the texture families"
    )
    bins: int = Field(32, ge=2, le=4096, description="bins of fixed_bin_number")
    bin_width: float | None = Field(None, gt=0, description="width of fixed_bin_width's bins")
    lower_bound: float | None = Field(
        None, description="where fixed_bin_width's first bin starts (e.g. -1000 HU)"
    )

    @model_validator(mode="after")
    def _width_given(self) -> Discretisation:
        if self.method == "fixed_bin_width" and self.bin_width is None:
            raise ValueError("fixed_bin_width needs bin_width")
        return self


class IvhDiscretisation(StrictOptions):
    """IBSI 3.5: the intensities the intensity-volume histogram counts, apart from the texture
    discretisation: `texture` (the texture levels), `none` (the intensities as they are, one
    bin per unit: integer-valued images such as CT in HU), `fixed_bin_width` (bins of
    `bin_width` from the re-segmentation minimum, counted at their centres) or
    `fixed_bin_number` (`bins` bins over the region's range)."""

    method: Literal["texture", "none", "fixed_bin_width", "fixed_bin_number"] = Field(
        "texture", description="what the intensity-volume histogram counts; none: whole units"
    )
    bins: int = Field(1000, ge=2, le=100_000, description="bins of fixed_bin_number")
    bin_width: float | None = Field(None, gt=0, description="width of fixed_bin_width's bins")

    @model_validator(mode="after")
    def _width_given(self) -> IvhDiscretisation:
        if self.method == "fixed_bin_width" and self.bin_width is None:
            raise ValueError("fixed_bin_width needs bin_width")
        return self


_DEFAULT_SOURCES: tuple[RoiSource, ...] = ("seg", "rtstruct")
_DEFAULT_AGGREGATIONS: tuple[Aggregation, ...] = ("2d_averaged", "3d_averaged", "3d_merged")


class RadiomicsSettings(StrictOptions):
    """Which regions are described and how (`medspark radiomics`)."""

    roi_sources: list[RoiSource] = Field(
        default_factory=lambda: list(_DEFAULT_SOURCES),
        description="seg, rtstruct; otsu also describes series that have no region",
    )
    families: list[FamilyKey] = Field(
        default_factory=lambda: list(get_args(FamilyKey)), description="the feature families"
    )
    aggregation: list[Aggregation] = Field(
        default_factory=lambda: list(_DEFAULT_AGGREGATIONS),
        description="texture aggregations; also 2d_slice_merged, 2.5d_direction_merged, "
        "2.5d_merged",
    )
    resample_mm: tuple[float | None, float | None, float | None] | None = Field(
        None,
        description="[x, y, z] spacing in mm; null keeps the image grid, a null axis keeps "
        "that axis's spacing ([2, 2, null]: in-plane only)",
    )
    interpolation: Literal["nearest", "linear", "cubic"] = Field(
        "linear", description="image interpolation: nearest neighbour, linear or cubic B-spline"
    )
    mask_threshold: float = Field(
        0.5, gt=0, le=1, description="partial-volume fraction a resampled mask voxel keeps"
    )
    intensity_rounding: Literal["auto", "on", "off"] = Field(
        "auto", description="round resampled intensities to integers; auto: for CT"
    )
    resegment: tuple[float, float] | None = Field(
        None, description="[low, high] in the image's units; voxels outside leave the region"
    )
    resegment_outliers_sd: float | None = Field(
        None,
        gt=0,
        description="k: voxels beyond the region's mean +- k SD leave it (with the range: both)",
    )
    discretisation: Discretisation = Field(default_factory=Discretisation)
    ivh: IvhDiscretisation = Field(default_factory=IvhDiscretisation)
    glcm_distance: int = Field(1, ge=1, le=16, description="voxel distance of the GLCM")
    autocorrelation_exact_voxels: int = Field(
        20_000,
        ge=2,
        description="Moran's I and Geary's C are exact up to this many voxels, estimated from "
        "random 100-voxel samples above it",
    )
    filters: list[ImageFilter] = Field(
        default_factory=list, description="IBSI 2 filters: each adds rows of filtered statistics"
    )
    max_region_voxels: int = Field(
        20_000_000, ge=1, description="larger regions are quarantined (roi_too_large)"
    )

    @field_validator("resample_mm")
    @classmethod
    def _positive_spacing(cls, value):
        if value is None:
            return None
        given = [v for v in value if v is not None]
        if not given:
            return None
        if min(given) <= 0:
            raise ValueError("resample_mm must be positive")
        return value

    @field_validator("resegment")
    @classmethod
    def _ordered_range(cls, value):
        if value is not None and value[0] >= value[1]:
            raise ValueError("resegment must be [low, high] with low < high")
        return value
