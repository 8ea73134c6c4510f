"""An Orthanc per test module, loaded with pydicom's real test files, and its credentials."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from medspark.dicomweb.client import PASSWORD_ENV, USER_ENV
from tests.conftest import all_pydicom_files, needs
from tests.pacs.orthanc import PASSWORD, USER, Orthanc, orthanc_available


@pytest.fixture(scope="module")
def credentials() -> Iterator[None]:
    """The test server's user in the environment medspark reads, for the module's duration."""
    saved = {name: os.environ.get(name) for name in (USER_ENV, PASSWORD_ENV)}
    os.environ.update({USER_ENV: USER, PASSWORD_ENV: PASSWORD})
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory, credentials) -> Iterator[Orthanc]:
    needs(orthanc_available(), "Orthanc with its DICOMweb plugin (apt-get install orthanc "
          "orthanc-dicomweb)")  # fmt: skip
    server = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    try:
        yield server
    finally:
        server.stop()


def unique_instances(files: list[Path]) -> list[Path]:
    """The files whose SOP Instance UID no earlier file has: a PACS addresses instances by UID,
    so a second file with the same UID is not a second instance there."""
    seen, kept = set(), []
    for path in files:
        try:
            uid = pydicom.dcmread(path, stop_before_pixels=True, force=True).SOPInstanceUID
        except Exception:
            continue
        if uid not in seen:
            seen.add(uid)
            kept.append(path)
    return kept


def store_all(server: Orthanc, files: list[Path], folder: Path) -> list[Path]:
    """Store files in Orthanc over its REST API; copy the ones it took into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    stored = []
    for path in files:
        if server.store(path.read_bytes()):
            shutil.copyfile(path, folder / f"{len(stored):03d}-{path.name}")
            stored.append(path)
    return stored


@pytest.fixture(scope="module")
def pydicom_instances() -> list[Path]:
    return unique_instances(all_pydicom_files())
