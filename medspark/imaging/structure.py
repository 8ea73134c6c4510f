"""Edges, keypoints and moment invariants of the display image."""

from __future__ import annotations

import cv2
import numpy as np

_ORB = None


def edge_features(display8: np.ndarray) -> dict[str, float]:
    """Canny edge density, with thresholds from the image's median (0.66x and 1.33x)."""
    median = float(np.median(display8))
    low, high = int(max(0, 0.66 * median)), int(min(255, max(1.33 * median, 1)))
    edges = cv2.Canny(display8, low, max(high, low + 1))
    return {"edge_density": float(np.count_nonzero(edges)) / max(edges.size, 1)}


def keypoint_features(display8: np.ndarray, max_keypoints: int = 500) -> dict[str, int]:
    """How many ORB keypoints the image holds (up to `max_keypoints`)."""
    global _ORB
    if _ORB is None or _ORB.getMaxFeatures() != max_keypoints:
        _ORB = cv2.ORB.create(nfeatures=max_keypoints)
    if min(display8.shape) < 32:
        return {"kp_orb_count": 0}
    return {"kp_orb_count": len(_ORB.detect(display8, None))}


def hu_moment_features(display8: np.ndarray) -> dict[str, float]:
    """The seven Hu moment invariants, as -sign(h) * log10(|h|) (0 where h is 0)."""
    hu = cv2.HuMoments(cv2.moments(display8.astype(np.float32))).ravel()
    out = {}
    for number, value in enumerate(hu, start=1):
        out[f"hu_{number}"] = float(-np.sign(value) * np.log10(abs(value))) if value != 0 else 0.0
    return out
