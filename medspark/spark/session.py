"""Build the SparkSession a job runs in, from a profile and conf/spark-defaults.conf."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from medspark.config import Settings, conf_file
from medspark.errors import EnvironmentProblem
from medspark.spark.output.encryption import session_settings

LOOPBACK = "127.0.0.1"
APPENDED = ("spark.driver.extraJavaOptions",)
"""Settings a profile adds to rather than replaces (medspark's own logging configuration)."""


class SparkStartError(EnvironmentProblem):
    """Spark could not start (no Java, a bad master URL, a port that will not bind)."""


def read_spark_defaults(text: str) -> dict[str, str]:
    """Key/value pairs from spark-defaults.conf-style text (comments and blanks skipped)."""
    settings: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, _, value = stripped.partition(" ")
        settings[key] = value.strip()
    return settings


def session_conf(settings: Settings, local: bool = True) -> dict[str, str]:
    """Every Spark setting a medspark session is built with, in order of precedence."""
    conf: dict[str, str] = {}
    defaults = conf_file(settings, settings.spark.defaults_file or "")
    if settings.spark.defaults_file and defaults is not None:
        conf.update(read_spark_defaults(defaults.read_text()))
    log_conf = conf_file(settings, "log4j2.properties")
    if _is_real_file(log_conf):
        location = Path(str(log_conf)).resolve()
        conf["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{location}"
    if local:
        conf["spark.driver.host"] = LOOPBACK
        conf["spark.driver.bindAddress"] = LOOPBACK
    conf.update(session_settings(settings.deid.encryption))
    for key, value in settings.spark.settings.items():
        if key in APPENDED and conf.get(key):
            value = f"{conf[key]} {value}"
        conf[key] = value
    return conf


def _is_real_file(resource) -> bool:
    """True for a resource that is a file on disk (not a member of a zipped wheel)."""
    return resource is not None and Path(str(resource)).is_file()


log = logging.getLogger(__name__)
SOURCE_ENVIRONMENT_PREFIX = "MEDSPARK_DICOMWEB_"


def first_cause(exc: BaseException) -> str:
    """The line of an exception (a Java one through py4j included) that says what went wrong,
    without its stack trace."""
    lines = [line.strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("at ", "..."))]
    for line in lines:
        if "Exception:" in line or "Error:" in line:
            return line.lstrip(": ")
    return lines[0] if lines else type(exc).__name__


def build_session(settings: Settings, app_name: str | None = None) -> SparkSession:
    """The active session, or a new one configured from `settings`.

    In local mode every socket binds to 127.0.0.1 and the Python workers run this interpreter.
    Under spark-submit the submitted master and settings win over the profile's.
    """
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # launched by spark-submit: its flags win
    master = None if submitted else settings.spark.master
    if master and master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name or settings.spark.app_name)
    if master:
        builder = builder.master(master)
    for key, value in session_conf(
        settings, local=bool(master and master.startswith("local"))
    ).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j, Java missing, port binding: all mean the same to a user
        log.debug("Spark could not start", exc_info=exc)
        raise SparkStartError(f"Spark could not start: {first_cause(exc)}") from exc
    forward_source_environment(session)
    return session


def forward_source_environment(spark: SparkSession) -> None:
    """Hand the driver's MEDSPARK_DICOMWEB_* variables (credentials, retries, TLS) to the
    Python workers of the functions defined from now on, on every executor; a variable the
    driver no longer has is withdrawn. Spark ships them inside the task, not in its UI."""
    environment = spark.sparkContext.environment
    for name in [n for n in environment if n.startswith(SOURCE_ENVIRONMENT_PREFIX)]:
        if name not in os.environ:
            del environment[name]
    for name, value in os.environ.items():
        if name.startswith(SOURCE_ENVIRONMENT_PREFIX):
            environment[name] = value
