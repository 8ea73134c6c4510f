"""The report's pictures and page, from hand-built inputs: no Spark needed."""

from __future__ import annotations

import cv2
import numpy as np
import pydicom

from medspark.report import figures
from medspark.report.gather import RedactedFrame, ReportData, Thumbnail
from medspark.report.page import render
from tests.conftest import pydicom_file

EVALUATION = {
    "model_id": "m1",
    "split": {"test_patients": 4, "test_frames": 6},
    "model": {
        "n": 6,
        "accuracy": 0.8333,
        "balanced_accuracy": 0.8333,
        "roc_auc": 0.9,
        "pr_auc": 0.88,
        "macro": {"precision": 0.85, "recall": 0.83, "f1": 0.83},
        "classes": ["normal", "pneumonia"],
        "confusion_matrix": [[3, 0], [1, 2]],
        "roc_points": {"pneumonia": [[0, 0], [0, 0.66], [1, 1]]},
        "pr_points": {"pneumonia": [[0, 1], [0.66, 1], [1, 0.5]]},
        "roc_auc_per_class": {"pneumonia": 0.9},
        "pr_auc_per_class": {"pneumonia": 0.88},
    },
    "majority_baseline": {
        "n": 6,
        "accuracy": 0.5,
        "balanced_accuracy": 0.5,
        "roc_auc": 0.5,
        "macro": {"precision": 0.25, "recall": 0.5, "f1": 0.33},
        "classes": ["normal", "pneumonia"],
        "confusion_matrix": [[3, 0], [3, 0]],
        "roc_points": {"pneumonia": [[0, 0], [1, 1]]},
        "roc_auc_per_class": {"pneumonia": 0.5},
    },
}


def _png(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array)[1].tobytes()


def _real_thumbnail() -> bytes:
    pixels = pydicom.dcmread(pydicom_file("CT_small.dcm")).pixel_array.astype(np.float64)
    scaled = (pixels - pixels.min()) / (np.ptp(pixels) or 1) * 255
    return _png(scaled.astype(np.uint8))


def _decode(png: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def test_overlay_keeps_the_size_and_colours_the_edges():
    thumbnail = _real_thumbnail()
    overlay = _decode(figures.overlay(thumbnail))
    assert overlay.shape == (128, 128, 3)
    channels = overlay.astype(int)
    assert np.abs(channels[..., 0] - channels[..., 2]).max() > 50  # not grey any more


def test_plots_are_pngs_with_content():
    for png in (
        figures.roc_curve(EVALUATION),
        figures.pr_curve(EVALUATION),
        figures.confusion_matrices(EVALUATION),
        figures.stage_times([{"job": "ingest", "stage": "catalog", "seconds": 2.5}]),
        figures.feature_distributions({"fo_mean": {"CT": [1.0, 2.0, 3.0], "MR": [2.0, 5.0]}}, "m"),
    ):
        image = _decode(png)
        assert image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 5


def test_nothing_to_plot_gives_no_picture():
    assert figures.feature_distributions({"fo_mean": {}}, "modality") is None
    assert figures.stage_times([]) is None
    assert figures.roc_curve({"model": {"roc_points": {}}}) is None


def test_page_embeds_every_image_and_escapes_values():
    data = ReportData(
        "/out",
        inputs={"files": 3, "bytes": 2048, "modalities": {"<script>x</script>": 3}},
        table_rows={"metadata": 3},
        quarantine=[
            {
                "stage": "header",
                "reason": "not_dicom",
                "count": 1,
                "examples": ["ab"],
                "detail": None,
            }
        ],
        thumbnails=[Thumbnail(_real_thumbnail(), "CT", "header 40/400", 1, "123")],
        distributions={"fo_mean": {"CT": [1.0, 2.0]}},
        evaluation=EVALUATION,
    )
    html = render(data)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count('src="data:image/png;base64,') == 2 + 4  # tile + overlay, 4 plots
    assert "http://" not in html and "https://" not in html
    assert "not a DICOM file" in html
    assert "0.833" in html and "0.500" in html


def test_redaction_outlines_are_drawn_where_the_boxes_were_filled():
    grey = np.full((64, 128), 90, np.uint8)  # a thumbnail of a 256 x 512 frame
    png = cv2.imencode(".png", grey)[1].tobytes()
    outlined = figures.redaction_outlines(png, [[100, 40, 300, 80]], 256, 512)
    picture = cv2.imdecode(np.frombuffer(outlined, np.uint8), cv2.IMREAD_COLOR)
    colour = np.array(figures.REDACTION_BGR)
    border = [(10, 25), (10, 74), (19, 25), (19, 74), (14, 25), (10, 50)]  # (row, column)
    assert all((picture[r, c] == colour).all() for r, c in border)
    assert (picture[14, 50] == 90).all() and (picture[40, 100] == 90).all()
    assert figures.redaction_outlines(png, [[0, 0, 10, 10]], 300, 300) is None  # not the frame


def test_each_redacted_frame_is_shown_outlined_beside_its_export():
    png = _real_thumbnail()
    grey = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    rows, columns = grey.shape[0] * 4, grey.shape[1] * 4
    frames = [RedactedFrame(png, [[8, 8, 120, 40]], rows, columns, "US", 1, "456")]
    inputs = {"files": 1, "bytes": 1024, "modalities": {"US": 1}}
    html = render(ReportData("/out", inputs=inputs, redacted_frames=frames))
    section = html[html.index('id="redactions"') :]
    assert section.count('alt="US redacted boxes outlined"') == 1
    assert section.count('alt="US as exported"') == 1 and "1 boxes filled" in section
    assert 'id="redactions"' not in render(ReportData("/out", inputs=inputs))
