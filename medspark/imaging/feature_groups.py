"""The per-frame feature groups, each declared once: its columns, its switch in the profile,
what it is computed on, and its compute function. The features table's feature columns, the
classifier's default column prefixes and the docs' table are derived from `GROUPS`; adding a
group is its compute function and one declaration here (and its switch, if it has one, in
`FeatureSettings`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from medspark.imaging.first_order import first_order
from medspark.imaging.options import FeatureSettings
from medspark.imaging.render import npz_tensor, png_thumbnail
from medspark.imaging.shape import shape_features, watershed_regions
from medspark.imaging.structure import edge_features, hu_moment_features, keypoint_features
from medspark.imaging.texture import glcm_features

Kind = Literal["measure", "count", "bytes"]
"""measure: a float64 column; count: int32; bytes: binary. The table orders the feature columns
by kind (measures, then counts, then bytes), each kind in the groups' order."""


@dataclass(frozen=True)
class FrameView:
    """One preprocessed frame as the groups see it."""

    values: np.ndarray  # physical values (HU for CT)
    display8: np.ndarray  # the windowed display image, 8 bits
    mask: np.ndarray | None  # the Otsu foreground, when there is one and it is asked for
    region: np.ndarray  # where first-order and texture features are computed
    spacing: tuple[float, float] | None


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "measure"
    description: str = ""


@dataclass(frozen=True)
class FeatureGroup:
    """One per-frame feature group."""

    key: str
    title: str
    computed_on: str
    columns: tuple[Column, ...]
    compute: Callable[[FrameView, FeatureSettings], dict]
    switch: str | None = None  # a bool field of FeatureSettings; None: always computed

    def enabled(self, settings: FeatureSettings) -> bool:
        return self.switch is None or bool(getattr(settings, self.switch))

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The column-name prefixes of its measures and counts (what a classifier selects)."""
        return tuple(
            dict.fromkeys(c.name.split("_")[0] + "_" for c in self.columns if c.kind != "bytes")
        )


def _measures(*names: str) -> tuple[Column, ...]:
    return tuple(Column(name) for name in names)


def _first_order(view: FrameView, settings: FeatureSettings) -> dict:
    return first_order(
        view.values, view.region, settings.bins, settings.bin_width, settings.bin_lower_bound
    )


def _glcm(view: FrameView, settings: FeatureSettings) -> dict:
    return glcm_features(
        view.values,
        view.region,
        settings.bins,
        settings.glcm_distance,
        settings.bin_width,
        settings.bin_lower_bound,
    )


def _structure(view: FrameView, settings: FeatureSettings) -> dict:
    return {**edge_features(view.display8), **hu_moment_features(view.display8)}


GROUPS: tuple[FeatureGroup, ...] = (
    FeatureGroup(
        "first_order",
        "first order (IBSI 1, 3.3 and 3.4)",
        "physical values (HU for CT) inside the mask",
        _measures(
            "fo_mean",
            "fo_variance",
            "fo_skewness",
            "fo_kurtosis",
            "fo_median",
            "fo_minimum",
            "fo_p10",
            "fo_p90",
            "fo_maximum",
            "fo_iqr",
            "fo_range",
            "fo_mad",
            "fo_rmad",
            "fo_medad",
            "fo_cov",
            "fo_qcod",
            "fo_energy",
            "fo_rms",
            "fo_entropy",
            "fo_uniformity",
        ),
        _first_order,
    ),
    FeatureGroup(
        "glcm",
        "GLCM (IBSI 1, 3.6), 2D, four directions averaged",
        "physical values inside the mask, discretised as `bins` / `bin_width` say",
        _measures(
            *(
                f"glcm_{name}"
                for name in (
                    "joint_max",
                    "joint_average",
                    "joint_variance",
                    "joint_entropy",
                    "difference_average",
                    "difference_variance",
                    "difference_entropy",
                    "sum_average",
                    "sum_variance",
                    "sum_entropy",
                    "angular_second_moment",
                    "contrast",
                    "dissimilarity",
                    "inverse_difference",
                    "inverse_difference_normalised",
                    "inverse_difference_moment",
                    "inverse_difference_moment_normalised",
                    "inverse_variance",
                    "correlation",
                    "autocorrelation",
                    "cluster_tendency",
                    "cluster_shade",
                    "cluster_prominence",
                    "information_correlation_1",
                    "information_correlation_2",
                )
            )
        ),
        _glcm,
        switch="texture",
    ),
    FeatureGroup(
        "shape",
        "shape",
        "the Otsu foreground mask",
        (
            *_measures(
                "shape_foreground_fraction",
                "shape_area_px",
                "shape_area_mm2",
                "shape_perimeter_px",
                "shape_perimeter_mm",
                "shape_eccentricity",
                "shape_solidity",
            ),
            Column("shape_components", "count"),
        ),
        lambda view, settings: shape_features(view.mask, view.spacing),
    ),
    FeatureGroup(
        "watershed",
        "watershed regions",
        "the Otsu foreground mask, split by a distance-transform watershed",
        (Column("shape_watershed_regions", "count"),),
        lambda view, settings: {
            "shape_watershed_regions": watershed_regions(view.display8, view.mask)
        },
        switch="watershed",
    ),
    FeatureGroup(
        "structure",
        "structure: Canny edge density, Hu moments as -sign(h) log10 abs(h)",
        "the windowed display image",
        _measures("edge_density", *(f"hu_{n}" for n in range(1, 8))),
        _structure,
    ),
    FeatureGroup(
        "keypoints",
        "ORB keypoints",
        "the windowed display image",
        (Column("kp_orb_count", "count"),),
        lambda view, settings: keypoint_features(view.display8),
        switch="keypoints",
    ),
    FeatureGroup(
        "thumbnail",
        "thumbnail",
        "the windowed display image",
        (Column("thumbnail_png", "bytes", "windowed 8-bit PNG, when configured"),),
        lambda view, settings: {
            "thumbnail_png": png_thumbnail(view.display8, settings.thumbnail_size)
        },
        switch="thumbnail",
    ),
    FeatureGroup(
        "tensor",
        "preprocessed array",
        "physical values after preprocessing, `numpy.load`-able",
        (Column("tensor_npz", "bytes", "preprocessed values as .npz, when configured"),),
        lambda view, settings: {"tensor_npz": npz_tensor(view.values)},
        switch="tensor",
    ),
)


def group(key: str) -> FeatureGroup:
    """The group declared as `key`."""
    return next(g for g in GROUPS if g.key == key)


def columns_of_kind(kind: Kind) -> tuple[Column, ...]:
    """Every group's columns of one kind, in the groups' order."""
    return tuple(c for group in GROUPS for c in group.columns if c.kind == kind)


def feature_prefixes() -> list[str]:
    """The prefixes of every group's measures and counts, in order."""
    return list(dict.fromkeys(p for group in GROUPS for p in group.prefixes))


def compute_groups(view: FrameView, settings: FeatureSettings) -> dict:
    """Every enabled group's values of one frame."""
    record: dict = {}
    for group in GROUPS:
        if group.enabled(settings):
            record.update(group.compute(view, settings))
    return record


def markdown_table() -> str:
    """The docs' table of the groups (docs/features.md holds it between its markers)."""
    lines = ["| group | columns | computed on | switch |", "|---|---|---|---|"]
    for group in GROUPS:
        names = ", ".join(f"`{c.name}`" for c in group.columns)
        switch = f"`features.{group.switch}`" if group.switch else "always"
        lines.append(f"| {group.title} | {names} | {group.computed_on} | {switch} |")
    return "\n".join(lines) + "\n"
