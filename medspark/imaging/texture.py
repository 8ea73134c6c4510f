"""Grey-level co-occurrence matrix features (IBSI 1, section 3.6), 2D, averaged over directions.

For each of the four 2D directions at the given distance, a symmetric co-occurrence matrix is
built from pairs of pixels that both lie inside the mask; features are computed per matrix and
averaged (IBSI aggregation "2D, averaged" for a single slice). Logarithms are base 2.
"""

from __future__ import annotations

import numpy as np

from medspark.imaging.discretise import discretise

DIRECTIONS = ((0, 1), (1, 1), (1, 0), (1, -1))


def cooccurrence(levels: np.ndarray, mask: np.ndarray, n_levels: int, offset: tuple[int, int]):
    """Symmetric, normalised co-occurrence matrix of levels 1..n_levels for one offset."""
    dy, dx = offset
    height, width = levels.shape
    y0, y1 = max(0, -dy), min(height, height - dy)
    x0, x1 = max(0, -dx), min(width, width - dx)
    first = levels[y0:y1, x0:x1]
    second = levels[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
    both = mask[y0:y1, x0:x1] & mask[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
    a, b = first[both] - 1, second[both] - 1
    counts = np.bincount(a * n_levels + b, minlength=n_levels * n_levels).astype(np.float64)
    matrix = counts.reshape(n_levels, n_levels)
    matrix = matrix + matrix.T
    total = matrix.sum()
    return matrix / total if total > 0 else None


def _entropy(p: np.ndarray) -> float:
    nonzero = p[p > 0]
    return float(-np.sum(nonzero * np.log2(nonzero)))


def matrix_features(p: np.ndarray) -> dict[str, float]:
    """Every IBSI GLCM feature of one normalised matrix."""
    n = p.shape[0]
    i, j = np.indices(p.shape, dtype=np.float64)
    i += 1
    j += 1
    p_i = p.sum(axis=1)
    p_j = p.sum(axis=0)
    levels = np.arange(1, n + 1, dtype=np.float64)
    mu_i = float(np.sum(levels * p_i))
    mu_j = float(np.sum(levels * p_j))
    sigma_i = float(np.sqrt(np.sum((levels - mu_i) ** 2 * p_i)))
    sigma_j = float(np.sqrt(np.sum((levels - mu_j) ** 2 * p_j)))

    difference = np.abs(i - j).astype(np.int64)
    p_diff = np.bincount(difference.ravel(), weights=p.ravel(), minlength=n)
    k_diff = np.arange(n, dtype=np.float64)
    total = (i + j).astype(np.int64)
    p_sum = np.bincount(total.ravel(), weights=p.ravel(), minlength=2 * n + 1)
    k_sum = np.arange(2 * n + 1, dtype=np.float64)

    joint_average = float(np.sum(i * p))
    diff_average = float(np.sum(k_diff * p_diff))
    sum_average = float(np.sum(k_sum * p_sum))
    hxy = _entropy(p)
    outer = np.outer(p_i, p_j)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_outer = np.where(outer > 0, np.log2(outer), 0.0)
    hxy1 = float(-np.sum(p * log_outer))
    hxy2 = float(-np.sum(outer * log_outer))
    hx, hy = _entropy(p_i), _entropy(p_j)
    off_diagonal = k_diff > 0
    squared = (i - j) ** 2
    cluster = i + j - mu_i - mu_j
    return {
        "glcm_joint_max": float(p.max()),
        "glcm_joint_average": joint_average,
        "glcm_joint_variance": float(np.sum((i - joint_average) ** 2 * p)),
        "glcm_joint_entropy": hxy,
        "glcm_difference_average": diff_average,
        "glcm_difference_variance": float(np.sum((k_diff - diff_average) ** 2 * p_diff)),
        "glcm_difference_entropy": _entropy(p_diff),
        "glcm_sum_average": sum_average,
        "glcm_sum_variance": float(np.sum((k_sum - sum_average) ** 2 * p_sum)),
        "glcm_sum_entropy": _entropy(p_sum),
        "glcm_angular_second_moment": float(np.sum(p**2)),
        "glcm_contrast": float(np.sum(squared * p)),
        "glcm_dissimilarity": float(np.sum(np.abs(i - j) * p)),
        "glcm_inverse_difference": float(np.sum(p / (1 + np.abs(i - j)))),
        "glcm_inverse_difference_normalised": float(np.sum(p / (1 + np.abs(i - j) / n))),
        "glcm_inverse_difference_moment": float(np.sum(p / (1 + squared))),
        "glcm_inverse_difference_moment_normalised": float(np.sum(p / (1 + squared / n**2))),
        "glcm_inverse_variance": float(np.sum(p_diff[off_diagonal] / k_diff[off_diagonal] ** 2)),
        "glcm_correlation": float((np.sum(i * j * p) - mu_i * mu_j) / (sigma_i * sigma_j))
        if sigma_i > 0 and sigma_j > 0
        else 0.0,
        "glcm_autocorrelation": float(np.sum(i * j * p)),
        "glcm_cluster_tendency": float(np.sum(cluster**2 * p)),
        "glcm_cluster_shade": float(np.sum(cluster**3 * p)),
        "glcm_cluster_prominence": float(np.sum(cluster**4 * p)),
        "glcm_information_correlation_1": (hxy - hxy1) / max(hx, hy) if max(hx, hy) > 0 else 0.0,
        "glcm_information_correlation_2": float(np.sqrt(max(0.0, 1 - np.exp(-2 * (hxy2 - hxy))))),
    }


def glcm_features_of_levels(
    levels: np.ndarray, mask: np.ndarray, n_levels: int, distance: int = 1
) -> dict[str, float]:
    """Average of the features over the four directions, on already discretised levels."""
    per_direction = []
    for dy, dx in DIRECTIONS:
        matrix = cooccurrence(levels, mask, n_levels, (dy * distance, dx * distance))
        if matrix is not None:
            per_direction.append(matrix_features(matrix))
    if not per_direction:
        return {}
    return {key: float(np.mean([f[key] for f in per_direction])) for key in per_direction[0]}


def glcm_features(
    values: np.ndarray,
    mask: np.ndarray | None = None,
    bins: int = 32,
    distance: int = 1,
    bin_width: float | None = None,
    lower_bound: float | None = None,
) -> dict[str, float]:
    """`glcm_*` features of a 2D image, discretised inside the mask by bin number, or by bin
    width from `lower_bound`."""
    if mask is None:
        mask = np.ones(values.shape, dtype=bool)
    if not mask.any():
        return {}
    levels = np.ones(values.shape, dtype=np.int64)
    levels[mask] = discretise(values[mask], bins, bin_width, lower_bound)
    return glcm_features_of_levels(levels, mask, int(levels[mask].max()), distance)
