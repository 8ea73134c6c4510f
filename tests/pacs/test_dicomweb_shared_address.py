"""Two instances with the same study, series and SOP Instance UIDs under two patients, held by a
real Orthanc: a DICOMweb ingest accounts for both, each quarantined by name (their one WADO-RS
address cannot say whose instance it returns: Orthanc answers 404)."""

from __future__ import annotations

import io

import pyarrow.dataset as pads
import pydicom
import pytest

from medspark.spark.jobs.pipeline import run_single_pass
from medspark.spark.run import Run
from tests.conftest import TEST_KEY, pydicom_file
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark


def _as_patient(patient_id: str) -> bytes:
    dataset = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    dataset.PatientID, dataset.PatientName = patient_id, f"Shared^{patient_id}"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_an_instance_sharing_its_wado_address_is_accounted_not_lost(spark, orthanc, tmp_path):
    for patient in ("SHARED-A", "SHARED-B"):
        assert orthanc.store(_as_patient(patient))
    assert len(orthanc.get("/instances")) == 2  # Orthanc keeps both (its ids hash the patient)
    ran = run_single_pass(Run(spark, make_settings(), str(tmp_path), orthanc.dicomweb, TEST_KEY))
    counts = ran.summary["counts"]
    assert counts["listed_files"] == counts["accounted_files"] == 2
    quarantine = pads.dataset(tmp_path / "quarantine", partitioning="hive").to_table().to_pylist()
    assert (
        not (tmp_path / "metadata").exists() or not pads.dataset(tmp_path / "metadata").count_rows()
    )
    assert {q["reason"] for q in quarantine} == {"wado_address_shared"} and len(quarantine) == 2
    first, second = sorted(q["path"] for q in quarantine)
    assert second == first + "#2" and "/instances/" in first
    for row in quarantine:
        assert row["stage"] == "catalog" and "2 instances" in row["detail"]
        assert "PatientID" in row["detail"] and "SHARED-" not in row["detail"]
