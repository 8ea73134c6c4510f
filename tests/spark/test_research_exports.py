"""Research exports from the command line: NIfTI checked against dcm2niix (Debian's), label
maps against the SEG they come from, the nnU-Net layout, DICOM re-encoded losslessly, and
training shards read back with the exports page's Dataset example."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pyarrow.dataset as pads
import pydicom
import pytest

from medspark.cli import main
from medspark.errors import EXIT_USAGE
from tests.conftest import needs, pydicom_data_files, pydicom_file
from tests.region_objects import write_ct_series, write_seg
from tests.synthetic_series import sphere_volume, write_series

pytestmark = pytest.mark.spark
FAST = ["--set", "features.keypoints=false", "--set", "features.thumbnail=false"]
DCM2NIIX = shutil.which("dcm2niix")
EXPORTS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "exports.md"


@pytest.fixture(scope="module", autouse=True)
def key():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDSPARK_PSEUDONYM_KEY", "research-export-key-0123456789")
        yield


def _manifest(out: Path, table: str) -> list[dict]:
    return pads.dataset(out / table).to_table().to_pylist()


@pytest.fixture(scope="module")
def study(spark, tmp_path_factory):
    """An oblique sphere series, an axial CT with a two-segment SEG, pydicom-data's enhanced CT
    and MR, and a single CT image, ingested and exported as NIfTI in both layouts."""
    root = tmp_path_factory.mktemp("research")
    inputs = root / "in"
    _, inside = sphere_volume()
    write_series(inputs / "sphere", np.where(inside, 200.0, -1000.0).astype(np.float32))
    volume = np.full((12, 24, 24), -1000, dtype=np.int16)
    volume[3:9, 5:15, 6:18] = 40
    ct = write_ct_series(inputs / "ct", volume, (2.0, 0.8, 0.8))
    lesion = np.zeros(volume.shape, bool)
    lesion[4:8, 6:12, 7:13] = True
    organ = np.zeros(volume.shape, bool)
    organ[3:9, 5:15, 14:18] = True
    write_seg(inputs / "seg.dcm", ct, {1: ("lesion", lesion), 2: ("organ", organ)})
    data = {p.name: p for p in pydicom_data_files()}
    if data:
        (inputs / "enhanced").mkdir()
        shutil.copy(data["eCT_Supplemental.dcm"], inputs / "enhanced" / "ect.dcm")
        shutil.copy(data["emri_small.dcm"], inputs / "enhanced" / "mr.dcm")  # no plane geometry
    (inputs / "single").mkdir()
    shutil.copy(pydicom_file("CT_small.dcm"), inputs / "single" / "ct.dcm")
    out = root / "out"
    assert main(["ingest", str(inputs), str(out), *FAST]) == 0
    assert main(["export", str(out), str(root / "nifti"), "--format", "nifti", *FAST]) == 0
    folders = _manifest(out, "exports_nifti")
    assert main(
        ["export", str(out), str(root / "nnunet"), "--format", "nifti", "--layout", "nnunet",
         *FAST]
    ) == 0  # fmt: skip
    return {"root": root, "inputs": inputs, "out": out, "folders": folders,
            "nnunet": _manifest(out, "exports_nifti"), "masks": (lesion, organ)}  # fmt: skip


def _image(rows: list[dict], shape: list[int], kind: str = "image") -> dict:
    return next(r for r in rows if r["kind"] == kind and r["shape"] == shape)


def _dcm2niix(folder: Path, into: Path) -> nib.Nifti1Image:
    needs(DCM2NIIX is not None, "dcm2niix (apt-get install dcm2niix)")
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [DCM2NIIX, "-z", "y", "-f", "ref", "-o", str(into), str(folder)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return nib.load(into / "ref.nii.gz")


def _agree(ours: nib.Nifti1Image, reference: nib.Nifti1Image) -> None:
    a, b = nib.as_closest_canonical(ours), nib.as_closest_canonical(reference)
    assert a.shape == b.shape
    assert np.abs(a.affine - b.affine).max() < 1e-3
    assert np.array_equal(a.get_fdata(), b.get_fdata())


def test_the_oblique_sphere_agrees_with_dcm2niix_and_keeps_its_volume(study):
    row = _image(study["folders"], [96, 96, 40])
    ours = nib.load(study["root"] / "nifti" / row["file"])
    _agree(ours, _dcm2niix(study["inputs"] / "sphere", study["root"] / "ref-sphere"))
    voxel_mm3 = float(np.prod(ours.header.get_zooms()))
    sphere = float(np.count_nonzero(ours.get_fdata() > -400)) * voxel_mm3
    assert sphere == pytest.approx(4 / 3 * np.pi * 20.0**3, rel=0.02)
    assert row["spacing_mm"] == pytest.approx([0.8, 0.8, 2.5])


def test_pydicom_datas_enhanced_ct_agrees_with_dcm2niix(study):
    needs(bool(pydicom_data_files()), "pydicom-data (test dependency)")
    row = _image(study["folders"], [512, 512, 2])
    ours = nib.load(study["root"] / "nifti" / row["file"])
    _agree(ours, _dcm2niix(study["inputs"] / "enhanced", study["root"] / "ref-enhanced"))


def test_the_seg_becomes_a_label_map_with_its_voxel_counts(study):
    lesion, organ = study["masks"]
    labels_row = _image(study["folders"], [24, 24, 12], kind="labels")
    assert labels_row["label_voxels"] == [int(lesion.sum()), int(organ.sum())]
    labels = nib.load(study["root"] / "nifti" / labels_row["file"])
    image = nib.load(study["root"] / "nifti" / _image(study["folders"], [24, 24, 12])["file"])
    assert np.array_equal(labels.affine, image.affine)
    data = np.asarray(labels.dataobj).transpose(2, 1, 0)  # back to (slice, row, column)
    assert np.array_equal(data == 1, lesion) and np.array_equal(data == 2, organ)
    sidecar = json.loads((study["root"] / "nifti" / labels_row["file"]).with_name("labels.json")
                         .read_text())  # fmt: skip
    assert [r["voxels"] for r in sidecar["regions"]] == [int(lesion.sum()), int(organ.sum())]


def test_series_that_are_not_volumes_are_listed_with_the_reason(study):
    skipped = {r["modality"]: r for r in study["folders"] if r["status"] == "skipped"}
    assert skipped["CT"]["reason"] == "single_image"
    if pydicom_data_files():  # the enhanced MR has no plane geometry: not guessed
        assert skipped["MR"]["reason"] == "roi_geometry_mismatch"
    assert all(r["file"] is None for r in skipped.values())


def test_the_nnunet_layout(study):
    root = study["root"] / "nnunet"
    dataset = json.loads((root / "dataset.json").read_text())
    assert dataset["labels"] == {"background": 0, "label_1": 1, "label_2": 2}
    assert dataset["numTraining"] == 1 and dataset["file_ending"] == ".nii.gz"
    cases = sorted(p.name for p in (root / "imagesTr").iterdir())
    assert len(cases) == 1 and cases[0].endswith("_0000.nii.gz")
    case = cases[0].removesuffix("_0000.nii.gz")
    assert sorted(p.name for p in (root / "labelsTr").iterdir()) == [
        f"{case}.json",
        f"{case}.nii.gz",
    ]
    assert len(list((root / "imagesTs").iterdir())) == (2 if pydicom_data_files() else 1)


def test_lossless_dicom_export_decodes_to_the_source_pixels(study, spark):
    out, dest = study["out"], study["root"] / "jpegls"
    code = main(["export", str(out), str(dest), "--transfer-syntax", "jpeg-ls-lossless", *FAST])
    assert code == 0
    manifest = {r["sop_instance_uid"]: r for r in _manifest(out, "exports")}
    paths = {
        r["sop_instance_uid"]: r["path"]
        for r in pads.dataset(out / "metadata").to_table(["sop_instance_uid", "path"]).to_pylist()
    }
    images = [r for r in manifest.values() if r["pixel_bytes_before"]]
    assert len(images) >= 50
    for row in images:
        written = pydicom.dcmread(dest / row["file"])
        source = pydicom.dcmread(paths[row["sop_instance_uid"]])
        if row["reencode_note"] is None:
            assert written.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80"
            assert row["pixel_bytes_after"] == len(written.PixelData)
        assert np.array_equal(written.pixel_array, source.pixel_array)
    before = sum(r["pixel_bytes_before"] for r in images)
    after = sum(r["pixel_bytes_after"] for r in images)
    assert before > 1.5 * after


def test_a_lossy_syntax_without_the_flag_is_refused(study, capsys):
    dest = study["root"] / "lossy"
    code = main(["export", str(study["out"]), str(dest), "--transfer-syntax", "jpeg2000"])
    assert code == EXIT_USAGE
    assert "is lossy: add --lossy" in capsys.readouterr().err
    assert not dest.exists()


def readme_dataset_example() -> str:
    """The Python block under the exports page's shards heading, as a reader would copy it."""
    text = EXPORTS_PAGE.read_text()
    section = text[text.index("<!-- shards-dataset -->") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_training_shards_read_back_with_the_readme_example(spark, tmp_path):
    from tests.spark.test_classify import NPZ, wrap

    needs(NPZ.is_file(), "shared/data/pneumoniamnist")
    labels = wrap(NPZ, tmp_path / "xrays", 20)
    out, dest = tmp_path / "out", tmp_path / "shards"
    tensors = ["--set", "features.tensor=true", *FAST]
    assert main(["ingest", str(tmp_path / "xrays" / "images"), str(out), *tensors]) == 0
    assert main(["features", str(out), *tensors]) == 0
    args = ["export", str(out), str(dest), "--format", "shards", "--labels", str(labels),
            "--shard-mb", "1"]  # fmt: skip
    assert main([*args, *tensors]) == 0
    namespace: dict = {}
    exec(readme_dataset_example(), namespace)  # the exports page's own example, as a reader runs it
    seen, patients = [], {}
    for split in ("train", "validation", "test"):
        dataset = namespace["MedsparkShards"](dest / "shards", split)
        for index in range(len(dataset)):
            values, label = dataset[index]
            assert values.shape == (256, 256) and values.dtype == np.float32  # local profile resize
            assert label in (0, 1)
        seen += dataset.keys
        for patient in dataset.patients:
            patients.setdefault(patient, set()).add(split)
    assert len(seen) == 40 and len(set(seen)) == 40  # every labelled frame, once
    assert all(len(splits) == 1 for splits in patients.values())
    assert len(list((dest / "shards").rglob("*.parquet"))) >= 2
