"""Feature values against the IBSI reference (digital phantom) and scikit-image."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from skimage.feature import graycomatrix, graycoprops

from medspark.imaging.discretise import fixed_bin_number
from medspark.imaging.first_order import first_order
from medspark.imaging.texture import glcm_features_of_levels
from tests.conftest import SHARED_DATA, needs, pydicom_file

PHANTOM = SHARED_DATA / "ibsi_digital_phantom"

# IBSI reference manual (Zwanenburg et al., arXiv:1612.07003), digital phantom, intensity-based
# statistics over the mask, as quoted in shared/data/README.md. Tolerance: the quoted precision.
IBSI_FIRST_ORDER = {
    "fo_mean": 2.15,
    "fo_variance": 3.05,
    "fo_skewness": 1.08,
    "fo_kurtosis": -0.355,
    "fo_median": 1,
    "fo_minimum": 1,
    "fo_p10": 1,
    "fo_p90": 4,
    "fo_maximum": 6,
    "fo_iqr": 3,
    "fo_range": 5,
    "fo_mad": 1.55,
    "fo_rmad": 1.11,
    "fo_medad": 1.15,
    "fo_cov": 0.812,
    "fo_qcod": 0.6,
    "fo_energy": 567,
    "fo_rms": 2.77,
}


@pytest.fixture(scope="module")
def phantom():
    needs((PHANTOM / "image.nii.gz").is_file(), "shared/data/ibsi_digital_phantom")
    import nibabel

    image = np.asarray(nibabel.load(PHANTOM / "image.nii.gz").dataobj).astype(np.float64)
    mask = np.asarray(nibabel.load(PHANTOM / "mask.nii.gz").dataobj) > 0
    return image, mask


@pytest.mark.parametrize("name,expected", sorted(IBSI_FIRST_ORDER.items()))
def test_first_order_matches_ibsi_phantom(phantom, name, expected):
    image, mask = phantom
    value = first_order(image, mask)[name]
    digits = len(str(expected).split(".")[1]) if "." in str(expected) else 0
    assert value == pytest.approx(expected, abs=0.5 * 10**-digits + 1e-9), name


def real_levels(bins: int = 16) -> np.ndarray:
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    return fixed_bin_number(ds.pixel_array.astype(np.float64), bins)


SKIMAGE_EQUIVALENTS = {
    "glcm_contrast": "contrast",
    "glcm_dissimilarity": "dissimilarity",
    "glcm_inverse_difference_moment": "homogeneity",
    "glcm_angular_second_moment": "ASM",
    "glcm_correlation": "correlation",
    "glcm_joint_average": "mean",
    "glcm_joint_variance": "variance",
}


def skimage_glcm(levels: np.ndarray, bins: int) -> dict[str, float]:
    """scikit-image's GLCM properties of a whole image, four directions averaged, IBSI names."""
    matrix = graycomatrix(
        (levels - 1).astype(np.uint8),
        distances=[1],
        angles=[0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
        levels=bins,
        symmetric=True,
        normed=True,
    )
    props = {name: graycoprops(matrix, prop).mean() for name, prop in SKIMAGE_EQUIVALENTS.items()}
    props["glcm_joint_average"] += 1  # skimage counts levels from 0, IBSI from 1
    return props


@pytest.mark.parametrize("image_name", ["CT_small.dcm", "MR_small.dcm"])
def test_glcm_matches_scikit_image_on_real_images(image_name):
    """Whole-image GLCM, four directions averaged, against skimage's graycoprops (rtol 1e-9)."""
    bins = 16
    ds = pydicom.dcmread(pydicom_file(image_name))
    levels = fixed_bin_number(ds.pixel_array.astype(np.float64), bins)
    ours = glcm_features_of_levels(levels, np.ones(levels.shape, dtype=bool), bins, 1)
    for name, value in skimage_glcm(levels, bins).items():
        assert ours[name] == pytest.approx(value, rel=1e-9), name
    matrix = graycomatrix(
        (levels - 1).astype(np.uint8), [1], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], bins,
        symmetric=True, normed=True,
    )  # fmt: skip
    entropy = -np.nansum(matrix * np.log2(np.where(matrix > 0, matrix, 1)), axis=(0, 1)).mean()
    assert ours["glcm_joint_entropy"] == pytest.approx(entropy, rel=1e-9)


def test_glcm_respects_the_mask():
    """A square mask over the image gives scikit-image's values for the cropped square."""
    levels = real_levels()
    mask = np.zeros(levels.shape, dtype=bool)
    mask[32:96, 32:96] = True
    masked = glcm_features_of_levels(levels, mask, 16, 1)
    expected = skimage_glcm(levels[32:96, 32:96], 16)
    for name, value in expected.items():
        assert masked[name] == pytest.approx(value, rel=1e-9), name


def test_constant_image_has_zero_spread():
    features = first_order(np.full((8, 8), 7.0))
    assert features["fo_variance"] == 0 and features["fo_entropy"] == 0
    assert features["fo_uniformity"] == 1


def test_fixed_bin_width_on_the_phantom_reproduces_its_levels(phantom):
    """The phantom holds integers 1..6: width 1 from the minimum gives back the same levels,
    and the histogram entropy and uniformity are IBSI's (TLU2 1.27, BJ5W 0.512)."""
    from medspark.imaging.discretise import discretise

    image, mask = phantom
    np.testing.assert_array_equal(discretise(image[mask], 32, 1.0), image[mask].astype(int))
    features = first_order(image, mask, bin_width=1.0)
    assert features["fo_entropy"] == pytest.approx(1.27, abs=0.005)
    assert features["fo_uniformity"] == pytest.approx(0.512, abs=0.0005)


def test_glcm_by_bin_width_matches_scikit_image_on_levels_computed_here():
    from medspark.imaging.texture import glcm_features

    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    values = ds.pixel_array.astype(np.float64)
    width = 64.0
    levels = np.floor((values - values.min()) / width).astype(np.int64) + 1  # IBSI 2.7, FBS
    bins = int(levels.max())
    by_width = glcm_features(values, np.ones(values.shape, dtype=bool), bins=99, bin_width=width)
    for name, value in skimage_glcm(levels, bins).items():
        assert by_width[name] == pytest.approx(value, rel=1e-9), name


def reference_rows(family: str, aggregation: str = "") -> dict[str, tuple[str, float, float]]:
    """ibsi_name -> (ibsi_id, value, tolerance: half a unit of the last digit given)."""
    import csv

    path = PHANTOM / "reference_values.csv"
    needs(path.is_file(), "shared/data/ibsi_digital_phantom/reference_values.csv")
    rows = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["family"] == family and row["aggregation"] == aggregation:
                text = row["value"]
                digits = len(text.split(".")[1]) if "." in text else 0
                rows[row["ibsi_name"]] = (row["ibsi_id"], float(text), 0.5 * 10**-digits)
    return rows


IBSI_GLCM_NAMES = {
    "cm.joint.max": "joint_max", "cm.joint.avg": "joint_average",
    "cm.joint.var": "joint_variance", "cm.joint.entr": "joint_entropy",
    "cm.diff.avg": "difference_average", "cm.diff.var": "difference_variance",
    "cm.diff.entr": "difference_entropy", "cm.sum.avg": "sum_average",
    "cm.sum.var": "sum_variance", "cm.sum.entr": "sum_entropy",
    "cm.energy": "angular_second_moment", "cm.contrast": "contrast",
    "cm.dissimilarity": "dissimilarity", "cm.inv.diff": "inverse_difference",
    "cm.inv.diff.norm": "inverse_difference_normalised",
    "cm.inv.diff.mom": "inverse_difference_moment",
    "cm.inv.diff.mom.norm": "inverse_difference_moment_normalised",
    "cm.inv.var": "inverse_variance", "cm.corr": "correlation",
    "cm.auto.corr": "autocorrelation", "cm.clust.tend": "cluster_tendency",
    "cm.clust.shade": "cluster_shade", "cm.clust.prom": "cluster_prominence",
    "cm.info.corr.1": "information_correlation_1", "cm.info.corr.2": "information_correlation_2",
}  # fmt: skip


def test_every_glcm_feature_matches_the_ibsi_2d_averaged_reference(phantom):
    """Per axial slice of the phantom (its levels 1..6 as they are), then averaged over slices:
    IBSI's "2D, averaged" aggregation. All 25 reference rows, at the precision given."""
    image, mask = phantom
    reference = reference_rows("Grey level co-occurrence based features", "2D, averaged")
    assert set(reference) == set(IBSI_GLCM_NAMES)
    per_slice = [
        glcm_features_of_levels(
            np.where(mask[:, :, k], image[:, :, k], 1).astype(int), mask[:, :, k], 6, 1
        )
        for k in range(image.shape[2])
        if mask[:, :, k].any()
    ]
    wrong = {}
    for ibsi_name, (ibsi_id, value, tolerance) in reference.items():
        column = f"glcm_{IBSI_GLCM_NAMES[ibsi_name]}"
        ours = float(np.mean([features[column] for features in per_slice]))
        if not abs(ours - value) <= tolerance + 1e-12:  # written so that NaN fails too
            wrong[f"{ibsi_id} {column}"] = (ours, value)
    assert wrong == {}


def test_histogram_entropy_and_uniformity_match_the_ibsi_reference(phantom):
    image, mask = phantom
    reference = reference_rows("Intensity histogram features")
    features = first_order(image, mask, bins=6)
    for ibsi_name, column in (("ih.entropy", "fo_entropy"), ("ih.uniformity", "fo_uniformity")):
        _, value, tolerance = reference[ibsi_name]
        assert features[column] == pytest.approx(value, abs=tolerance + 1e-12), column


@pytest.mark.parametrize("image_name", ["CT_small.dcm", "MR_small.dcm"])
def test_first_order_matches_scipy_and_numpy_on_real_images(image_name):
    """Every statistic against an independent computation on a real image's stored values."""
    from scipy import stats

    x = pydicom.dcmread(pydicom_file(image_name)).pixel_array.astype(np.float64).ravel()
    ours = first_order(x.reshape(-1, 1), bins=32)
    p10, p25, p50, p75, p90 = (float(np.quantile(x, q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9))
    inner = x[(x >= p10) & (x <= p90)]
    counts, _ = np.histogram(x, bins=32, range=(x.min(), x.max()))
    probabilities = counts[counts > 0] / x.size
    expected = {
        "fo_mean": x.mean(),
        "fo_variance": x.var(),
        "fo_skewness": stats.skew(x),
        "fo_kurtosis": stats.kurtosis(x, fisher=True),
        "fo_median": p50,
        "fo_minimum": x.min(),
        "fo_p10": p10,
        "fo_p90": p90,
        "fo_maximum": x.max(),
        "fo_iqr": p75 - p25,
        "fo_range": np.ptp(x),
        "fo_mad": np.mean(np.abs(x - x.mean())),
        "fo_rmad": np.mean(np.abs(inner - inner.mean())),
        "fo_medad": np.mean(np.abs(x - p50)),
        "fo_cov": x.std() / x.mean(),
        "fo_qcod": (p75 - p25) / (p75 + p25),
        "fo_energy": np.sum(x * x),
        "fo_rms": np.sqrt(np.mean(x * x)),
        "fo_entropy": -np.sum(probabilities * np.log2(probabilities)),
        "fo_uniformity": np.sum(probabilities**2),
    }
    assert set(ours) == set(expected)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(float(value), rel=1e-9, abs=1e-12), name


def test_degenerate_regions():
    assert first_order(np.zeros((4, 4)), np.zeros((4, 4), dtype=bool)) == {}
    flat = first_order(np.full((8, 8), 7.0))
    assert (flat["fo_skewness"], flat["fo_kurtosis"], flat["fo_rmad"]) == (0.0, 0.0, 0.0)
    assert flat["fo_cov"] == 0.0 and flat["fo_qcod"] == 0.0
    zeros = first_order(np.zeros((8, 8)))
    assert zeros["fo_cov"] is None and zeros["fo_qcod"] is None
    one = first_order(np.array([[1.0, 1.0, 1.0, 1.0]]))
    assert one["fo_cov"] == 0.0  # a mean of one is an ordinary mean
    symmetric = first_order(np.array([[-1.0, 1.0, -1.0, 1.0]]))
    assert symmetric["fo_cov"] is None and symmetric["fo_qcod"] is None
    assert symmetric["fo_skewness"] == 0.0 and symmetric["fo_kurtosis"] == pytest.approx(-2.0)
    small = first_order(np.array([[0.0, 0.5, 0.5, 1.0]]))  # variance below one
    assert small["fo_skewness"] == pytest.approx(0.0) and small["fo_kurtosis"] == pytest.approx(
        -1.0
    )


def test_glcm_of_a_flat_region_is_finite():
    """One grey level: no spread, so correlation and information correlation are 0, not NaN."""
    flat = glcm_features_of_levels(np.full((6, 6), 3), np.ones((6, 6), dtype=bool), 4, 1)
    assert all(np.isfinite(v) for v in flat.values())
    assert flat["glcm_correlation"] == 0.0 and flat["glcm_information_correlation_1"] == 0.0
    assert flat["glcm_joint_max"] == 1.0 and flat["glcm_contrast"] == 0.0
    assert flat["glcm_sum_average"] == 6.0 and flat["glcm_difference_average"] == 0.0
