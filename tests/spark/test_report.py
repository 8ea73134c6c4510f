"""The run report from a real pipeline run, opened in headless Chromium (Debian's package)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest

from medspark.cli import main
from tests.conftest import PYDICOM_TEST_FILES, needs
from tests.spark.test_classify import NPZ, wrap

pytestmark = pytest.mark.spark
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(
    os.environ.get("MEDSPARK_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)


@pytest.fixture(scope="module")
def pipeline_run(spark, tmp_path_factory):
    """`medspark pipeline --labels` over pydicom's files and 80 labelled chest X-rays."""
    needs(NPZ.is_file(), "shared/data/pneumoniamnist")
    root = tmp_path_factory.mktemp("report")
    labels = wrap(NPZ, root / "xrays", 40)
    shutil.copytree(PYDICOM_TEST_FILES, root / "xrays" / "images" / "pydicom")
    out = root / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
        ["pipeline", str(root / "xrays" / "images"), str(out), "--labels", str(labels),
         "--throwaway-key"]
    )  # fmt: skip
    assert code == 0
    return out, printed.getvalue()


def test_pipeline_writes_the_report_and_prints_its_path(pipeline_run):
    out, printed = pipeline_run
    page = out / "report" / "index.html"
    assert page.is_file()
    assert f"report: {page}" in printed.splitlines()
    html = page.read_text()
    for section in ("inputs", "outputs", "quarantine", "stages", "thumbnails", "model"):
        assert f'id="{section}"' in html
    redactions = html[html.index('id="redactions"') :]  # pydicom's ultrasound frames: dates
    assert redactions.count("redacted boxes outlined") == redactions.count('as exported"') >= 1
    assert "duplicate_sop_instance" in html and "not_dicom" in html
    assert "majority baseline" in html and "pneumonia" in html


def _browser():
    if not Path(CHROMIUM).exists():
        needs(False, "Debian's chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def test_page_loads_every_image_without_the_network(pipeline_run):
    page_url = (pipeline_run[0] / "report" / "index.html").as_uri()
    requests: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _browser() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_url, wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
            )
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            page.check("#show-overlays")
            overlay_shown = page.evaluate(
                "getComputedStyle(document.querySelector('img.overlay')).display"
            )
            page.screenshot(path=str(ARTIFACTS / "report-overlays.png"), full_page=True)
        finally:
            browser.close()
    assert len(images) >= 2 * 8 + 5  # thumbnails and overlays, and the plots
    assert [alt for alt, complete, width in images if not complete or width == 0] == []
    assert {alt for alt, _, _ in images} >= {"ROC curve", "precision-recall curve"}
    assert [url for url in requests if url != page_url] == []
    assert overlay_shown != "none"
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000
