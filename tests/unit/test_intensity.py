"""Modality LUT, windowing and photometric handling against pydicom's own functions."""

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_windowing

from medspark.imaging.intensity import WINDOW_PRESETS, intensities, linear_window
from tests.conftest import pydicom_file


def ct():
    return pydicom.dcmread(pydicom_file("CT_small.dcm"))


def test_ct_values_are_hounsfield_units_as_pydicom_computes_them():
    ds = ct()
    result = intensities(ds.pixel_array, ds, 0, "none")
    np.testing.assert_allclose(result.values, apply_modality_lut(ds.pixel_array, ds))
    assert result.unit == "HU"
    assert result.values.min() > -1100 and result.values.max() < 3100


def test_window_matches_pydicom_linear_windowing():
    ds = ct()
    hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    ds.WindowCenter, ds.WindowWidth = 40, 400
    theirs = apply_windowing(hu, ds)
    theirs = (theirs - theirs.min()) / (theirs.max() - theirs.min())
    ours = intensities(ds.pixel_array, ds, 0, "header")
    assert ours.window == "header 40/400"
    np.testing.assert_allclose(ours.display, theirs, atol=1e-5)


def test_presets_and_explicit_windows():
    ds = ct()
    lung = intensities(ds.pixel_array, ds, 0, "lung")
    center, width = WINDOW_PRESETS["lung"]
    np.testing.assert_allclose(lung.display, linear_window(lung.values, center, width))
    explicit = intensities(ds.pixel_array, ds, 0, [40, 400])
    assert explicit.window == "explicit 40.0/400.0"
    assert explicit.display.min() >= 0.0 and explicit.display.max() <= 1.0


def test_monochrome1_is_inverted_for_display_only():
    ds = ct()
    normal = intensities(ds.pixel_array, ds, 0, [40, 400])
    ds.PhotometricInterpretation = "MONOCHROME1"
    inverted = intensities(ds.pixel_array, ds, 0, [40, 400])
    np.testing.assert_allclose(inverted.display, 1.0 - normal.display)
    np.testing.assert_array_equal(inverted.values, normal.values)


def test_colour_becomes_one_grey_channel():
    ds = pydicom.dcmread(pydicom_file("SC_rgb_rle.dcm"))
    rgb = ds.pixel_array
    grey = intensities(rgb, ds, 0, "none").values
    assert grey.shape == rgb.shape[:2]
    expected = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    np.testing.assert_allclose(grey, expected, rtol=1e-5)


def test_palette_colour_is_looked_up():
    ds = pydicom.dcmread(pydicom_file("examples_palette.dcm"))
    result = intensities(ds.pixel_array, ds, 0, "none")
    assert result.values.ndim == 2 and result.values.std() > 0
