"""One input file to every record it yields, reading its bytes once: the metadata or quarantine
row of each instance (as ingest makes them) followed by its feature or decode quarantine rows
(as the features stage makes them), decoded from the same bytes.

This is the whole per-file work of `medspark pipeline` and `medspark etl`, with no Spark in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from medspark.dicom.inspect import InspectOptions, inspect_file_bytes
from medspark.imaging.extract import FeatureOptions, extract_instance

Record = dict[str, Any]


class PixelHandling(StrEnum):
    """What the features stage does with one image's pixels."""

    AS_IS = "as_is"
    EXAMINE = "examine"  # searched for burned-in text, PHI boxes filled, before any feature
    HOLD_BACK = "hold_back"  # no features at all


def pixel_handling(burned_in_risk: bool | None, pixels: str, examine_pixels: str) -> PixelHandling:
    """The handling of an image under deid.pixels (`detect_and_redact`, `hold_back`, `off`) and
    deid.examine_pixels (`at_risk`, `all`), given whether it may carry burned-in annotation."""
    at_risk = bool(burned_in_risk)
    if pixels == "hold_back" and at_risk:
        return PixelHandling.HOLD_BACK
    if pixels == "detect_and_redact" and (at_risk or examine_pixels == "all"):
        return PixelHandling.EXAMINE
    return PixelHandling.AS_IS


@dataclass(frozen=True)
class SinglePassOptions:
    """What a worker needs to take files all the way to feature rows; pickled once per task."""

    inspect: InspectOptions
    features: FeatureOptions
    pixels: str = "detect_and_redact"
    examine_pixels: str = "at_risk"


def inspect_and_extract(
    key: str,
    size: int,
    options: SinglePassOptions,
    problem: str | None = None,
    detail: str | None = None,
) -> Iterator[Record]:
    """Every record one listed entry gives: per instance, its metadata row then its feature rows
    (or decode quarantine row), or its quarantine row. Files over the in-memory limit are
    streamed for the header and read once more to decode."""
    for record, data in inspect_file_bytes(key, size, options.inspect, problem, detail):
        yield record
        if record["outcome"] != "metadata" or not record.get("has_pixel_data"):
            continue
        handling = pixel_handling(
            record.get("burned_in_risk"), options.pixels, options.examine_pixels
        )
        if handling is PixelHandling.HOLD_BACK:
            continue
        row = {**record, "examine_pixels": handling is PixelHandling.EXAMINE}
        for extracted in extract_instance(row, options.features, data):
            extracted["path"] = record["path"]  # ties the rows to this copy of the instance
            extracted["sop_instance_uid"] = record["sop_instance_uid"]
            yield extracted
