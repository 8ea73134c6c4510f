"""What this installation can do: each optional capability, whether it is usable here, and
how to install it when not. `medspark doctor` prints them; a run whose settings need a missing
one says so on the console and in its run summary."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
from dataclasses import dataclass

import medspark
from medspark.config import Settings

OCR_INSTALL = "pip install 'rapidocr>=3.10,<4' onnxruntime (both come with pip install medspark)"
OCR_MISSING_EFFECT = "images at risk of burned-in text are held back unchecked"


@dataclass(frozen=True)
class Capability:
    """One thing medspark may use: usable or not, what it is here, how to get it."""

    name: str
    usable: bool
    detail: str
    install: str | None = None
    effect: str | None = None  # what a run that needs it does without it

    def line(self) -> str:
        state = "ok" if self.usable else "missing"
        text = f"{self.name:<28} {state:<8} {self.detail}"
        return text + (f" (install: {self.install})" if not self.usable and self.install else "")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def text_detector() -> Capability:
    """PP-OCR through rapidocr on onnxruntime, with the models medspark ships."""
    from medspark.imaging.burned_in_text import DETECTOR_MODEL, RECOGNISER_MODEL, model_resource

    shipped = all(model_resource(n).is_file() for n in (DETECTOR_MODEL, RECOGNISER_MODEL))
    missing = [p for p in ("rapidocr", "onnxruntime") if importlib.util.find_spec(p) is None]
    if not shipped:
        missing.append("medspark's PP-OCRv4 models (medspark/imaging/ocr_models)")
    if missing:
        return Capability("burned-in text detector", False, f"{', '.join(missing)} not installed",
                          OCR_INSTALL, OCR_MISSING_EFFECT)  # fmt: skip
    return Capability(
        "burned-in text detector",
        True,
        f"PP-OCRv4 via rapidocr {_version('rapidocr')}, onnxruntime {_version('onnxruntime')}",
    )


def java() -> Capability:
    path = shutil.which("java")
    if path is None:
        return Capability(
            "java (Spark)", False, "no java on PATH", "apt-get install openjdk-17-jre-headless"
        )
    done = subprocess.run([path, "-version"], capture_output=True, text=True, check=False)
    first = (done.stderr or done.stdout).strip().splitlines()
    return Capability("java (Spark)", done.returncode == 0, first[0] if first else path)


def decoders() -> list[Capability]:
    """One line per compressed transfer syntax: the pydicom plugins that decode it here."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import (
        JPEG2000,
        HTJ2KLossless,
        JPEG2000Lossless,
        JPEGBaseline8Bit,
        JPEGExtended12Bit,
        JPEGLossless,
        JPEGLosslessSV1,
        JPEGLSLossless,
        JPEGLSNearLossless,
        RLELossless,
    )

    hints = {JPEGExtended12Bit: "pip install 'medspark[gpl]' (12-bit: libjpeg, GPL-3)"}
    lines = []
    for uid in (JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1,
                JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000, HTJ2KLossless,
                RLELossless):  # fmt: skip
        decoder = get_decoder(uid)
        plugins = sorted(decoder.available_plugins)
        detail = f"{uid} {uid.name}: " + (", ".join(plugins) if plugins else "no plugin")
        lines.append(Capability("decoder", decoder.is_available, detail, hints.get(uid)))
    return lines


def _optional_package(name: str, package: str, install: str) -> Capability:
    version = _version(package)
    if version is None:
        return Capability(name, False, f"{package} not installed", install)
    return Capability(name, True, f"{package} {version}")


def _program(name: str, program: str, install: str) -> Capability:
    path = shutil.which(program)
    return Capability(name, path is not None, path or f"{program} not on PATH", install)


def report() -> list[Capability]:
    """Every capability, in the order `medspark doctor` prints them."""
    from medspark.spark.output.kms import PACKAGED_JAR

    return [
        Capability("medspark", True, medspark.__version__),
        java(),
        _optional_package("spark", "pyspark", "pip install medspark"),
        *decoders(),
        text_detector(),
        Capability(
            "column encryption (KMS jar)",
            PACKAGED_JAR.is_file(),
            str(PACKAGED_JAR),
            "bash scripts/build-kms-jar.sh (needs a JDK)",
        ),
        _optional_package("CNN (PyTorch)", "torch", "bash scripts/install.sh --deep"),
        _optional_package("ONNX export", "onnx", "bash scripts/install.sh --deep"),
        _program("PACS (Orthanc)", "Orthanc", "apt-get install orthanc orthanc-dicomweb"),
        _program("NIfTI check (dcm2niix)", "dcm2niix", "apt-get install dcm2niix"),
    ]


def missing_for(settings: Settings) -> list[Capability]:
    """The capabilities these settings use that this installation lacks."""
    needed = []
    if settings.deid.enabled and settings.deid.pixels == "detect_and_redact":
        needed.append(text_detector())
    return [c for c in needed if not c.usable]
