"""Moran's I and Geary's C of a region's intensities (IBSI 1, 3.1.24-25), with inverse-distance
weights between voxel centres: exact, or estimated from random samples on large regions, as
IBSI allows."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

BLOCK_ROWS = 512
SAMPLE_VOXELS = 100
TARGET_STANDARD_ERROR = 0.002
MIN_SAMPLES, MAX_SAMPLES = 10, 10_000


def exact(positions: np.ndarray, intensities: np.ndarray) -> tuple[float | None, float | None]:
    """Both indices over every voxel pair, computed in blocks of rows (memory ~ rows x n)."""
    n = intensities.size
    deviation = intensities - intensities.mean()
    denominator = float(np.sum(deviation**2))
    if n < 2 or denominator == 0:
        return None, None
    total_weight = moran = geary = 0.0
    for start in range(0, n, BLOCK_ROWS):
        rows = slice(start, min(start + BLOCK_ROWS, n))
        distance = cdist(positions[rows], positions)
        distance[np.arange(distance.shape[0]), np.arange(rows.start, rows.stop)] = np.inf
        weights = 1.0 / distance
        row_weight = weights.sum(axis=1)
        total_weight += float(row_weight.sum())
        moran += float(deviation[rows] @ (weights @ deviation))
        mine = intensities[rows]
        geary += float(
            np.sum(
                row_weight * mine**2
                - 2.0 * mine * (weights @ intensities)
                + weights @ intensities**2
            )
        )
    return (
        n / total_weight * moran / denominator,
        (n - 1) * geary / (2.0 * total_weight * denominator),
    )


def estimated(
    positions: np.ndarray, intensities: np.ndarray, seed: int = 0
) -> tuple[float | None, float | None]:
    """The mean of both indices over random 100-voxel samples, drawn until the standard error
    of either mean is below 0.002 (at least 10 samples)."""
    generator = np.random.default_rng(seed)
    morans: list[float] = []
    gearys: list[float] = []
    while len(morans) < MAX_SAMPLES:
        chosen = generator.choice(intensities.size, SAMPLE_VOXELS, replace=False)
        moran, geary = exact(positions[chosen], intensities[chosen])
        if moran is not None and geary is not None:
            morans.append(moran)
            gearys.append(geary)
        if len(morans) >= MIN_SAMPLES:
            error = max(np.std(morans), np.std(gearys)) / np.sqrt(len(morans))
            if error < TARGET_STANDARD_ERROR:
                break
    if not morans:
        return None, None
    return float(np.mean(morans)), float(np.mean(gearys))


def spatial_autocorrelation(
    positions: np.ndarray, intensities: np.ndarray, exact_up_to: int
) -> tuple[float | None, float | None]:
    """Moran's I and Geary's C: exact up to `exact_up_to` voxels, estimated above."""
    if intensities.size <= exact_up_to:
        return exact(positions, intensities)
    return estimated(positions, intensities)
