"""Morphological features (IBSI 1, 3.1) of the region's mesh and voxels.

The mesh is marching cubes at 0.5 on the zero-padded morphological mask, in mm. Principal axes
come from the covariance of the voxel centres. Moran's I and Geary's C weigh voxel pairs by
inverse distance; regions over `max_autocorrelation_voxels` use a fixed random subset of voxels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.polynomial import legendre
from scipy.spatial import ConvexHull, QhullError
from skimage.measure import marching_cubes

from medspark.radiomics.family import WHOLE_REGION, Family, FeatureValues, features
from medspark.radiomics.spatial_autocorrelation import spatial_autocorrelation

FEATURES = features(
    ("volume", "RNU0", "Volume (mesh)"),
    ("approximate_volume", "YEKZ", "Volume (voxel counting)"),
    ("surface_area", "C0JK", "Surface area (mesh)"),
    ("surface_to_volume_ratio", "2PR5", "Surface to volume ratio"),
    ("compactness_1", "SKGS", "Compactness 1"),
    ("compactness_2", "BQWJ", "Compactness 2"),
    ("spherical_disproportion", "KRCK", "Spherical disproportion"),
    ("sphericity", "QCFX", "Sphericity"),
    ("asphericity", "25C7", "Asphericity"),
    ("centre_of_mass_shift", "KLMA", "Centre of mass shift"),
    ("maximum_3d_diameter", "L0JK", "Maximum 3D diameter"),
    ("major_axis_length", "TDIC", "Major axis length"),
    ("minor_axis_length", "P9VJ", "Minor axis length"),
    ("least_axis_length", "7J51", "Least axis length"),
    ("elongation", "Q3CK", "Elongation"),
    ("flatness", "N17B", "Flatness"),
    ("volume_density_aabb", "PBX1", "Volume density (axis-aligned bounding box)"),
    ("area_density_aabb", "R59B", "Area density (axis-aligned bounding box)"),
    ("volume_density_aee", "6BDE", "Volume density (approximate enclosing ellipsoid)"),
    ("area_density_aee", "RDD2", "Area density (approximate enclosing ellipsoid)"),
    ("volume_density_convex_hull", "R3ER", "Volume density (convex hull)"),
    ("area_density_convex_hull", "7T7F", "Area density (convex hull)"),
    ("integrated_intensity", "99N0", "Integrated intensity"),
    ("morans_i", "N365", "Moran's I index"),
    ("gearys_c", "NPT7", "Geary's C measure"),
)


def mesh(mask: np.ndarray, spacing: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (mm) and triangles of the region's surface."""
    padded = np.pad(mask.astype(np.float32), 1)
    vertices, faces, _, _ = marching_cubes(padded, level=0.5, spacing=tuple(spacing))
    return vertices, faces


def mesh_volume_and_area(vertices: np.ndarray, faces: np.ndarray) -> tuple[float, float]:
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    volume = abs(float(np.sum(np.einsum("ij,ij->i", a, np.cross(b, c)))) / 6.0)
    area = float(np.sum(np.linalg.norm(np.cross(b - a, c - a), axis=1)) / 2.0)
    return volume, area


def ellipsoid_area(a: float, b: float, c: float, terms: int = 20) -> float:
    """Surface of the ellipsoid with semi-axes a >= b >= c (IBSI's Legendre series)."""
    alpha = np.sqrt(max(0.0, 1.0 - (b / a) ** 2))
    beta = np.sqrt(max(0.0, 1.0 - (c / a) ** 2))
    if alpha * beta == 0:
        return 4.0 * np.pi * a * b
    argument = (alpha**2 + beta**2) / (2.0 * alpha * beta)
    total = 0.0
    for nu in range(terms + 1):
        coefficients = np.zeros(nu + 1)
        coefficients[nu] = 1.0
        total += (
            (alpha * beta) ** nu / (1.0 - 4.0 * nu**2) * legendre.legval(argument, coefficients)
        )
    return float(4.0 * np.pi * a * b * total)


def compute(
    region,
    aggregations: Sequence[str] = (),
    exact_autocorrelation_voxels: int = 20_000,
    **_: object,
) -> dict[str, FeatureValues]:
    """Every morphological feature of the region."""
    spacing = np.asarray(region.spacing, dtype=np.float64)
    mask = region.morphology_mask
    vertices, faces = mesh(mask, spacing)
    volume, area = mesh_volume_and_area(vertices, faces)
    voxel_positions = np.argwhere(mask) * spacing
    intensity_positions = np.argwhere(region.intensity_mask) * spacing
    intensities = region.intensities
    shift = (
        np.linalg.norm(
            voxel_positions.mean(axis=0)
            - (intensity_positions * intensities[:, None]).sum(axis=0) / intensities.sum()
        )
        if intensities.sum() != 0
        else None
    )
    eigen = np.sort(np.linalg.eigvalsh(np.cov(voxel_positions.T)))[::-1]
    eigen = np.clip(eigen, 0.0, None)
    major, minor, least = (4.0 * np.sqrt(e) for e in eigen)
    hull_volume: float | None
    hull_area: float | None
    diameter: float | None
    try:
        hull = ConvexHull(vertices)
        hull_volume, hull_area = float(hull.volume), float(hull.area)
        diameter = float(
            np.max(
                np.linalg.norm(
                    vertices[hull.vertices][:, None] - vertices[hull.vertices][None], axis=2
                )
            )
        )
    except QhullError:
        hull_volume = hull_area = diameter = None
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    box_volume = float(np.prod(extent))
    box_area = 2.0 * float(extent[0] * extent[1] + extent[0] * extent[2] + extent[1] * extent[2])
    semi = (major / 2.0, minor / 2.0, least / 2.0)
    ellipsoid_volume = 4.0 * np.pi * semi[0] * semi[1] * semi[2] / 3.0
    sphere = (36.0 * np.pi * volume**2) ** (1.0 / 3.0)
    morans, gearys = spatial_autocorrelation(
        intensity_positions, intensities, exact_autocorrelation_voxels
    )

    def ratio(numerator, denominator):
        return float(numerator / denominator) if numerator is not None and denominator else None

    return {
        WHOLE_REGION: {
            "volume": volume,
            "approximate_volume": float(mask.sum()) * float(np.prod(spacing)),
            "surface_area": area,
            "surface_to_volume_ratio": ratio(area, volume),
            "compactness_1": ratio(volume, np.sqrt(np.pi) * area**1.5),
            "compactness_2": ratio(36.0 * np.pi * volume**2, area**3),
            "spherical_disproportion": ratio(area, sphere),
            "sphericity": ratio(sphere, area),
            "asphericity": ratio(area, sphere) - 1.0 if sphere else None,
            "centre_of_mass_shift": None if shift is None else float(shift),
            "maximum_3d_diameter": diameter,
            "major_axis_length": float(major),
            "minor_axis_length": float(minor),
            "least_axis_length": float(least),
            "elongation": ratio(np.sqrt(eigen[1]), np.sqrt(eigen[0])),
            "flatness": ratio(np.sqrt(eigen[2]), np.sqrt(eigen[0])),
            "volume_density_aabb": ratio(volume, box_volume),
            "area_density_aabb": ratio(area, box_area),
            "volume_density_aee": ratio(volume, ellipsoid_volume),
            "area_density_aee": ratio(area, ellipsoid_area(*semi)) if least > 0 else None,
            "volume_density_convex_hull": ratio(volume, hull_volume),
            "area_density_convex_hull": ratio(area, hull_area),
            "integrated_intensity": volume * float(intensities.mean()),
            "morans_i": morans,
            "gearys_c": gearys,
        }
    }


FAMILY = Family("morphology", "morph", "Morphology", FEATURES, False, compute)
