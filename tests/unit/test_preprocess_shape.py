"""Preprocessing steps keep geometry honest; shape features measure known shapes."""

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter

from medspark.imaging.preprocess import Frame, Step, apply_steps
from medspark.imaging.render import npz_tensor, png_thumbnail
from medspark.imaging.shape import foreground_mask, shape_features, to_uint8
from medspark.imaging.structure import edge_features, hu_moment_features, keypoint_features

STEPS = TypeAdapter(list[Step])


def frame(rows=100, columns=200, spacing=(0.5, 0.25)):
    values = np.arange(rows * columns, dtype=np.float32).reshape(rows, columns)
    return Frame(values, values / values.max(), spacing)


def run(steps, f=None):
    return apply_steps(f or frame(), STEPS.validate_python(steps))


def test_resize_keeps_aspect_and_spacing_true():
    out = run([{"op": "resize", "size": 50, "keep_aspect": True, "pad": False}])
    assert out.values.shape == (25, 50)
    assert out.spacing == pytest.approx((2.0, 1.0))
    padded = run([{"op": "resize", "size": 50, "keep_aspect": True, "pad": True}])
    assert padded.values.shape == (50, 50) and padded.display.shape == (50, 50)


def test_resample_to_isotropic_spacing():
    out = run([{"op": "resample", "spacing_mm": 0.5}])
    assert out.values.shape == (100, 100) and out.spacing == (0.5, 0.5)


def test_crop_rotate_flip():
    assert run([{"op": "crop", "center": [10, 20]}]).values.shape == (10, 20)
    assert run([{"op": "crop", "box": [0, 0, 5, 7]}]).values.shape == (5, 7)
    turned = run([{"op": "rotate", "degrees": 90}])
    assert turned.values.shape == (200, 100) and turned.spacing == (0.25, 0.5)
    flipped = run([{"op": "flip", "axis": "horizontal"}])
    np.testing.assert_array_equal(flipped.values, frame().values[:, ::-1])
    tilted = run([{"op": "rotate", "degrees": 30}])
    assert tilted.values.shape == (100, 200)


@pytest.mark.parametrize("method", ["minmax", "zscore", "percentile"])
def test_normalisation_changes_values_not_display(method):
    out = run([{"op": "normalize", "method": method}])
    np.testing.assert_array_equal(out.display, frame().display)
    if method == "zscore":
        assert out.values.mean() == pytest.approx(0, abs=1e-4)
        assert out.values.std() == pytest.approx(1, rel=1e-4)
    else:
        assert out.values.min() == pytest.approx(0) and out.values.max() == pytest.approx(1)


def test_unknown_steps_are_rejected():
    with pytest.raises(ValueError):
        STEPS.validate_python([{"op": "sharpen"}])


def disk_image(size=200, radius=40, centres=((100, 100),)):
    image = np.zeros((size, size), dtype=np.uint8)
    for centre in centres:
        cv2.circle(image, centre, radius, 220, thickness=-1)
    return image


def test_shape_of_a_disk():
    mask = foreground_mask(disk_image())
    features = shape_features(mask, (0.5, 0.5))
    assert features["shape_area_px"] == pytest.approx(np.pi * 40**2, rel=0.03)
    assert features["shape_area_mm2"] == pytest.approx(np.pi * 40**2 * 0.25, rel=0.03)
    assert features["shape_perimeter_px"] == pytest.approx(2 * np.pi * 40, rel=0.05)
    assert features["shape_eccentricity"] < 0.1
    assert features["shape_solidity"] > 0.97
    assert features["shape_components"] == 1


def test_two_disks_are_two_components_and_blank_has_no_mask():
    mask = foreground_mask(disk_image(centres=((50, 50), (150, 150)), radius=30))
    assert shape_features(mask, None)["shape_components"] == 2
    assert foreground_mask(np.zeros((50, 50), dtype=np.uint8)) is None


def test_edges_keypoints_and_moments():
    image = disk_image()
    assert 0 < edge_features(image)["edge_density"] < 0.1
    assert edge_features(np.zeros((64, 64), dtype=np.uint8))["edge_density"] == 0
    assert keypoint_features(image)["kp_orb_count"] >= 0
    textured = (np.random.default_rng(1).random((128, 128)) * 255).astype(np.uint8)
    assert keypoint_features(textured)["kp_orb_count"] > 10
    hu = hu_moment_features(image)
    assert len(hu) == 7 and hu["hu_1"] > 0


def test_thumbnail_and_tensor_round_trip():
    import io

    display = to_uint8(frame().display)
    png = png_thumbnail(display, 64)
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert decoded.shape == (32, 64)
    values = frame().values
    np.testing.assert_array_equal(np.load(io.BytesIO(npz_tensor(values)))["values"], values)
