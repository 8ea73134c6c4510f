"""A picture of a region: its outline drawn over the image slice where it is largest."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

OUTLINE_BGR = (0, 215, 255)


def outline_png(
    values: np.ndarray, mask: np.ndarray, spacing: Sequence[float], size: int = 192
) -> bytes:
    """PNG of the region's largest slice, windowed to its 1st-99th percentiles, outline on top.

    The picture keeps the physical aspect of the pixels; its longer side is `size` pixels.
    """
    k = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))
    image, region = values[k].astype(np.float64), mask[k].astype(np.uint8)
    low, high = np.percentile(image, [1, 99]) if image.size else (0.0, 1.0)
    grey = np.clip((image - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)
    row_mm, column_mm = float(spacing[1]), float(spacing[2])
    height, width = grey.shape[0] * row_mm, grey.shape[1] * column_mm
    scale = size / max(height, width)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    colour = cv2.cvtColor(
        cv2.resize(grey, target, interpolation=cv2.INTER_LINEAR), cv2.COLOR_GRAY2BGR
    )
    region = cv2.resize(region, target, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(region, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(colour, contours, -1, OUTLINE_BGR, 1)
    ok, encoded = cv2.imencode(".png", colour)
    if not ok:
        raise ValueError("PNG encoding failed")
    return encoded.tobytes()
