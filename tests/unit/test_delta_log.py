"""What the Delta log may hold: statistics columns leave every identifier out; partition values
come from the folder names as Spark writes them."""

from __future__ import annotations

from medspark.schemas import FEATURES, IDENTIFIER_COLUMNS, METADATA, QUARANTINE, ROI_FEATURES
from medspark.spark.output.delta_log import _partition_values, stats_columns


def test_statistics_columns_name_no_identifier():
    for spec in (METADATA, QUARANTINE, FEATURES, ROI_FEATURES):
        allowed = set(stats_columns(spec))
        assert allowed, spec.name
        assert not allowed & {*IDENTIFIER_COLUMNS, *spec.identifying}, spec.name
        assert allowed <= set(spec.schema.names)
    assert "modality" in stats_columns(METADATA)
    assert "sop_instance_uid" not in stats_columns(METADATA)


def test_partition_values_from_the_folders():
    assert _partition_values("stage=decode/part-0.parquet", ("stage",)) == {"stage": "decode"}
    assert _partition_values("stage=__HIVE_DEFAULT_PARTITION__/p.parquet", ("stage",)) == {
        "stage": None
    }
    assert _partition_values("stage=a%3Db/p.parquet", ("stage",)) == {"stage": "a=b"}
    assert _partition_values("part-0.parquet", ()) == {}
