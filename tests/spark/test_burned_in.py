"""Burned-in PHI through `medspark pipeline` and `medspark export`: real ultrasound, secondary
capture, X-ray and test-pattern frames with the instance's own name, ID and birth date drawn in are
released, redacted, and unreadable to an independent OCR in every frame, thumbnail and tensor."""

from __future__ import annotations

import io
import shutil

import cv2
import numpy as np
import pyarrow.parquet as pq
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import RLELossless

from medspark.cli import main
from medspark.imaging.burned_in_text import ocr_image
from tests.burned_text import burn, readable

pytestmark = pytest.mark.spark

KEY = "burned-in-test-key-0123456789abcdef"
SOURCES = {
    "us_rgb": "US1_UNCR.dcm",
    "us_palette_rle": "OBXXXX1A_rle.dcm",
    "us_cine": "OBXXXX1A_2frame.dcm",
    "us_grey": "JPGLosslessP14SV1_1s_1f_8b.dcm",
    "pattern": "mlut_18.dcm",
    "sc_rgb": "SC_rgb.dcm",
    "xray": "RG3_UNCR.dcm",
}
CONF = "features:\n  tensor: true\n  preprocess: []\n"


@pytest.fixture(scope="module")
def released(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("burned_in")
    inputs, out, dest = root / "in", root / "out", root / "dest"
    inputs.mkdir()
    planted = {}
    for variant, (name, source) in enumerate(SOURCES.items()):
        planted[name] = burn(get_testdata_file(source), inputs / name, variant=variant)
    shutil.copy(get_testdata_file("CT_small.dcm"), inputs / "ct_clean")
    conf = root / "profile.yaml"
    conf.write_text(CONF)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDSPARK_PSEUDONYM_KEY", KEY)
        assert main(["pipeline", str(inputs), str(out), "--conf", str(conf)]) == 0
        assert main(["export", str(out), str(dest), "--conf", str(conf)]) == 0
    metadata = pq.read_table(out / "metadata", columns=["path", "sop_instance_uid"]).to_pylist()
    by_name = {r["path"].rsplit("/", 1)[-1]: r["sop_instance_uid"] for r in metadata}
    manifest = {
        r["sop_instance_uid"]: r
        for r in pq.read_table(out / "exports").to_pylist()
        if r["status"] == "exported"
    }
    features = pq.read_table(out / "features").to_pylist()
    return planted, by_name, manifest, features, dest, out


def test_at_risk_images_are_released_not_held_back(released):
    planted, by_name, manifest, features, _, _ = released
    for name in planted:
        sop = by_name[name]
        assert sop in manifest, name
        rows = [f for f in features if f["sop_instance_uid"] == sop]
        assert rows and all(f["pixels_examined"] for f in rows)
        assert sum(f["pixel_phi_boxes"] for f in rows) >= 3
    clean = [f for f in features if f["sop_instance_uid"] == by_name["ct_clean"]]
    assert clean and not clean[0]["pixels_examined"]


def _frames(dataset: pydicom.Dataset) -> list[np.ndarray]:
    pixels = dataset.pixel_array
    return list(pixels) if int(dataset.get("NumberOfFrames") or 1) > 1 else [pixels]


def _visible_ink_left(before: np.ndarray, after: np.ndarray, ink: np.ndarray) -> float:
    same = after[ink] == before[ink]
    return float((same.all(axis=-1) if same.ndim == 2 else same).mean())


def test_exported_frames_hold_no_planted_text(released):
    planted, by_name, manifest, _, dest, root = released
    read_before = read_after = 0
    for name, (strings, inks) in planted.items():
        entry = manifest[by_name[name]]
        exported = pydicom.dcmread(dest / entry["file"])
        burned = pydicom.dcmread(root.parent / "in" / name)
        for before, after, ink in zip(_frames(burned), _frames(exported), inks, strict=True):
            assert after.shape == before.shape, name
            if ink.sum() >= 500:  # a few stray pixels of text over a palette's black are no text
                assert _visible_ink_left(before, after, ink) < 0.01, name
            read_before += len(readable(ocr_image(before), ink, strings))
            read_after += len(readable(ocr_image(after), ink, strings))
        assert exported.BurnedInAnnotation == "NO"
        codes = [c.CodeValue for c in exported.DeidentificationMethodCodeSequence]
        assert "113101" in codes  # CID 7050: Clean Pixel Data Option
    print(f"Tesseract read {read_before} planted strings in the inputs, {read_after} in DEST")
    assert read_before >= 4 and read_after == 0


def test_lossless_compressed_input_is_exported_in_its_own_syntax(released):
    _, by_name, manifest, _, dest, _ = released
    entry = manifest[by_name["us_palette_rle"]]
    assert entry["transfer_syntax_uid"] == RLELossless and entry["pixels_cleaned"]
    assert pydicom.dcmread(dest / entry["file"]).file_meta.TransferSyntaxUID == RLELossless


def test_thumbnails_and_tensors_are_derived_from_redacted_pixels(released):
    planted, by_name, _, features, _, _ = released
    for name, (strings, inks) in planted.items():
        for row in (f for f in features if f["sop_instance_uid"] == by_name[name]):
            ink = inks[row["frame"] - 1]
            tensor = np.load(io.BytesIO(row["tensor_npz"]))
            values = tensor[tensor.files[0]]
            assert values.shape[:2] == ink.shape, name
            assert readable(ocr_image(values), ink, strings) == [], name
            thumbnail = cv2.imdecode(
                np.frombuffer(row["thumbnail_png"], np.uint8), cv2.IMREAD_COLOR
            )
            small_ink = cv2.resize(ink.astype(np.uint8), thumbnail.shape[1::-1]) > 0
            assert readable(thumbnail, small_ink, strings) == [], name


def test_the_run_summary_counts_the_examination(released):
    import json

    *_, out = released
    summaries = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    (features,) = [s for s in summaries if s.get("job") == "pipeline"]
    counts = features["counts"]
    assert counts["held_back_burned_in"] == 0 and counts["held_back_text_unchecked"] == 0
    assert counts["frames_examined_for_text"] == 8 and counts["frames_redacted"] >= 7


def test_the_report_counts_what_was_examined(spark, released):
    from medspark.report.gather import gather
    from medspark.report.page import render

    *_, out = released
    data = gather(spark, str(out))
    assert data.pixel_text["examined"] == 8 and data.pixel_text["held_back"] == 0
    assert data.pixel_text["redacted"] >= 7
    assert 'id="burned-in"' in render(data)
