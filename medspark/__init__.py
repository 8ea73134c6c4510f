"""medspark: medical-imaging ETL on Apache Spark."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("medspark")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
