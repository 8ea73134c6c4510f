"""`medspark --version`, `medspark doctor`, and which capabilities a run's settings need (the
console line and run-summary entry of such a run: tests/spark/test_cli.py)."""

from __future__ import annotations

import pytest

import medspark
from medspark import capabilities
from medspark.cli import main
from medspark.config import load_settings, with_assignments


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"medspark {medspark.__version__}"


def test_doctor_prints_one_line_per_capability(capsys):
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line[:28].strip() for line in lines]
    assert {"medspark", "java (Spark)", "spark", "burned-in text detector", "CNN (PyTorch)",
            "column encryption (KMS jar)", "PACS (Orthanc)",
            "NIfTI check (dcm2niix)"} <= set(names)  # fmt: skip
    decoders = [line for line in lines if line.startswith("decoder")]
    assert any("1.2.840.10008.1.2.4.80" in line for line in decoders)  # JPEG-LS
    text = next(line for line in lines if line.startswith("burned-in text detector"))
    assert " ok " in text and "PP-OCRv4 via rapidocr" in text


def test_the_detector_needs_rapidocr_and_the_shipped_models(monkeypatch):
    assert capabilities.text_detector().usable
    real = capabilities.importlib.util.find_spec
    monkeypatch.setattr(capabilities.importlib.util, "find_spec",
                        lambda name: None if name == "rapidocr" else real(name))  # fmt: skip
    missing = capabilities.text_detector()
    assert not missing.usable and "rapidocr" in missing.detail and "rapidocr" in missing.install
    settings = load_settings("local")
    assert capabilities.missing_for(settings) == [missing]
    assert capabilities.missing_for(with_assignments(settings, ["deid.pixels=hold_back"])) == []
