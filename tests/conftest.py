"""Shared fixtures: real DICOM files that pydicom ships, and a fixed test key."""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
import pytest

from medspark.dicom.keys import PseudonymKey

PYDICOM_TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
PYDICOM_CHARSET_FILES = Path(pydicom.__file__).parent / "data" / "charset_files"
TEST_KEY = PseudonymKey(b"medspark-test-key-0123456789abcdef", "test")


def pydicom_data_files() -> list[Path]:
    """The larger real files of the pydicom-data package (a test dependency), if installed."""
    try:
        import data_store
    except ImportError:
        return []
    return sorted(Path(data_store.__file__).parent.joinpath("data").rglob("*.dcm"))


# ../shared/data beside the checkout; MEDSPARK_SHARED_DATA names it when the tests run from a
# copy elsewhere (mutation testing runs them from mutants/).
SHARED_DATA = Path(
    os.environ.get("MEDSPARK_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)


def required_everywhere() -> bool:
    """True in CI (and with MEDSPARK_REQUIRE_ALL): a test that cannot run there fails."""
    return bool(os.environ.get("CI") or os.environ.get("MEDSPARK_REQUIRE_ALL"))


def needs(available: bool, what: str) -> None:
    """Skip when `what` is missing on a developer's machine; fail when it is missing in CI."""
    if available:
        return
    if required_everywhere():
        pytest.fail(f"{what} is required here (CI or MEDSPARK_REQUIRE_ALL) but missing")
    pytest.skip(f"{what} is missing")


def pydicom_file(name: str) -> Path:
    path = PYDICOM_TEST_FILES / name
    assert path.is_file(), path
    return path


def all_pydicom_files() -> list[Path]:
    return sorted(p for p in PYDICOM_TEST_FILES.rglob("*") if p.is_file())


@pytest.fixture
def test_key() -> PseudonymKey:
    return TEST_KEY


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole test session, bound to 127.0.0.1."""
    from medspark.spark.session import build_session
    from tests.spark_settings import make_settings

    session = build_session(make_settings(), "medspark tests")
    yield session
    session.stop()


DOCUMENTED_IDENTIFIERS = ("patient_id", "study_instance_uid", "series_instance_uid",
                          "sop_instance_uid", "frame_of_reference_uid",
                          "segmentation_sop_instance_uid", "header_json")  # fmt: skip
"""The identifier columns docs/deidentification.md's "Column encryption" section promises are
encrypted, listed here rather than read from the code under test."""
