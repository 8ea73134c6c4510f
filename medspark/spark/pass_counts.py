"""The run summary's counts of a pass whose tasks wrote their own files, from one grouped query
over its ledger: what `ingest_counts`, `image_kinds` and `feature_counts` give over the tables
as written (a test holds them equal), without reading the tables back or a query per count."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from medspark.dicom.reasons import Reason, Stage
from medspark.spark.duplicates import LaterCopies
from medspark.spark.extraction import feature_summary, skipped_counts
from medspark.spark.inspection import ingest_summary


def tally(ledger: DataFrame, later: LaterCopies | None) -> list[Row]:
    """The ledger's records counted by what the counts tell apart, with the files they were
    written to; a later copy's records are marked `later` (its rows leave the tables)."""
    keys = ["path", "sop_instance_uid"]
    marked = (
        ledger.withColumn("later", F.lit(False))
        if later is None
        else ledger.join(later.keys.withColumn("later", F.lit(True)), keys, "left").fillna(
            False, ["later"]
        )
    )
    return (
        marked.groupBy(
            "outcome",
            "later",
            "modality",
            "stage",
            "reason",
            "has_pixel_data",
            F.coalesce(F.col("burned_in_risk"), F.lit(False)).alias("at_risk"),
        )
        .agg(
            F.count("*").alias("rows"),
            F.count(F.when(F.col("accounts_file"), 1)).alias("files"),
            F.count(F.when(F.col("first_frame"), 1)).alias("instances"),
            F.count(F.when(F.col("pixels_examined"), 1)).alias("examined"),
            F.count(F.when(F.col("pixel_text_boxes") > 0, 1)).alias("with_text"),
            F.count(F.when(F.col("pixel_phi_boxes") > 0, 1)).alias("redacted"),
            F.collect_set("part").alias("parts"),
        )
        .collect()
    )


@dataclass
class PassCounts:
    """The tally folded into the files each table's tasks wrote and the summary's counts."""

    hold_back: bool  # deid.pixels is hold_back: at-risk images are not decoded
    parts: dict[str, set[str]] = field(default_factory=dict)
    by_modality: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    by_stage: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    frames: Counter[str] = field(default_factory=Counter)
    text: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    accounted: int = 0
    instances: int = 0

    def add(self, row: Row) -> None:
        """Fold in one tally row."""
        self.parts.setdefault(row["outcome"], set()).update(row["parts"])
        self.accounted += row["files"]  # a later copy's file stays accounted, as a duplicate
        rows, modality = row["rows"], row["modality"] or "unknown"
        if row["later"]:
            if row["outcome"] == "metadata":
                self.by_reason[str(Reason.DUPLICATE_SOP_INSTANCE)] += rows
                self.by_stage[str(Stage.DEDUPLICATE)] += rows
        elif row["outcome"] == "metadata":
            self.by_modality[modality] += rows
            self.kinds[self._kind(row)] += rows
        elif row["outcome"] == "quarantine":
            self.by_reason[row["reason"]] += rows
            self.by_stage[row["stage"]] += rows
            if row["stage"] == str(Stage.DECODE):
                self.failures[row["reason"]] += rows
        elif row["outcome"] == "features":
            self.frames[modality] += rows
            self.instances += row["instances"]
            self.text.update({k: row[k] for k in ("examined", "with_text", "redacted")})

    def _kind(self, row: Row) -> str:
        if row["has_pixel_data"] is False:
            return "non_image"
        return "held_back" if row["at_risk"] and self.hold_back else "image"

    def summary(self) -> dict[str, Any]:
        """The counts, named as the ingest, features and pipeline summaries name them."""
        return {
            **ingest_summary(
                self.by_modality,
                self.by_reason,
                self.by_stage,
                self.kinds["non_image"],
                self.accounted,
            ),
            **skipped_counts(self.kinds["image"], self.kinds),
            **feature_summary(self.frames, self.instances, self.text, self.failures),
        }


def pass_counts(rows: list[Row], hold_back: bool) -> PassCounts:
    """The tally's rows folded together."""
    counts = PassCounts(hold_back)
    for row in rows:
        counts.add(row)
    return counts
