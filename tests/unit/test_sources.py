"""Archives: each member is accounted on its own, and bad archives get clear reasons."""

import gzip
import io
import zipfile

from medspark.dicom.deid import DeidPolicy
from medspark.dicom.inspect import InspectOptions, inspect_file
from tests.conftest import TEST_KEY, pydicom_file


def options(**kw) -> InspectOptions:
    return InspectOptions(run_id="t", deid=DeidPolicy(TEST_KEY), **kw)


def records(path, **kw):
    return list(inspect_file(str(path), path.stat().st_size, options(**kw)))


def make_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_zip_members_are_accounted_as_archive_paths(tmp_path):
    archive = tmp_path / "export.zip"
    make_zip(
        archive,
        {
            "STUDY/SERIES/IM0001": pydicom_file("CT_small.dcm").read_bytes(),
            "STUDY/SERIES/IM0002": pydicom_file("MR_small.dcm").read_bytes(),
            "STUDY/readme.txt": b"exported by PACS",
        },
    )
    rows = {r["path"].split("!/")[1]: r for r in records(archive)}
    assert set(rows) == {"STUDY/SERIES/IM0001", "STUDY/SERIES/IM0002", "STUDY/readme.txt"}
    assert rows["STUDY/SERIES/IM0001"]["outcome"] == "metadata"
    assert rows["STUDY/SERIES/IM0001"]["modality"] == "CT"
    assert rows["STUDY/readme.txt"]["reason"] == "not_dicom"
    assert all(r["path"].startswith(str(archive) + "!/") for r in rows.values())


def test_nested_archives_respect_the_depth_limit(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("IM1", pydicom_file("CT_small.dcm").read_bytes())
    outer = tmp_path / "outer.zip"
    make_zip(outer, {"inner.zip": inner.getvalue()})
    nested = records(outer, archive_max_depth=2)
    assert [r["outcome"] for r in nested] == ["metadata"]
    assert nested[0]["path"].endswith("outer.zip!/inner.zip!/IM1")
    too_deep = records(outer, archive_max_depth=1)
    assert [r["reason"] for r in too_deep] == ["archive_too_deep"]


def test_gzip_file_is_one_member():
    rows = list(
        inspect_file(
            str(pydicom_file("zipMR.gz")), pydicom_file("zipMR.gz").stat().st_size, options()
        )
    )
    assert len(rows) == 1 and rows[0]["outcome"] == "metadata"
    assert rows[0]["path"].endswith("zipMR.gz!/zipMR")
    assert rows[0]["file_size"] == len(gzip.decompress(pydicom_file("zipMR.gz").read_bytes()))


def test_corrupt_empty_and_oversized_archives(tmp_path):
    corrupt = tmp_path / "broken.zip"
    corrupt.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert [r["reason"] for r in records(corrupt)] == ["archive_corrupt"]

    empty = tmp_path / "empty.zip"
    make_zip(empty, {})
    assert [r["reason"] for r in records(empty)] == ["archive_empty"]

    big = tmp_path / "big.zip"
    make_zip(big, {"huge": b"\0" * (3 << 20), "small": pydicom_file("CT_small.dcm").read_bytes()})
    rows = {
        r["path"].rsplit("!/", 1)[1]: r for r in records(big, archive_member_limit_bytes=1 << 20)
    }
    assert rows["huge"]["reason"] == "archive_member_too_large"
    assert rows["small"]["outcome"] == "metadata"

    bad_gzip = tmp_path / "bad.gz"
    bad_gzip.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    assert [r["reason"] for r in records(bad_gzip)] == ["archive_corrupt"]
