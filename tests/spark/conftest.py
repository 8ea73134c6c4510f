"""One local SparkSession for the whole test session, bound to 127.0.0.1."""

from __future__ import annotations

import pytest

from medspark.config import Settings, SparkSettings, load_settings
from medspark.spark.session import build_session

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


@pytest.fixture(scope="session")
def spark():
    session = build_session(make_settings(), "medspark tests")
    yield session
    session.stop()
