"""Hostile inputs through the per-file core (no Spark): keys, listing, archives, re-reads."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import pydicom
import pytest

from medspark import sources
from medspark.dicom.deid import DeidPolicy
from medspark.dicom.input_keys import escape, member_key, parse, unescape
from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicom.reasons import Rejection
from medspark.dicom.sources import ArchiveLimits, read_verified
from tests.conftest import TEST_KEY, pydicom_file
from tests.hostile import craft

LIMITS = ArchiveLimits(1 << 30, 3, 64 << 20)


def inspect_tree(root: Path, **options) -> list[dict]:
    """Every record the core makes for every entry the listing finds under `root`."""
    settings = InspectOptions(run_id="hostile", archive_max_depth=3, **options)
    located = sources.locate(str(root))
    top, folders = located.list_top(min_directories=1, max_depth=3)
    entries = list(top)
    for folder in folders:
        entries += sources.walk(folder, located.key())
    records = []
    for entry in entries:
        records += inspect_file(entry.path, entry.length, settings, entry.problem, entry.detail)
    return records


def by_key(records: list[dict]) -> dict[str, dict]:
    keys = [r["path"] for r in records]
    assert len(keys) == len(set(keys)), "two inputs share one key"
    return dict(zip(keys, records, strict=True))


def test_key_escaping_round_trips_every_separator_and_byte():
    awkward = "/in/a!b/100%/x.zip!/M\udcfcller.dcm"
    key = escape(awkward)
    assert "!" not in key and unescape(key) == awkward
    nested = member_key(member_key(key, "inner.zip!/x.dcm"), "same.dcm", 2)
    location, members = parse(nested)
    assert location == awkward
    assert [(m.name, m.occurrence) for m in members] == [("inner.zip!/x.dcm", 1), ("same.dcm", 2)]


def test_colliding_names_get_distinct_keys_and_re_reads_find_the_right_instance(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    patients = {}

    def patient(tag: str, name: str = "CT_small.dcm") -> bytes:
        patients[tag] = f"PAT-{tag}"
        return craft.instance(name, str(100 + len(patients)), f"PAT-{tag}")

    (root / "a.zip").write_bytes(
        craft.zip_bytes([("same.dcm", patient("A")), ("same.dcm", patient("B", "MR_small.dcm"))])
    )
    inner = craft.zip_bytes([("x.dcm", patient("D"))])
    (root / "b.zip").write_bytes(
        craft.zip_bytes([("inner.zip!/x.dcm", patient("C")), ("inner.zip", inner)])
    )
    (root / "x.zip").write_bytes(craft.zip_bytes([("y.dcm", patient("F"))]))
    (root / "x.zip!").mkdir()
    (root / "x.zip!" / "y.dcm").write_bytes(patient("E"))
    (root / "c.zip").write_bytes(craft.zip_bytes([("folder-like/", patient("G"))]))

    rows = by_key(inspect_tree(root))
    metadata = {k: r for k, r in rows.items() if r["outcome"] == "metadata"}
    assert sorted(r["patient_id"] for r in metadata.values()) == sorted(
        f"PAT-{t}" for t in "ABCDEFG"
    )
    for key, row in metadata.items():
        data = read_verified(row, None, LIMITS)
        assert pydicom.dcmread(io.BytesIO(data)).PatientID == row["patient_id"], key
    assert any(k.endswith("!/same.dcm!#2") for k in metadata)
    assert any(k.endswith("/x.zip%21/y.dcm") for k in metadata)
    assert any(k.endswith("!/folder-like/") for k in metadata)


def test_a_changed_input_is_refused_on_re_read(tmp_path):
    path = tmp_path / "ct"
    path.write_bytes(craft.instance("CT_small.dcm", "201", "PAT-OLD"))
    (row,) = inspect_file(str(path), path.stat().st_size, InspectOptions(run_id="t"))
    assert read_verified(row, None, LIMITS)
    path.write_bytes(craft.instance("CT_small.dcm", "201", "PAT-NEW"))
    with pytest.raises(Rejection) as caught:
        read_verified(row, None, LIMITS)
    assert caught.value.reason == "changed_since_ingest"


def test_special_files_and_links_are_each_accounted_once_without_being_opened(tmp_path):
    outside = tmp_path / "outside.dcm"
    outside.write_bytes(pydicom_file("CT_small.dcm").read_bytes())
    root = tmp_path / "in"
    made = craft.special_files(root / "odd", outside)
    (root / "odd" / "inside-link.dcm").symlink_to(root / "real.dcm")
    (root / "real.dcm").write_bytes(pydicom_file("MR_small.dcm").read_bytes())
    (root / "folder-link").symlink_to(root / "odd")
    rows = by_key(inspect_tree(root))
    reasons = {Path(k).name: r.get("reason") for k, r in rows.items()}
    assert reasons == {
        "a-fifo": "not_a_regular_file",
        "a-socket": "not_a_regular_file",
        "broken-link": "not_a_regular_file",
        "link-to-outside.dcm": "symlink_not_followed",
        "shadow": "symlink_not_followed",
        "up1": "symlink_not_followed",
        "up2": "symlink_not_followed",
        "folder-link": "symlink_not_followed",
        "inside-link.dcm": None,
        "real.dcm": None,
    }
    assert all(rows[k]["sha256"] is None for k in rows if reasons[Path(k).name])
    assert made["fifo"].exists()


def test_an_unreadable_folder_is_one_row_and_the_walk_goes_on(tmp_path, monkeypatch):
    root = tmp_path / "in"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "hidden.dcm").write_bytes(b"x")
    (root / "open").mkdir()
    (root / "open" / "ct").write_bytes(pydicom_file("CT_small.dcm").read_bytes())
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    rows = by_key(inspect_tree(root))
    assert {Path(k).name: r.get("reason") for k, r in rows.items()} == {
        "locked": "unreadable",
        "ct": None,
    }


def test_a_name_that_is_not_utf8_is_read_byte_for_byte(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    raw = os.fsencode(root) + b"/M\xfcller.dcm"
    with open(raw, "wb") as handle:
        handle.write(pydicom_file("CT_small.dcm").read_bytes())
    (row,) = inspect_tree(root)
    assert row["outcome"] == "metadata" and row["path"].endswith("/M%FCller.dcm")
    assert read_verified(row, None, LIMITS) == pydicom_file("CT_small.dcm").read_bytes()


def test_a_zip_bomb_member_is_judged_by_its_first_bytes_not_inflated(tmp_path):
    bomb = tmp_path / "bomb.zip"
    craft.zero_zip(bomb, 256 << 20)
    assert bomb.stat().st_size < 2 << 20
    options = InspectOptions(
        run_id="t", archive_member_limit_bytes=1 << 30, archive_inflated_limit_bytes=8 << 20
    )
    (row,) = inspect_file(str(bomb), bomb.stat().st_size, options)
    # had the member been inflated, it would have hit the 8 MiB budget instead
    assert (row["reason"], row["file_size"]) == ("not_dicom", 256 << 20)


def test_nested_archives_share_one_inflation_budget(tmp_path):
    archive = tmp_path / "nested.zip"
    archive.write_bytes(craft.nested_bomb(levels=2, fan_out=4, leaf_bytes=1 << 20))
    options = InspectOptions(run_id="t", archive_max_depth=4, archive_inflated_limit_bytes=6 << 20)
    rows = list(inspect_file(str(archive), archive.stat().st_size, options))
    reasons = [r["reason"] for r in rows]
    assert len(rows) == 16  # every leaf or the member that stopped it is accounted
    assert reasons.count("archive_inflated_over_limit") >= 8
    inflated = sum(
        r["file_size"] or 0 for r in rows if r["reason"] != "archive_inflated_over_limit"
    )
    assert inflated <= 6 << 20


def test_planted_phi_never_reaches_the_header_json(tmp_path):
    data, originals = craft.planted_ct()
    (tmp_path / "ct").write_bytes(data)
    (tmp_path / "pdf").write_bytes(craft.planted_pdf())
    options = InspectOptions(run_id="t", deid=DeidPolicy(TEST_KEY))
    rows = [
        r
        for name in ("ct", "pdf")
        for r in inspect_file(str(tmp_path / name), (tmp_path / name).stat().st_size, options)
    ]
    assert [r["outcome"] for r in rows] == ["metadata", "metadata"]
    text = "".join(r["header_json"] for r in rows)
    secrets = [*craft.PHI.values(), *originals]
    assert [s for s in secrets if s in text] == []
    assert "44440010" not in text and '"60000022"' not in text  # removed, not emptied
    meta = {k for k in rows[0]["header_json"].split('"') if k.startswith("0002")}
    assert meta == {"00020001", "00020002", "00020003", "00020010", "00020012", "00020013"}


def test_an_oversized_text_value_becomes_a_bulk_data_reference(tmp_path):
    path = tmp_path / "mr"
    path.write_bytes(craft.huge_text_value(4 << 20))
    options = InspectOptions(run_id="t", deid=DeidPolicy(TEST_KEY), max_value_bytes=65536)
    (row,) = inspect_file(str(path), path.stat().st_size, options)
    assert row["outcome"] == "metadata" and row["oversized_values"] == 1
    assert row["manufacturer"] is None and len(row["header_json"]) < 64 << 10
    assert (
        '"00080070":{"vr":"LO","BulkDataURI":"urn:medspark:omitted:00080070"}'
        in (row["header_json"])
    )


def test_deep_nesting_and_bad_rescale_get_their_own_reasons(tmp_path):
    from medspark.config import FeatureSettings
    from medspark.imaging.extract import FeatureOptions, extract_instance

    deep = tmp_path / "deep"
    for levels in (100, 10_000):  # past medspark's limit of 64; past Python's recursion limit
        deep.write_bytes(craft.deeply_nested(levels))
        (row,) = inspect_file(str(deep), deep.stat().st_size, InspectOptions(run_id="t"))
        assert row["reason"] == "sequence_nesting_too_deep", levels
    deep.write_bytes(craft.deeply_nested(20))
    (row,) = inspect_file(str(deep), deep.stat().st_size, InspectOptions(run_id="t"))
    assert row["outcome"] == "metadata"
    nan = tmp_path / "nan"
    nan.write_bytes(craft.nan_rescale())
    (meta,) = inspect_file(str(nan), nan.stat().st_size, InspectOptions(run_id="t"))
    options = FeatureOptions("t", FeatureSettings(), LIMITS)
    (out,) = extract_instance(meta, options)
    assert (out["outcome"], out["reason"]) == ("quarantine", "invalid_pixel_attribute")


def test_export_refuses_changed_files_and_keeps_every_file_inside_dest(tmp_path):
    from medspark.exports.dicom import export_instance, path_component

    source = tmp_path / "ct"
    data, _ = craft.planted_ct()
    source.write_bytes(data)
    policy = DeidPolicy(TEST_KEY, retain_uids=True)
    (row,) = inspect_file(str(source), source.stat().st_size, InspectOptions("t", deid=policy))
    row.update(study_instance_uid="..", series_instance_uid="../../..", patient_id="../etc")
    destination = tmp_path / "dest"
    written = export_instance(row, policy, str(destination), LIMITS)
    target = (destination / written["file"]).resolve()
    assert target.is_file() and str(target).startswith(str(destination.resolve()) + os.sep)
    assert path_component("..") != ".." and path_component("1.2.3") == "1.2.3"
    shared = target.read_bytes()
    assert shared[:128] == b"\0" * 128 and shared[128:132] == b"DICM"
    kept_by_retain_uids = {craft.PHI["concatenation_source"]}
    leaked = [s for s in craft.PHI.values() if s.encode() in shared]
    assert set(leaked) == kept_by_retain_uids
    source.write_bytes(craft.instance("CT_small.dcm", "301", "SOMEONE-ELSE"))
    with pytest.raises(Rejection) as caught:
        export_instance(row, policy, str(destination), LIMITS)
    assert caught.value.reason == "changed_since_ingest"


def test_gzip_member_keeps_an_escaped_name(tmp_path):
    import gzip

    path = tmp_path / "a!b.dcm.gz"
    path.write_bytes(gzip.compress(pydicom_file("CT_small.dcm").read_bytes()))
    (row,) = inspect_file(escape(str(path)), path.stat().st_size, InspectOptions(run_id="t"))
    assert row["path"].endswith("a%21b.dcm.gz!/a%21b.dcm")
    data = read_verified(row, None, LIMITS)
    assert hashlib.sha256(data).hexdigest() == row["sha256"]


def test_zip_with_a_corrupt_member_is_accounted(tmp_path):
    good = pydicom_file("CT_small.dcm").read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ok.dcm", good)
        archive.writestr("bad.dcm", good)
    body = bytearray(buffer.getvalue())
    second = body.find(b"PK\x03\x04", 10)
    body[second + 200 : second + 260] = b"\xff" * 60
    path = tmp_path / "corrupt.zip"
    path.write_bytes(bytes(body))
    rows = list(inspect_file(str(path), len(body), InspectOptions(run_id="t")))
    assert [r["path"].rsplit("!/", 1)[1] for r in rows] == ["ok.dcm", "bad.dcm"]
    assert rows[0]["outcome"] == "metadata" and rows[1]["reason"] == "archive_corrupt"


def test_hidden_and_underscore_names_are_listed_at_every_depth(tmp_path):
    root = tmp_path / "in"
    names = ["_x", ".x", "_SUCCESS", "a/b/c/.hidden/_deep", "a/b/c/d/e/f/.y", ".dir/_z"]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    rows = by_key(inspect_tree(root))
    assert sorted(Path(k).relative_to(root).as_posix() for k in rows) == sorted(names)
    assert {r["reason"] for r in rows.values()} == {"empty_file"}
