"""Settings for the test SparkSession: local[2] on 127.0.0.1, no UI, few shuffle partitions."""

from __future__ import annotations

from medspark.config import Settings, SparkSettings, load_settings

TEST_SPARK_SETTINGS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
}


def make_settings(**ingest) -> Settings:
    base = load_settings("local")
    spark = SparkSettings(
        **{**base.spark.model_dump(), "settings": {**base.spark.settings, **TEST_SPARK_SETTINGS}}
    )
    changes = {"spark": spark}
    if ingest:
        changes["ingest"] = base.ingest.model_copy(update=ingest)
    return base.model_copy(update=changes)
