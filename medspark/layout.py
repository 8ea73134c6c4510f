"""Every place under OUT, named once: tables, run summaries, evaluation, report, registrations,
staging folders and the incremental run's state. Nothing else builds these paths."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medspark.schemas import TableSpec

LOCK_NAME = ".medspark-run.lock"
TABLE_MARKER = "_medspark-table.json"
ETL_FOLDER = "_etl"
BATCH_PARTITION = "etl_batch"


def join_uri(root: str, *parts: str) -> str:
    """A place below `root`."""
    return "/".join([root.rstrip("/"), *parts])


def write_probe(out_uri: str) -> str:
    """A file of a unique name directly under OUT, written and removed to prove OUT writable."""
    return join_uri(out_uri, f".medspark-write-probe-{uuid.uuid4().hex}")


def table(out_uri: str, spec: TableSpec) -> str:
    """The folder of a table."""
    return join_uri(out_uri, spec.place)


def table_marker(folder: str) -> str:
    """The file beside a table's Parquet files (or an etl batch's) that records its version."""
    return join_uri(folder, TABLE_MARKER)


def part_file(folder: str, name: str) -> str:
    """One file of a table's folder (or of its staging folder)."""
    return join_uri(folder, name)


def partition(folder: str, column: str, value: object) -> str:
    """One Hive-style partition folder of a table."""
    return join_uri(folder, f"{column}={value}")


def partition_name(values: Mapping[str, object]) -> str:
    """The folder of one Hive-style partition relative to its table (nested for several
    columns): where a task's part file of a partitioned table goes."""
    return "/".join(f"{column}={value}" for column, value in values.items())


def run_summary(out_uri: str, run_id: str) -> str:
    """OUT/runs/<run_id>.json."""
    return join_uri(out_uri, "runs", f"{run_id}.json")


def audit_file(out_uri: str, spec: TableSpec, run_id: str) -> str:
    """One run's file of the audit table: appended, never rewritten."""
    return join_uri(table(out_uri, spec), f"run-{run_id}.parquet")


def metrics(out_uri: str, kind: str = "mllib") -> str:
    """The evaluation of the last training run of a kind of model (mllib or cnn)."""
    if kind == "mllib":
        return join_uri(out_uri, "evaluation", "metrics.json")
    return join_uri(out_uri, "evaluation", kind, "metrics.json")


def report_page(out_uri: str) -> str:
    """The self-contained HTML report."""
    return join_uri(out_uri, "report", "index.html")


def default_model(out_uri: str) -> str:
    """Where `pipeline --labels` saves its model unless --model says otherwise."""
    return join_uri(out_uri, "model")


def registration(out_uri: str, name: str) -> str:
    """OUT/registrations/<name>, to which .json and .png are appended."""
    return join_uri(out_uri, "registrations", name)


def staging(out_uri: str, job: str, run_id: str) -> str:
    """A one-shot job's staging folder, hidden from readers by its leading underscore."""
    return join_uri(out_uri, f"_staging-{job}-{run_id}")


def etl_state(out_uri: str) -> str:
    """OUT/_etl: the incremental run's own state."""
    return join_uri(out_uri, ETL_FOLDER)


def etl_stored(out_uri: str, spec: TableSpec) -> str:
    """OUT/_etl/stored/<table>: every batch's rows as processed (`etl_batch=N` partitions), the
    history the current state is computed from."""
    return join_uri(etl_state(out_uri), "stored", spec.place)


def table_version(out_uri: str, spec: TableSpec, batch: int) -> str:
    """OUT/<table>/vNNNNNN: the files of the table's current state as of one etl batch."""
    return join_uri(table(out_uri, spec), f"v{batch:06d}")


def batches(out_uri: str) -> str:
    """The folder holding one sub-folder per planned batch."""
    return join_uri(etl_state(out_uri), "batches")


def batch(out_uri: str, number: int) -> str:
    """One batch's folder: plan, staging and commit marker."""
    return join_uri(batches(out_uri), f"{number:06d}")


def batch_plan(out_uri: str, number: int, final: bool = True) -> str:
    """The files a batch will process; written as .plan and renamed to plan."""
    return join_uri(batch(out_uri, number), "plan" if final else ".plan")


def batch_staging(out_uri: str, number: int, part: str | None = None) -> str:
    """Where a batch writes its tables before they are renamed into place."""
    folder = join_uri(batch(out_uri, number), "staging")
    return join_uri(folder, part) if part else folder


def batch_commit(out_uri: str, number: int) -> str:
    """The marker that says a batch is complete."""
    return join_uri(batch(out_uri, number), "_COMMITTED")


def compaction(out_uri: str, part: str | None = None) -> str:
    """Where compaction stages the rewritten tables before swapping them in."""
    folder = join_uri(etl_state(out_uri), "compact")
    return join_uri(folder, part) if part else folder


def compaction_ready(out_uri: str) -> str:
    """The marker that says a staged compaction may be swapped in."""
    return compaction(out_uri, "_READY")


MODEL_SIDECAR = "medspark-model.json"


def model_pipeline(model_dir: str) -> str:
    """The saved Spark ML pipeline inside a model folder."""
    return join_uri(model_dir, "pipeline")


def model_sidecar(model_dir: str) -> str:
    """The model's description: classes, columns, configuration, training data, metrics."""
    return join_uri(model_dir, MODEL_SIDECAR)


def model_weights(model_dir: str) -> str:
    """A network's weights (PyTorch state dict) inside a model folder."""
    return join_uri(model_dir, "network.pt")


def model_onnx(model_dir: str) -> str:
    """The same network as ONNX, for serving without PyTorch."""
    return join_uri(model_dir, "network.onnx")
