"""Labels files: read CSV or Parquet, find the key column, pseudonymise raw identifiers."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from medspark.dicom.keys import PseudonymKey
from medspark.errors import DataError

KEY_COLUMNS = ("sop_instance_uid", "series_instance_uid", "study_instance_uid", "patient_id")
LABEL_COLUMN = "label"
SPLIT_COLUMN = "split"  # optional: train or test, a held-out set decided by the user
SPLITS = ("train", "test")


class LabelsError(DataError):
    """The labels file cannot be used: no key column, no label column, or no rows."""


def read_labels(path: str | Path) -> pa.Table:
    """A labels table from CSV (with a header row) or Parquet, all columns as text."""
    path = Path(path)
    if not path.exists():
        raise LabelsError(f"labels file not found: {path}")
    if path.suffix.lower() in (".parquet", ".pq") or path.is_dir():
        table = pq.read_table(path)
    else:
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(strings_can_be_null=False)
        )
    return table.cast(pa.schema([pa.field(name, pa.string()) for name in table.column_names]))


def key_column(table: pa.Table) -> str:
    """The most specific identifier the labels are keyed by."""
    for name in KEY_COLUMNS:
        if name in table.column_names:
            return name
    raise LabelsError(f"a labels file needs one of the columns {', '.join(KEY_COLUMNS)}")


def pseudonymise(value: str, column: str, key: PseudonymKey) -> str:
    """The pseudonym the tables hold for a raw identifier of this column."""
    if column == "patient_id":
        return key.identifier(value, "patient")
    return key.uid(value)


def _split(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if text and text not in SPLITS:
        raise LabelsError(
            f"the labels file's '{SPLIT_COLUMN}' column holds {value!r}: use train or test, "
            "or leave it empty for medspark's split by patient"
        )
    return text or None


def prepared_labels(
    path: str | Path, key: PseudonymKey | None
) -> tuple[str, list[tuple[str, str, str | None]]]:
    """(key column, [(pseudonymised key, label, split)]); identifiers pass through when key is
    None; split is `train`, `test` or None (medspark's hashed split decides)."""
    table = read_labels(path)
    column = key_column(table)
    if LABEL_COLUMN not in table.column_names:
        raise LabelsError(f"a labels file needs a '{LABEL_COLUMN}' column")
    splits = (
        table.column(SPLIT_COLUMN).to_pylist()
        if SPLIT_COLUMN in table.column_names
        else [None] * table.num_rows
    )
    rows = []
    for raw, label, split in zip(
        table.column(column).to_pylist(),
        table.column(LABEL_COLUMN).to_pylist(),
        splits,
        strict=True,
    ):
        if raw is None or label is None or not str(raw).strip() or not str(label).strip():
            continue
        value = str(raw).strip()
        pseudonym = pseudonymise(value, column, key) if key else value
        rows.append((pseudonym, str(label).strip(), _split(split)))
    if not rows:
        raise LabelsError("the labels file has no usable rows")
    return column, rows
