"""The NIfTI export: every built series of OUT/metadata as a .nii.gz volume, with a label map
for the SEG / RTSTRUCT regions drawn on it; one task per study, the workers write, the driver
plans and, for the nnU-Net layout, writes dataset.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import functions as F

from medspark.exports.nifti import Layout, NiftiOptions, export_study
from medspark.run_summary import JobResult
from medspark.schemas import METADATA, NIFTI_EXPORTS
from medspark.spark.output.tables import read_table, write_table
from medspark.spark.records.pixel_clearance import with_pixel_clearance
from medspark.spark.records.studies import map_studies, placement_options
from medspark.spark.run import Run
from medspark.storage import shared_folder, write_text

NNUNET_DATASET = "dataset.json"


def _dataset_json(manifest, modality: str | None) -> dict[str, Any]:
    """nnU-Net v2's dataset.json: one channel, labels 0..N (N: the most regions of one case)."""
    most = max((len(r["labels"] or []) for r in manifest if r["kind"] == "labels"), default=0)
    return {
        "channel_names": {"0": modality or "image"},
        "labels": {"background": 0, **{f"label_{n}": n for n in range(1, most + 1)}},
        "numTraining": sum(1 for r in manifest if r["kind"] == "labels"),
        "file_ending": ".nii.gz",
        "overwrite_image_reader_writer": "NibabelIOWithReorient",
        "description": "medspark export: label n is the n-th region of the case's objects; "
        "labelsTr/<case>.json names them",
    }


def run_nifti_export(run: Run, destination: str, layout: Layout = "folders") -> JobResult:
    """Write OUT/metadata's series as NIfTI under DEST and the manifest as OUT/exports_nifti."""
    folder = shared_folder(destination)
    run = run.begin("export_nifti")
    spark, settings, out_uri, run_id = run.spark, run.settings, run.out_uri, run.id
    with run.stage("export_nifti") as stage:
        metadata = with_pixel_clearance(
            spark, settings, out_uri, read_table(spark, out_uri, METADATA)
        )
        options = NiftiOptions(
            folder, layout, placement_options(settings, run_id, run.key, ("seg", "rtstruct"))
        )

        def failed(records: list[dict], exc: Exception) -> list[dict]:
            return [
                {"series_instance_uid": uid, "kind": "image", "status": "skipped",
                 "reason": "internal_error", "detail": type(exc).__name__, "run_id": run_id,
                 "exported_at": pd.Timestamp.now(tz="UTC")}
                for uid in sorted({r["series_instance_uid"] for r in records})
            ]  # fmt: skip

        manifest = map_studies(
            metadata,
            settings,
            lambda rows: export_study(rows, options),
            failed,
            NIFTI_EXPORTS.schema,
        )
        write_table(manifest, out_uri, NIFTI_EXPORTS, settings.deid.encryption)
        written = read_table(spark, out_uri, NIFTI_EXPORTS)
        by_kind = {
            f"{r['kind']}_{r['status']}": int(r["count"])
            for r in written.groupBy("kind", "status").count().collect()
        }
        if layout == "nnunet":
            rows = written.filter(F.col("status") == "exported").collect()
            modalities = sorted({r["modality"] for r in rows if r["modality"]})
            document = _dataset_json(rows, "+".join(modalities) or None)
            write_text(str(Path(folder) / NNUNET_DATASET), json.dumps(document, indent=2) + "\n")
        stage.update(by_kind)
    run.count(destination=destination, layout=layout, **by_kind)
    return run.finish()
