"""IBSI 2 wavelets: undecimated separable wavelets (PyWavelets' filter banks, a trous) and the
Simoncelli non-separable wavelet."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pywt
from scipy import fft

from medspark.radiomics.filters.convolution import (
    X_Y_Z_AXES,
    convolve_separable,
    odd_length,
    pooled_over_rotations,
    window_support,
)
from medspark.radiomics.filters.settings import SeparableWaveletFilter, SimoncelliWaveletFilter


def _dilated(kernel: np.ndarray, times: int) -> np.ndarray:
    for _ in range(times):
        wider = np.zeros(2 * len(kernel) - 1)
        wider[::2] = kernel
        kernel = wider
    return kernel


def separable_wavelet_response(
    volume: np.ndarray, spacing: Sequence[float], spec: SeparableWaveletFilter
) -> np.ndarray:
    """The response of the configuration's band at `spec.level`: the low-pass band is taken
    `level - 1` times, each time with kernels twice as wide (a trous), then the band itself."""
    bank = pywt.Wavelet(spec.wavelet)
    low, high = odd_length(np.asarray(bank.dec_lo)), odd_length(np.asarray(bank.dec_hi))
    axes = X_Y_Z_AXES[: len(spec.configuration)]

    def respond(image: np.ndarray) -> np.ndarray:
        for level in range(spec.level - 1):
            image = convolve_separable(
                image, {axis: _dilated(low, level) for axis in axes}, spec.boundary
            )
        kernels = {
            axis: _dilated(low if band == "L" else high, spec.level - 1)
            for axis, band in zip(axes, spec.configuration, strict=True)
        }
        return convolve_separable(image, kernels, spec.boundary)

    if spec.rotation_invariant:
        return pooled_over_rotations(volume, respond, spec.dimensions, spec.pooling)
    return respond(volume)


def separable_wavelet_support(spacing: Sequence[float], spec: SeparableWaveletFilter) -> list[int]:
    """Voxels per axis the response at one voxel reads on either side."""
    width = len(odd_length(np.asarray(pywt.Wavelet(spec.wavelet).dec_lo)))
    half = sum(len(_dilated(np.ones(width), level)) // 2 for level in range(spec.level))
    return window_support(half, spec.dimensions)


def simoncelli_band(shape: Sequence[int], level: int) -> np.ndarray:
    """The Simoncelli band-pass in the Fourier domain, centred: cos(pi/2 log2(2 r / r_max))
    for r_max / 4 <= r <= r_max, with r_max = 2^(1 - level) and r the frequency radius
    normalised per axis."""
    centre = [(n - 1) / 2.0 for n in shape]
    coordinates = np.meshgrid(
        *[(np.arange(n) - c) / c for n, c in zip(shape, centre, strict=True)], indexing="ij"
    )
    radius = np.sqrt(sum(c**2 for c in coordinates))
    top = 2.0 ** (1.0 - level)
    band = np.zeros(radius.shape)
    inside = (radius >= top / 4.0) & (radius <= top)
    band[inside] = np.cos(np.pi / 2.0 * np.log2(2.0 * radius[inside] / top))
    return band


def simoncelli_response(
    volume: np.ndarray, spacing: Sequence[float], spec: SimoncelliWaveletFilter
) -> np.ndarray:
    """The real part of the volume filtered by the band, slice by slice in 2d."""
    values = volume.astype(np.float64)
    if spec.dimensions == "2d":
        band = fft.ifftshift(simoncelli_band(values.shape[1:], spec.level))
        return np.real(fft.ifft2(fft.fft2(values, axes=(1, 2)) * band, axes=(1, 2)))
    band = fft.ifftshift(simoncelli_band(values.shape, spec.level))
    return np.real(fft.ifftn(fft.fftn(values) * band))


def simoncelli_support(spacing: Sequence[float], spec: SimoncelliWaveletFilter) -> list[int]:
    """The filter is global: a region's response needs the whole image."""
    return [-1, -1, -1]
