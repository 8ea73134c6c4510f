"""The Spark settings a session is built with: the profile's over the defaults, Java options
added to medspark's own."""

from __future__ import annotations

from medspark.config import load_settings
from medspark.spark.session import session_conf


def test_the_profile_adds_java_options_to_the_logging_configuration():
    local = load_settings("local")
    spark = local.spark.model_copy(
        update={"settings": {**local.spark.settings, "spark.driver.extraJavaOptions": "-Xss4m"}}
    )
    options = session_conf(local.model_copy(update={"spark": spark}))[
        "spark.driver.extraJavaOptions"
    ].split()
    assert any(option.startswith("-Dlog4j2.configurationFile=file:") for option in options)
    assert options[-1] == "-Xss4m"


def test_other_profile_settings_replace_the_defaults():
    settings = load_settings("local")
    conf = session_conf(settings)
    assert (
        conf["spark.sql.shuffle.partitions"]
        == settings.spark.settings["spark.sql.shuffle.partitions"]
    )
    assert conf["spark.sql.parquet.compression.codec"] == "zstd"  # from spark-defaults.conf
