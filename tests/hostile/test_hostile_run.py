"""A hostile PACS export through real `medspark pipeline` and `medspark export` processes:
every entry accounted, every instance under its own patient, no planted value in any byte of
OUT, DEST or the processes' output, nothing written anywhere else."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest

from medspark.dicom.keys import PseudonymKey
from tests.conftest import pydicom_file
from tests.hostile import craft

pytestmark = pytest.mark.spark
REPO = Path(__file__).resolve().parents[2]
KEY = "hostile-run-key-0123456789abcdef"
COLLIDING = {tag: f"PAT-COLLIDE-{tag}" for tag in "ABCDEFG"}


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_GATEWAY")}
    env.update(SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    env["MEDSPARK_PSEUDONYM_KEY"] = KEY
    return env


def medspark(cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "medspark.cli", *argv],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def expected_key(path: Path) -> str:
    """The key a listed entry must have: % and ! escaped, bytes that are not UTF-8 as %XX."""
    out = []
    for byte in os.fsencode(path):
        char = chr(byte)
        if char in "%!" or byte >= 0x80:
            out.append(f"%{byte:02X}")
        else:
            out.append(char)
    text = "".join(out)
    # UTF-8 sequences stay as characters; only undecodable bytes stay escaped
    return _decode_valid_utf8(text)


def _decode_valid_utf8(text: str) -> str:
    raw = bytearray()
    parts = text.split("%")
    raw += parts[0].encode()
    for part in parts[1:]:
        raw.append(int(part[:2], 16))
        raw += part[2:].encode()
    decoded = raw.decode("utf-8", "surrogateescape")
    return "".join(
        f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF
        else {"%": "%25", "!": "%21"}.get(c, c)
        for c in decoded
    )  # fmt: skip


def listed_entries(root: Path) -> list[Path]:
    """Every entry that is not a plain folder, found without following any link."""
    found = []
    for folder, folders, files in os.walk(os.fsencode(root), followlinks=False):
        for name in files + [d for d in folders if os.path.islink(os.path.join(folder, d))]:
            found.append(Path(os.fsdecode(os.path.join(folder, name))))
    return found


def build_tree(root: Path, outside: Path) -> dict[str, object]:
    inputs = root / "in"
    (inputs / "normal").mkdir(parents=True)
    for name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"):
        shutil.copyfile(pydicom_file(name), inputs / "normal" / name.split(".")[0])
    phi = inputs / "phi"
    phi.mkdir()
    ct, originals = craft.planted_ct()
    (phi / "ct").write_bytes(ct)
    (phi / "pdf").write_bytes(craft.planted_pdf())

    def patient(tag: str, name: str = "CT_small.dcm") -> bytes:
        return craft.instance(name, str(700 + ord(tag)), COLLIDING[tag])

    clash = inputs / "clash"
    clash.mkdir()
    (clash / "a.zip").write_bytes(
        craft.zip_bytes([("same.dcm", patient("A")), ("same.dcm", patient("B", "MR_small.dcm"))])
    )
    (clash / "b.zip").write_bytes(
        craft.zip_bytes(
            [
                ("inner.zip!/x.dcm", patient("C")),
                ("inner.zip", craft.zip_bytes([("x.dcm", patient("D"))])),
            ]
        )
    )
    (clash / "x.zip").write_bytes(craft.zip_bytes([("y.dcm", patient("F"))]))
    (clash / "x.zip!").mkdir()
    (clash / "x.zip!" / "y.dcm").write_bytes(patient("E"))
    (clash / "c.zip").write_bytes(craft.zip_bytes([("folder-like/", patient("G"))]))

    craft.special_files(inputs / "odd", outside)
    with open(os.fsencode(inputs / "odd") + b"/M\xfcller", "wb") as handle:
        handle.write(craft.instance("MR_small.dcm", "790", "PAT-LATIN1"))

    bad = inputs / "bad"
    bad.mkdir()
    (bad / "nan-rescale").write_bytes(craft.nan_rescale())
    (bad / "deep").write_bytes(craft.deeply_nested(10_000))
    (bad / "frames").write_bytes(craft.many_frames(2**31))
    (bad / "rle-bomb").write_bytes(craft.rle_bomb(20_000, 20_000))
    (bad / "huge-text").write_bytes(craft.huge_text_value(4 << 20))
    craft.zero_zip(bad / "zeros.zip", 64 << 20)
    return {"inputs": inputs, "originals": originals}


def parquet_values(path: Path) -> list[str]:
    table = pq.read_table(path)
    return [
        (v.decode("latin-1") if isinstance(v, bytes) else str(v))
        for column in table.columns
        for v in column.to_pylist()
        if v is not None
    ]


def leaks(folder: Path, secrets: list[str]) -> list[tuple[str, str]]:
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        texts = [path.read_bytes().decode("latin-1")]
        if path.suffix == ".parquet":
            texts += parquet_values(path)
        found += [(str(path), s) for s in secrets if any(s in text for text in texts)]
    return found


def table(out: Path, name: str) -> list[dict]:
    import pyarrow.dataset as pads

    return pads.dataset(out / name, partitioning="hive").to_table().to_pylist()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-run")
    outside = root / "outside-input.dcm"
    outside.write_bytes(craft.instance("CT_small.dcm", "799", "PAT-OUTSIDE"))
    tree = build_tree(root, outside)
    work = root / "cwd"
    work.mkdir()
    before = {p for p in root.rglob("*")}
    top_before = set(os.listdir("/"))
    out, dest = root / "out", root / "dest"
    pipeline = medspark(work, "pipeline", str(tree["inputs"]), str(out))
    export = medspark(work, "export", str(out), str(dest))
    return {
        **tree,
        "root": root,
        "out": out,
        "dest": dest,
        "work": work,
        "before": before,
        "top_before": top_before,
        "pipeline": pipeline,
        "export": export,
    }


def test_both_runs_succeed(run):
    for name in ("pipeline", "export"):
        done = run[name]
        assert done.returncode == 0, done.stderr[-4000:]


def test_every_entry_is_accounted_exactly_where_it_lies(run):
    metadata, quarantine = table(run["out"], "metadata"), table(run["out"], "quarantine")
    ingested = metadata + [r for r in quarantine if r["stage"] != "decode"]
    keys = [r["path"] for r in ingested]
    assert len(keys) == len(set(keys)), "two inputs share a key"
    decode = {r["path"] for r in quarantine if r["stage"] == "decode"}
    assert decode <= {r["path"] for r in metadata}  # an instance that would not decode
    entries = {expected_key(p) for p in listed_entries(run["inputs"])}
    outer = {k.split("!/", 1)[0] for k in keys}
    assert outer == entries
    members = sorted(k.split("!/", 1)[1] for k in keys if "/clash/" in k and "!/" in k)
    assert members == [
        "folder-like/", "inner.zip!/x.dcm", "inner.zip%21/x.dcm", "same.dcm", "same.dcm!#2",
        "y.dcm",
    ]  # fmt: skip
    assert not any("outside-input" in k for k in keys)


def test_special_entries_and_bad_files_get_their_reasons(run):
    quarantine = table(run["out"], "quarantine")
    reason = {Path(r["path"]).name: (r["stage"], r["reason"]) for r in quarantine}
    assert reason["a-fifo"] == reason["a-socket"] == reason["broken-link"] == (
        "catalog", "not_a_regular_file",
    )  # fmt: skip
    for name in ("link-to-outside.dcm", "shadow", "up1", "up2"):
        assert reason[name] == ("catalog", "symlink_not_followed"), name
    shadow = next(r for r in quarantine if r["path"].endswith("/shadow"))
    assert shadow["sha256"] is None and not shadow["file_size"]
    assert reason["deep"] == ("header", "sequence_nesting_too_deep")
    assert reason["nan-rescale"] == ("decode", "invalid_pixel_attribute")
    assert reason["frames"] == reason["rle-bomb"] == ("decode", "decoded_size_over_limit")
    assert reason["zeros.dcm"] == ("catalog", "not_dicom")
    metadata = {Path(r["path"]).name: r for r in table(run["out"], "metadata")}
    assert metadata["huge-text"]["oversized_values"] == 1
    assert metadata["M%FCller"]["modality"] == "MR"


def test_each_shared_instance_is_under_its_own_patient(run):
    key = PseudonymKey(KEY.encode(), "test")
    dest = run["dest"]
    by_patient: dict[str, list[Path]] = {}
    for path in dest.rglob("*.dcm"):
        shared = pydicom.dcmread(path)
        folder = path.relative_to(dest).parts[0]
        assert shared.PatientID == folder
        by_patient.setdefault(folder, []).append(path)
    for tag, original in COLLIDING.items():
        files = by_patient.get(key.identifier(original, "patient"), [])
        assert len(files) == 1, tag
        source_name = "MR_small.dcm" if tag == "B" else "CT_small.dcm"
        shared = pydicom.dcmread(files[0])
        original_pixels = pydicom.dcmread(pydicom_file(source_name)).pixel_array
        assert (shared.pixel_array == original_pixels).all(), tag


def test_no_planted_value_reaches_out_dest_or_the_process_output(run):
    secrets = [*craft.PHI.values(), *run["originals"], *COLLIDING.values(), "PAT-LATIN1"]
    assert leaks(run["dest"], secrets) == []
    operator_only = {"metadata", "quarantine"}  # their `path` and `detail` name input files
    shared_out = [p for p in run["out"].iterdir() if p.name not in operator_only]
    assert [leak for folder in shared_out for leak in leaks(folder, secrets)] == []
    header_json = "".join(r["header_json"] or "" for r in table(run["out"], "metadata"))
    assert [s for s in secrets if s in header_json] == []
    for name in ("pipeline", "export"):
        output = run[name].stdout + run[name].stderr
        assert [s for s in secrets if s in output] == [], name
    for path in run["dest"].rglob("*.dcm"):
        data = path.read_bytes()
        assert data[:128] == b"\0" * 128
        meta = pydicom.dcmread(io.BytesIO(data)).file_meta
        assert "PrivateInformation" not in meta and "SourceApplicationEntityTitle" not in meta


def test_dest_holds_only_shared_files_and_the_run_records_stay_in_out(run):
    dest, out = run["dest"], run["out"]
    names = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert "manifest.csv" in names
    assert {n for n in names if not n.endswith(".dcm")} == {"manifest.csv"}
    jobs = {r["job"] for r in table(out, "audit")}
    assert {"pipeline", "export"} <= jobs
    assert any('"job": "export"' in p.read_text() for p in (out / "runs").glob("*.json"))


def test_nothing_is_written_outside_out_and_dest(run):
    root, out, dest = run["root"], run["out"], run["dest"]
    after = {p for p in root.rglob("*")}
    new = {p for p in after - run["before"] if out not in p.parents and dest not in p.parents}
    assert new == {out, dest}
    assert list(run["work"].iterdir()) == []
    assert set(os.listdir("/")) == run["top_before"]


def test_a_file_replaced_after_ingest_is_not_exported_under_the_old_patient(run, tmp_path):
    inputs, out = run["inputs"], run["out"]
    target = inputs / "normal" / "CT_small"
    original = target.read_bytes()
    target.write_bytes(craft.instance("CT_small.dcm", "798", "PAT-REPLACED"))
    try:
        dest = tmp_path / "dest"
        done = medspark(run["work"], "export", str(out), str(dest))
    finally:
        target.write_bytes(original)
    assert done.returncode == 0, done.stderr[-3000:]
    failed = [r for r in table(out, "exports") if r["status"] == "failed"]
    assert [r["reason"] for r in failed] == ["changed_since_ingest"]
    key = PseudonymKey(KEY.encode(), "test")
    assert not (dest / key.identifier("PAT-REPLACED", "patient")).exists()
