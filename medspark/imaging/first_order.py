"""Intensity-based statistics (IBSI 1, section 3.3) and discretised-histogram entropy.

All statistics run over the voxels inside a mask; variance and higher moments are the
population (biased) forms IBSI defines. Percentiles interpolate linearly.
"""

from __future__ import annotations

import numpy as np

from medspark.imaging.discretise import discretise


def first_order(
    values: np.ndarray,
    mask: np.ndarray | None = None,
    bins: int = 32,
    bin_width: float | None = None,
    lower_bound: float | None = None,
) -> dict:
    """`fo_*` features of the masked values (the whole array when mask is None).

    Entropy and uniformity use the histogram of the values discretised by `bins` or by
    `bin_width` from `lower_bound`.
    """
    x = (values[mask] if mask is not None else values.ravel()).astype(np.float64)
    if x.size == 0:
        return {}
    mean = x.mean()
    deviation = x - mean
    squared = deviation * deviation  # products, not `**`: numpy's pow is several times slower
    m2 = float(np.mean(squared))
    m3 = float(np.mean(squared * deviation))
    m4 = float(np.mean(squared * squared))
    p10, p25, median, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90])
    inner = x[(x >= p10) & (x <= p90)]
    energy = float(np.dot(x, x))
    counts = np.bincount(discretise(x, bins, bin_width, lower_bound) - 1).astype(np.float64)
    probabilities = counts[counts > 0] / x.size
    return {
        "fo_mean": float(mean),
        "fo_variance": m2,
        "fo_skewness": m3 / m2**1.5 if m2 > 0 else 0.0,
        "fo_kurtosis": m4 / (m2 * m2) - 3.0 if m2 > 0 else 0.0,
        "fo_median": float(median),
        "fo_minimum": float(x.min()),
        "fo_p10": float(p10),
        "fo_p90": float(p90),
        "fo_maximum": float(x.max()),
        "fo_iqr": float(p75 - p25),
        "fo_range": float(x.max() - x.min()),
        "fo_mad": float(np.mean(np.abs(deviation))),
        "fo_rmad": float(np.mean(np.abs(inner - inner.mean()))) if inner.size else 0.0,
        "fo_medad": float(np.mean(np.abs(x - median))),
        "fo_cov": float(np.sqrt(m2) / mean) if mean != 0 else None,
        "fo_qcod": float((p75 - p25) / (p75 + p25)) if (p75 + p25) != 0 else None,
        "fo_energy": energy,
        "fo_rms": float(np.sqrt(energy / x.size)),
        "fo_entropy": float(-np.sum(probabilities * np.log2(probabilities))),
        "fo_uniformity": float(np.sum(probabilities**2)),
    }
