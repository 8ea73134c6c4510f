"""Rigid, intensity-based registration (OpenCV phase correlation, then ECC) and fusion views."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from medspark.volume.build import Volume


@dataclass(frozen=True)
class Rigid2D:
    """Where the moving image's content lies relative to the fixed one: rotated about the
    image centre by `angle_degrees` (counter-clockwise on screen, OpenCV's convention), then
    shifted. `matrix` maps fixed pixel (x, y) to moving pixel coordinates."""

    angle_degrees: float
    shift_rows: float
    shift_columns: float
    matrix: tuple[tuple[float, ...], ...]
    similarity_before: float
    similarity_after: float
    converged: bool


def _normalised(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float32)
    low, high = np.percentile(image, [0.5, 99.5])
    return np.clip((image - low) / max(float(high - low), 1e-6), 0, 1).astype(np.float32)


def correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Pearson correlation of two images over `mask` (everything when None)."""
    x = a[mask] if mask is not None else a.ravel()
    y = b[mask] if mask is not None else b.ravel()
    x = x.astype(np.float64) - x.mean()
    y = y.astype(np.float64) - y.mean()
    denominator = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else 0.0


def warp(moving: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The moving image resampled on the fixed grid (matrix maps fixed to moving pixels)."""
    return cv2.warpAffine(
        moving.astype(np.float32),
        np.asarray(matrix, np.float32),
        (shape[1], shape[0]),
        flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=float("nan"),
    )


def _ecc(a: np.ndarray, b: np.ndarray, matrix: np.ndarray, scale: int, iterations: int):
    """ECC at 1/scale resolution from `matrix` (full-resolution); (score, refined matrix)."""
    size = (max(1, a.shape[1] // scale), max(1, a.shape[0] // scale))
    small_a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    small_b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    scaled = matrix.astype(np.float32).copy()
    scaled[:, 2] /= scale
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-6)
    try:
        score, scaled = cv2.findTransformECC(  # type: ignore[call-overload]
            small_a, small_b, scaled, cv2.MOTION_EUCLIDEAN, criteria, None, 3
        )
    except cv2.error:
        return -1.0, matrix
    refined = scaled.copy()
    refined[:, 2] *= scale
    return float(score), refined


def _start(a: np.ndarray, b: np.ndarray, angle: float, window: np.ndarray) -> np.ndarray:
    """A rotation by `angle` about the centre, plus the shift phase correlation then finds."""
    centre = ((a.shape[1] - 1) / 2, (a.shape[0] - 1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0).astype(np.float32)
    rotated = np.nan_to_num(warp(b, matrix, a.shape))
    # phaseCorrelate windows its inputs in place: give it copies
    (dx, dy), _ = cv2.phaseCorrelate(a.copy(), rotated.astype(np.float32), window)
    matrix[:, 2] += matrix[:, :2] @ np.array([dx, dy], np.float32)
    return matrix


def register_images(
    fixed: np.ndarray,
    moving: np.ndarray,
    *,
    angles: tuple[float, ...] = tuple(range(-30, 31, 5)),
    iterations: int = 300,
) -> Rigid2D:
    """Rigidly align `moving` to `fixed` (resized to the fixed grid when sizes differ).

    For each starting angle, phase correlation gives the shift and ECC (Euclidean motion)
    refines both on a quarter-resolution copy; the best start is refined at half and full
    resolution. Similarity is the correlation over the pixels both images cover.
    """
    if fixed.shape != moving.shape:
        moving = cv2.resize(moving.astype(np.float32), (fixed.shape[1], fixed.shape[0]))
    a, b = _normalised(fixed), _normalised(moving)
    window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
    coarse = 4 if min(a.shape) >= 64 else 1
    starts = [_ecc(a, b, _start(a, b, angle, window), coarse, iterations) for angle in angles]
    score, matrix = max(starts, key=lambda found: found[0])
    for scale in (2, 1):
        if scale < coarse:
            score, matrix = _ecc(a, b, matrix, scale, iterations)
    aligned = warp(b, matrix, a.shape)
    overlap = np.isfinite(aligned)
    # ECC's Euclidean warp is x' = R x + t about the origin; report it about the image centre
    angle = -math.degrees(math.atan2(float(matrix[1, 0]), float(matrix[0, 0])))
    centre = np.array([(a.shape[1] - 1) / 2, (a.shape[0] - 1) / 2])
    shift = matrix[:, :2] @ centre + matrix[:, 2] - centre
    return Rigid2D(
        angle,
        float(shift[1]),
        float(shift[0]),
        tuple(tuple(float(v) for v in row) for row in matrix),
        correlation(a, b),
        correlation(a, np.nan_to_num(aligned), overlap),
        score > 0,
    )


def _resample_in_plane(image: np.ndarray, spacing: tuple[float, float], target: tuple):
    height = max(1, round(image.shape[0] * spacing[0] / target[0]))
    width = max(1, round(image.shape[1] * spacing[1] / target[1]))
    return cv2.resize(image.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class VolumeRegistration:
    """In-plane rigid transform (on axial MIPs) plus a shift along the slice normal."""

    in_plane: Rigid2D
    shift_slices_mm: float
    pixel_spacing_mm: tuple[float, float]


def register_volumes(fixed: Volume, moving: Volume) -> VolumeRegistration:
    """Align two volumes: rotation about the normal and in-plane shift from their axial MIPs,
    the shift along the normal from the cross-correlation of their slice-mean profiles.
    Rotations out of the slice plane are not modelled."""
    fixed_spacing = fixed.spacing_mm or (1.0, 1.0, 1.0)
    moving_spacing = moving.spacing_mm or fixed_spacing
    fixed_mip = fixed.values.max(axis=0)
    moving_mip = _resample_in_plane(
        moving.values.max(axis=0), moving_spacing[1:], fixed_spacing[1:]
    )
    moving_mip = cv2.resize(moving_mip, (fixed_mip.shape[1], fixed_mip.shape[0]))
    in_plane = register_images(fixed_mip, moving_mip)
    step = fixed_spacing[0]
    profile = lambda v, s: np.interp(  # noqa: E731
        np.arange(0, v.shape[0] * s, step), np.arange(v.shape[0]) * s, v.mean(axis=(1, 2))
    )
    f = profile(fixed.values, fixed_spacing[0])
    m = profile(moving.values, moving_spacing[0])
    f, m = f - f.mean(), m - m.mean()
    lags = np.correlate(m, f, mode="full")
    lag = int(np.argmax(lags)) - (len(f) - 1)
    return VolumeRegistration(in_plane, lag * step, (fixed_spacing[1], fixed_spacing[2]))


def fusion_png(fixed: np.ndarray, aligned: np.ndarray, weight: float = 0.5) -> bytes:
    """The fixed image in grey with the aligned moving image in a hot colour map over it."""
    a = (_normalised(fixed) * 255).astype(np.uint8)
    b = (_normalised(np.nan_to_num(aligned, nan=float(np.nanmin(aligned)))) * 255).astype(np.uint8)
    base = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    heat = cv2.applyColorMap(b, cv2.COLORMAP_HOT)
    fused = cv2.addWeighted(base, 1 - weight, heat, weight, 0)
    ok, encoded = cv2.imencode(".png", fused)
    if not ok:
        raise ValueError("could not encode the fusion image")
    return encoded.tobytes()
