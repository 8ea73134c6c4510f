"""The volumes job: OUT/metadata grouped by series -> OUT/volumes, one row per series."""

from __future__ import annotations

import logging

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.run_summary import JobResult
from medspark.schemas import METADATA, VOLUMES
from medspark.spark.output.tables import read_table, write_table
from medspark.spark.records.arrow_map import prepare_worker
from medspark.spark.records.pixel_clearance import usable_pixels, with_pixel_clearance
from medspark.spark.run import Run
from medspark.volume.series import INPUT_COLUMNS, VolumeOptions, describe_series

log = logging.getLogger("medspark.volumes")


def _per_series(options: VolumeOptions):
    def run(rows: pd.DataFrame) -> pd.DataFrame:
        prepare_worker()
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        try:
            record = describe_series(records, options)
        except Exception as exc:  # a bug must not stop the other series
            record = {
                "series_instance_uid": records[0]["series_instance_uid"],
                "status": "rejected",
                "problems": [f"internal_error: {type(exc).__name__}"],
                "n_instances": len(records),
                "run_id": options.run_id,
                "processed_at": pd.Timestamp.now(tz="UTC"),
            }
        return pd.DataFrame([{name: record.get(name) for name in VOLUMES.columns}])

    return run


def series_volumes(
    metadata: DataFrame, settings: Settings, run_id: str, key: PseudonymKey | None = None
) -> DataFrame:
    """One volumes row per image series (held-back instances left out); nothing computed yet."""
    images = metadata.filter(
        F.col("has_pixel_data") & usable_pixels(settings) & F.col("series_instance_uid").isNotNull()
    ).select(*INPUT_COLUMNS)
    options = VolumeOptions(run_id, settings.volumes, settings.ingest.archive_limits(), key)
    return images.groupBy("series_instance_uid").applyInPandas(
        _per_series(options), from_arrow_schema(VOLUMES.schema)
    )


def run_volumes(run: Run) -> JobResult:
    """Build every series in OUT/metadata into a volume and write OUT/volumes."""
    run = run.begin("volumes")
    spark, settings, out_uri = run.spark, run.settings, run.out_uri
    with run.stage("build_and_write") as stage:
        metadata = with_pixel_clearance(
            spark, settings, out_uri, read_table(spark, out_uri, METADATA)
        )
        volumes = series_volumes(metadata, settings, run.id, run.key)
        write_table(volumes, out_uri, VOLUMES, settings.deid.encryption)
        written = read_table(spark, out_uri, VOLUMES)
        by_status = {
            r["status"]: int(r["count"]) for r in written.groupBy("status").count().collect()
        }
        with_gaps = written.filter(F.col("missing_slices") > 0).count()
        stage.update(series=sum(by_status.values()))
    run.count(series=sum(by_status.values()), by_status=by_status, series_with_gaps=with_gaps)
    return run.finish()
