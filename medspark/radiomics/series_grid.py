"""Where a series' voxels lie in the patient, so regions drawn elsewhere can be placed on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medspark.radiomics.processing import RegionRejected
from medspark.volume.build import Volume

ORIENTATION_TOLERANCE = 1e-3
INDEX_TOLERANCE = 0.25
"""How far (in voxels) a region's plane or pixel origin may sit from the series' grid."""


@dataclass(frozen=True)
class SeriesGrid:
    """Voxel (k, r, c) lies at origin + k*dz*normal + r*dy*column_direction + c*dx*row_direction."""

    origin: np.ndarray
    row_direction: np.ndarray
    column_direction: np.ndarray
    normal: np.ndarray
    spacing: tuple[float, ...]
    shape: tuple[int, ...]

    @property
    def orientation(self) -> np.ndarray:
        return np.concatenate([self.row_direction, self.column_direction])

    def indices(self, points: np.ndarray) -> np.ndarray:
        """(slice, row, column) of patient points (n, 3), as floats."""
        offset = np.asarray(points, dtype=np.float64) - self.origin
        dz, dy, dx = self.spacing
        return np.stack(
            [
                offset @ self.normal / dz,
                offset @ self.column_direction / dy,
                offset @ self.row_direction / dx,
            ],
            axis=-1,
        )

    def check_plane(self, orientation, pixel_spacing) -> None:
        """Reject a region plane whose orientation or pixel spacing differ from the series'."""
        if orientation is None or pixel_spacing is None:
            raise RegionRejected("roi_geometry_mismatch", "the region has no plane geometry")
        if float(np.abs(np.asarray(orientation, float) - self.orientation).max()) > (
            ORIENTATION_TOLERANCE
        ):
            raise RegionRejected(
                "roi_geometry_mismatch", "the region's planes are not parallel to the series'"
            )
        expected = np.asarray(self.spacing[1:])
        if float(np.abs(np.asarray(pixel_spacing, float) - expected).max()) > 1e-3 * float(
            expected.max()
        ):
            raise RegionRejected(
                "roi_geometry_mismatch",
                f"pixel spacing {list(pixel_spacing)} differs from the series' {list(expected)}",
            )


def grid_of(volume: Volume) -> SeriesGrid:
    """The grid of a built series volume; series without full geometry cannot take regions."""
    order = volume.order
    first = order.planes[0]
    if first.position is None or first.orientation is None or volume.spacing_mm is None:
        raise RegionRejected("roi_geometry_mismatch", "the series has no usable geometry")
    spacings = {p.pixel_spacing for p in order.planes}
    if len(spacings) > 1:
        raise RegionRejected(
            "series_mixed_pixel_spacing", f"{len(spacings)} pixel spacings within the series"
        )
    orientation = np.asarray(first.orientation, dtype=np.float64)
    row, column = orientation[:3], orientation[3:]
    normal = np.asarray(order.normal, dtype=np.float64) if order.normal else np.cross(row, column)
    return SeriesGrid(
        np.asarray(first.position, dtype=np.float64),
        row,
        column,
        normal / np.linalg.norm(normal),
        tuple(float(s) for s in volume.spacing_mm),
        tuple(int(n) for n in volume.values.shape),
    )


def nearest_index(value: float, size: int, what: str) -> int:
    """The grid index a region coordinate falls on, or the reason it does not."""
    index = round(value)
    if abs(value - index) > INDEX_TOLERANCE:
        raise RegionRejected(
            "roi_geometry_mismatch", f"a region {what} falls between the series' {what}s"
        )
    if not 0 <= index < size:
        raise RegionRejected("roi_geometry_mismatch", f"a region {what} lies outside the series")
    return int(index)
