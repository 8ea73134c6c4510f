"""Where a series' voxels lie in the patient, so regions drawn elsewhere can be placed on it.

A grid is either a volume (slices evenly spaced along the normal, gaps filled) or a stack: the
planes of a series that is not a volume (a handful of slices far apart, or projection images with
no plane position), each slice a 2D image of its own. Every slice that came from an image knows
its source (SOP Instance UID, frame number), so regions that reference images instead of giving
positions are placed too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medspark.dicom.reasons import Reason
from medspark.regions.rejected import RegionRejected
from medspark.volume.build import Volume

ORIENTATION_TOLERANCE = 1e-3
INDEX_TOLERANCE = 0.25
"""How far (in voxels) a region's plane or pixel origin may sit from the series' grid."""

Source = tuple[str, int]
"""(SOP Instance UID, 1-based frame number) of the image a slice was read from."""


@dataclass(frozen=True)
class RegionMask:
    """A region on a series grid, and what was wrong with its object but did not stop it."""

    mask: np.ndarray
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SeriesGrid:
    """Voxel (k, r, c) lies at origin + offset(k)*normal + r*dy*column + c*dx*row direction,
    where offset(k) = k*dz on a volume and `plane_offsets_mm[k]` on a stack.

    A stack of projection images has no origin or directions: regions are placed on it by the
    images they reference only.
    """

    origin: np.ndarray | None
    row_direction: np.ndarray | None
    column_direction: np.ndarray | None
    normal: np.ndarray | None
    spacing: tuple[float, ...]
    shape: tuple[int, ...]
    sources: tuple[Source | None, ...] = ()
    plane_offsets_mm: tuple[float, ...] | None = None
    stack_reason: str | None = None

    @property
    def is_stack(self) -> bool:
        """Whether the slices are independent planes rather than one volume."""
        return self.stack_reason is not None

    @property
    def has_geometry(self) -> bool:
        return self.origin is not None

    @property
    def orientation(self) -> np.ndarray:
        assert self.row_direction is not None and self.column_direction is not None
        return np.concatenate([self.row_direction, self.column_direction])

    def indices(self, points: np.ndarray) -> np.ndarray:
        """(slice, row, column) of patient points (n, 3), as floats.

        On a stack the slice index is that of the nearest plane plus the distance from it in
        slice spacings, so a point between two distant planes is far from both."""
        if self.origin is None:
            raise RegionRejected(
                Reason.ROI_GEOMETRY_MISMATCH,
                "the series has no plane geometry: regions on it must reference its images",
            )
        offset = np.asarray(points, dtype=np.float64) - self.origin
        dz, dy, dx = self.spacing
        along = offset @ self.normal
        if self.plane_offsets_mm is None:
            k = along / dz
        else:
            planes = np.asarray(self.plane_offsets_mm)
            nearest = np.abs(along[:, None] - planes[None, :]).argmin(axis=1)
            k = nearest + (along - planes[nearest]) / dz
        return np.stack(
            [k, offset @ self.column_direction / dy, offset @ self.row_direction / dx], axis=-1
        )

    def slice_of(self, references: list[Source]) -> int | None:
        """The slice read from one of the referenced images (a frame number of 0: any frame of
        a single-frame image), or None."""
        for uid, frame in references:
            for k, source in enumerate(self.sources):
                if source is not None and source[0] == uid and frame in (source[1], 0):
                    return k
        return None

    def check_plane(self, orientation, pixel_spacing) -> None:
        """Reject a region plane whose orientation or pixel spacing differ from the series'."""
        if orientation is None or pixel_spacing is None:
            raise RegionRejected(Reason.ROI_GEOMETRY_MISMATCH, "the region has no plane geometry")
        if not self.has_geometry:
            raise RegionRejected(
                Reason.ROI_GEOMETRY_MISMATCH, "the region has plane positions, the series has none"
            )
        if float(np.abs(np.asarray(orientation, float) - self.orientation).max()) > (
            ORIENTATION_TOLERANCE
        ):
            raise RegionRejected(
                Reason.ROI_GEOMETRY_MISMATCH, "the region's planes are not parallel to the series'"
            )
        self.check_spacing(pixel_spacing)

    def check_spacing(self, pixel_spacing) -> None:
        """Reject a region whose pixel spacing differs from the series' (None: not stated)."""
        if pixel_spacing is None:
            return
        expected = np.asarray(self.spacing[1:])
        if float(np.abs(np.asarray(pixel_spacing, float) - expected).max()) > 1e-3 * float(
            expected.max()
        ):
            raise RegionRejected(
                Reason.ROI_GEOMETRY_MISMATCH,
                f"pixel spacing {list(pixel_spacing)} differs from the series' {list(expected)}",
            )


def grid_of(volume: Volume, instance_uids: list[str] | None = None) -> SeriesGrid:
    """The grid of a built series volume or stack; `instance_uids[i]` is the SOP Instance UID
    of the volume's i-th instance (frame numbers come from its planes). A volume without full
    geometry cannot take regions; a stack without it takes regions that reference its images."""
    order = volume.order
    first = order.planes[0]
    spacings = {p.pixel_spacing for p in order.planes}
    if len(spacings) > 1:
        raise RegionRejected(
            Reason.SERIES_MIXED_PIXEL_SPACING, f"{len(spacings)} pixel spacings within the series"
        )
    geometry = first.position is not None and first.orientation is not None
    if volume.stack_reason is None and (not geometry or volume.spacing_mm is None):
        raise RegionRejected(Reason.ROI_GEOMETRY_MISMATCH, "the series has no usable geometry")
    plane_sources: list[Source | None] = [
        (instance_uids[p.instance], p.frame + 1) if instance_uids else None for p in order.planes
    ]
    if volume.stack_reason is None and order.positions_mm and order.slice_spacing_mm:
        steps = np.round(
            (np.asarray(order.positions_mm) - order.positions_mm[0]) / order.slice_spacing_mm
        ).astype(int)
        by_slice: list[Source | None] = [None] * volume.values.shape[0]
        for step, source in zip(steps, plane_sources, strict=True):
            if 0 <= step < len(by_slice):
                by_slice[step] = source
        plane_sources = by_slice
    spacing = tuple(float(s) for s in volume.spacing_mm) if volume.spacing_mm else (1.0, 1.0, 1.0)
    offsets = None
    if volume.stack_reason is not None and order.positions_mm:
        offsets = tuple(float(p - order.positions_mm[0]) for p in order.positions_mm)
    if not geometry:
        return SeriesGrid(
            None,
            None,
            None,
            None,
            spacing,
            tuple(int(n) for n in volume.values.shape),
            tuple(plane_sources),
            None,
            volume.stack_reason,
        )
    orientation = np.asarray(first.orientation, dtype=np.float64)
    row, column = orientation[:3], orientation[3:]
    normal = np.asarray(order.normal, dtype=np.float64) if order.normal else np.cross(row, column)
    return SeriesGrid(
        np.asarray(first.position, dtype=np.float64),
        row,
        column,
        normal / np.linalg.norm(normal),
        spacing,
        tuple(int(n) for n in volume.values.shape),
        tuple(plane_sources),
        offsets,
        volume.stack_reason,
    )


def nearest_index(value: float, size: int, what: str) -> int:
    """The grid index a region coordinate falls on, or the reason it does not."""
    index = round(value)
    if abs(value - index) > INDEX_TOLERANCE:
        raise RegionRejected(
            Reason.ROI_GEOMETRY_MISMATCH, f"a region {what} falls between the series' {what}s"
        )
    if not 0 <= index < size:
        raise RegionRejected(
            Reason.ROI_GEOMETRY_MISMATCH, f"a region {what} lies outside the series"
        )
    return int(index)
