"""The volumes job and `medspark register` on ingested series: real multi-frame and synthetic."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from pydicom.data import get_testdata_file

from medspark.cli import main
from medspark.spark.jobs.ingest import run_ingest
from medspark.spark.jobs.volumes import run_volumes
from medspark.spark.run import Run
from tests import synthetic_series as synth
from tests.conftest import TEST_KEY, pydicom_file
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def volumes_out(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("volumes")
    inputs = root / "in"
    fixed_values, _ = synth.sphere_volume()
    fixed = synth.write_series(inputs / "fixed", fixed_values, study_uid="1.2.3.4")
    moving_values, _ = synth.sphere_volume(offset_mm=(5.0, 0.0, 0.0), angle=-8.0)
    moving = synth.write_series(inputs / "moving", moving_values, study_uid="1.2.3.4", seed=9)
    shutil.copy(get_testdata_file("rtdose.dcm"), inputs / "dose")
    shutil.copy(pydicom_file("CT_small.dcm"), inputs / "single")
    settings = make_settings()
    out = root / "out"
    run_ingest(Run(spark, settings, str(out), str(inputs), TEST_KEY))
    result = run_volumes(Run(spark, settings, str(out), key=TEST_KEY))
    table = pq.read_table(out / "volumes").to_pylist()
    return out, result, table, fixed, moving


def _by_modality(table, modality):
    return [row for row in table if row["modality"] == modality]


def test_every_image_series_has_one_row_with_a_status(volumes_out):
    _, result, table, _, _ = volumes_out
    assert result.summary["counts"]["by_status"] == {"built": 3, "single_image": 1}
    assert len({row["series_instance_uid"] for row in table}) == len(table) == 4


def test_synthetic_series_geometry_and_region(volumes_out):
    _, _, table, fixed, _ = volumes_out
    built = [r for r in _by_modality(table, "CT") if r["status"] == "built"]
    assert len(built) == 2 and all(r["n_instances"] == synth.SLICES for r in built)
    for row in built:
        assert row["dimensions"] == [synth.SLICES, synth.ROWS, synth.COLUMNS]
        assert row["spacing_mm"] == pytest.approx([synth.SLICE_MM, *synth.PIXEL_MM])
        assert row["orientation"] == pytest.approx(list(fixed.orientation))
        assert row["missing_slices"] == 0 and row["intensity_unit"] == "HU"
        assert row["region_volume_mm3"] > fixed.sphere_mm3  # sphere plus block, largest part
        assert row["fo_minimum"] == -1000 and row["fo_maximum"] == 200
        for view in ("axial_png", "coronal_png", "sagittal_png", "mip_png"):
            assert (
                cv2.imdecode(np.frombuffer(row[view], np.uint8), cv2.IMREAD_GRAYSCALE) is not None
            )


def test_rt_dose_is_a_volume_in_dose_units(volumes_out):
    _, _, table, _, _ = volumes_out
    (dose,) = _by_modality(table, "RTDOSE")
    assert dose["status"] == "built" and dose["dimensions"] == [15, 10, 10]
    assert dose["intensity_unit"] == "RELATIVE"  # the file's DoseUnits
    assert dose["spacing_mm"][0] > 0


def test_register_command_aligns_two_series_and_writes_a_fusion(volumes_out):
    out, _, table, _, _ = volumes_out
    built = [r for r in _by_modality(table, "CT") if r["status"] == "built"]
    # the rows do not say which series is which: try both ways, one is the moved one
    printed = io.StringIO()
    fixed_uid, moving_uid = sorted(r["series_instance_uid"] for r in built)
    with contextlib.redirect_stdout(printed):
        code = main(
            ["register", str(out), "--fixed", fixed_uid, "--moving", moving_uid, "--throwaway-key"]
        )
    assert code == 0
    document = next((out / "registrations").glob("*.json"))
    transform = json.loads(document.read_text())["transform"]
    assert abs(transform["angle_degrees"]) == pytest.approx(8.0, abs=1.0)
    assert abs(transform["shift_along_normal_mm"]) == pytest.approx(5.0, abs=synth.SLICE_MM)
    assert transform["similarity_after"] > transform["similarity_before"]
    fusion = cv2.imread(str(document.with_suffix(".png")), cv2.IMREAD_COLOR)
    assert fusion.shape == (synth.ROWS, synth.COLUMNS, 3)
    assert "fusion:" in printed.getvalue()


def test_register_refuses_an_unknown_uid(volumes_out, capsys):
    out = volumes_out[0]
    code = main(["register", str(out), "--fixed", "1.2", "--moving", "1.3", "--throwaway-key"])
    assert code == 2
    assert "no series or instance" in capsys.readouterr().err


def test_report_shows_the_built_volumes_in_three_planes_and_a_mip(spark, volumes_out):
    from medspark.report.gather import gather
    from medspark.report.page import render

    out = volumes_out[0]
    data = gather(spark, str(out))
    assert data.volume_statuses == {"built": 3, "single_image": 1}
    html = render(data)
    assert 'id="volumes"' in html
    for view in ("axial", "coronal", "sagittal", "mip"):
        assert html.count(f'alt="CT {view}"') == 2
    assert "40 \u00d7 96 \u00d7 96 voxels" in html
