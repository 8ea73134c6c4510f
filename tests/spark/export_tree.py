"""A messy PACS export built from real files: what a hospital actually hands over."""

from __future__ import annotations

import io
import random
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from tests.conftest import PYDICOM_TEST_FILES, pydicom_file


@dataclass
class ExportTree:
    root: Path
    planted: dict[str, Path] = field(default_factory=dict)

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())


def _no_extension(name: str) -> str:
    return name.replace(".", "_")


def build_export(root: Path) -> ExportTree:
    """Every pydicom test file (extensions dropped, nested), plus files broken on purpose."""
    tree = ExportTree(root)
    for source in sorted(p for p in PYDICOM_TEST_FILES.rglob("*") if p.is_file()):
        relative = source.relative_to(PYDICOM_TEST_FILES)
        target = root / "pacs" / relative.parent / _no_extension(relative.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    junk = root / "junk"
    junk.mkdir()
    tree.planted["empty"] = junk / "empty"
    tree.planted["empty"].write_bytes(b"")
    tree.planted["random"] = junk / "random.bin"
    tree.planted["random"].write_bytes(random.Random(7).randbytes(4096))
    tree.planted["text"] = junk / "notes"
    tree.planted["text"].write_text("Export log: 3 studies sent to research.\n" * 20)

    ct = pydicom_file("CT_small.dcm").read_bytes()
    broken = root / "broken"
    broken.mkdir()
    tree.planted["truncated"] = broken / "IM_TRUNC"
    tree.planted["truncated"].write_bytes(ct[:20000])
    resent = root / "zz-resent"  # sorts after pacs/, so the copy there is the later one
    resent.mkdir()
    tree.planted["duplicate"] = resent / "CT_COPY"
    tree.planted["duplicate"].write_bytes(ct)

    odd = root / "Patient Folder Ø" / "series 1"
    odd.mkdir(parents=True)
    dataset = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    dataset.SOPInstanceUID = dataset.SOPInstanceUID + ".99"
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    tree.planted["no_preamble"] = odd / "IM 0001"
    tree.planted["no_preamble"].write_bytes(buffer.getvalue()[128:])

    # names Spark's own file index would drop, at the top and deep in worker-walked subtrees
    hidden = {
        "hidden_top_underscore": root / "_x",
        "hidden_top_dot": root / ".x",
        "hidden_success": root / "pacs" / "_SUCCESS",
        "hidden_deep": root / "pacs" / "dicomdirtests" / ".hidden" / "deep" / "_IM0001",
    }
    for name, path in hidden.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ct if name == "hidden_deep" else b"")
        tree.planted[name] = path

    tree.planted["zip"] = root / "cd-export.zip"
    with zipfile.ZipFile(tree.planted["zip"], "w", zipfile.ZIP_DEFLATED) as archive:
        rt = pydicom.dcmread(pydicom_file("rtplan.dcm"))
        rt.SOPInstanceUID = rt.SOPInstanceUID + ".5"
        member = io.BytesIO()
        rt.save_as(member, enforce_file_format=True)
        archive.writestr("DICOM/ST1/SE1/IM1", member.getvalue())
        archive.writestr("DICOM/ST1/SE1/IM2", pydicom_file("JPEG2000.dcm").read_bytes())
        archive.writestr("AUTORUN.INF", b"[autorun]\r\nopen=viewer.exe\r\n")
    return tree
