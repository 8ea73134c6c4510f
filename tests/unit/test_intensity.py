"""Modality LUT, windowing and photometric handling against pydicom's own functions."""

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_windowing

from medspark.imaging.intensity import intensities
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


# PS3.3 C.11.2.1.2.1 by hand for the lung window (center -600, width 1500): values at or
# below -1350 are 0, above 149 are 1, else (x + 600.5) / 1499 + 0.5.
LUNG_POINTS = {-2000.0: 0.0, -1350.0: 0.0, -1000.0: 0.2334890, -600.0: 0.5003336, 149.0: 1.0}


def test_presets_and_explicit_windows():
    ds = ct()
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    stored = np.array([list(LUNG_POINTS)], dtype=np.int16)
    for setting in ("lung", [-600, 1500]):
        rendered = intensities(stored, ds, 0, setting)
        np.testing.assert_allclose(rendered.display[0], list(LUNG_POINTS.values()), atol=1e-6)
    assert intensities(stored, ds, 0, "lung").window == "preset lung"
    explicit = intensities(stored, ds, 0, [40, 400])
    assert explicit.window == "explicit 40.0/400.0"
    np.testing.assert_allclose(explicit.display[0], [0, 0, 0, 0, 109.5 / 399 + 0.5], atol=1e-6)


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
