"""The run report: gather from OUT with Spark, draw with matplotlib, write one HTML file."""
