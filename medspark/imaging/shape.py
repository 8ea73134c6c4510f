"""A foreground mask (Otsu threshold and morphology) and the shape of what it covers."""

from __future__ import annotations

import cv2
import numpy as np

_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def to_uint8(display: np.ndarray) -> np.ndarray:
    """A [0, 1] display image as 8-bit."""
    return np.clip(np.rint(display * 255.0), 0, 255).astype(np.uint8)


def foreground_mask(display8: np.ndarray, min_fraction: float = 0.001) -> np.ndarray | None:
    """Otsu's threshold, opened and closed, holes filled; None when nothing stands out.

    Small specks (under `min_fraction` of the image) are dropped.
    """
    if display8.size == 0 or int(display8.max()) == int(display8.min()):
        return None
    _, binary = cv2.threshold(display8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, _KERNEL)
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, _KERNEL)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    minimum = min_fraction * display8.size
    kept = [c for c in contours if cv2.contourArea(c) >= minimum]
    if not kept:
        return None
    filled = np.zeros_like(binary)
    cv2.drawContours(filled, kept, -1, 255, thickness=cv2.FILLED)
    mask = filled > 0
    return mask if 0 < mask.sum() < mask.size else None


def shape_features(mask: np.ndarray | None, spacing: tuple[float, float] | None) -> dict:
    """`shape_*` features of a mask: area, perimeter, eccentricity, solidity, components."""
    if mask is None or not mask.any():
        return {"shape_foreground_fraction": 0.0, "shape_components": 0}
    binary = mask.astype(np.uint8)
    count, _ = cv2.connectedComponents(binary, connectivity=8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    perimeter = float(sum(cv2.arcLength(c, closed=True) for c in contours))
    area = float(mask.sum())
    hull_area = float(sum(cv2.contourArea(cv2.convexHull(c)) for c in contours))
    ys, xs = np.nonzero(mask)
    eccentricity = 0.0
    if ys.size > 2:
        eigen = np.sort(np.linalg.eigvalsh(np.cov(np.vstack([xs, ys]).astype(np.float64))))
        if eigen[1] > 0:
            eccentricity = float(np.sqrt(max(0.0, 1.0 - eigen[0] / eigen[1])))
    features = {
        "shape_foreground_fraction": area / mask.size,
        "shape_area_px": area,
        "shape_perimeter_px": perimeter,
        "shape_eccentricity": eccentricity,
        "shape_solidity": area / hull_area if hull_area > 0 else None,
        "shape_components": int(count - 1),
    }
    if spacing is not None:
        features["shape_area_mm2"] = area * spacing[0] * spacing[1]
        features["shape_perimeter_mm"] = perimeter * float(np.sqrt(spacing[0] * spacing[1]))
    return features


def watershed_regions(display8: np.ndarray, mask: np.ndarray | None) -> int:
    """Regions a distance-transform watershed splits the foreground into."""
    if mask is None or not mask.any():
        return 0
    binary = mask.astype(np.uint8)
    distance = cv2.distanceTransform(binary, cv2.DIST_L2, 5)
    _, peaks = cv2.threshold(distance, 0.5 * float(distance.max()), 255, cv2.THRESH_BINARY)
    _, markers = cv2.connectedComponents(peaks.astype(np.uint8))
    unknown = (binary > 0) & (peaks == 0)
    markers = markers + 1
    markers[unknown] = 0
    colour = cv2.cvtColor(display8, cv2.COLOR_GRAY2BGR)
    labels = cv2.watershed(colour, markers.astype(np.int32))
    return len(np.unique(labels[labels > 1]))
