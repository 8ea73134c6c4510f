"""Small renderings for tables: PNG thumbnails and compressed arrays."""

from __future__ import annotations

import io

import cv2
import numpy as np


def png_thumbnail(display8: np.ndarray, max_side: int = 128) -> bytes:
    """An 8-bit grey PNG whose longest side is at most `max_side`."""
    height, width = display8.shape
    scale = min(1.0, max_side / max(height, width, 1))
    if scale < 1.0:
        size = (max(round(width * scale), 1), max(round(height * scale), 1))
        display8 = cv2.resize(display8, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".png", display8)
    if not ok:
        raise ValueError("PNG encoding failed")
    return encoded.tobytes()


def npz_tensor(values: np.ndarray) -> bytes:
    """The array as a compressed .npz (one entry, `values`) that numpy.load reads back."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, values=values.astype(np.float32))
    return buffer.getvalue()
