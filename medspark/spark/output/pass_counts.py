"""The run summary's counts of a pass whose tasks wrote their own files, from the pass's ledger
(one small row per record) rather than the tables, and the names the summary gives them; tests
hold them equal to the same counts queried over the tables as written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medspark.dicom.reasons import Reason, Stage

TALLY_KEYS = ("outcome", "modality", "stage", "reason", "has_pixel_data", "at_risk")
TALLIED = ("rows", "files", "instances", "examined", "with_text", "redacted")


@dataclass
class PassTally:
    """Ledger records counted by what the counts tell apart (TALLY_KEYS): records, files they
    account for, instances, frames examined for burned-in text, with text, redacted; and the
    files each table's records were written to."""

    groups: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    parts: dict[str, set[str]] = field(default_factory=dict)

    def add_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add tally rows (the counts under their keys, and the files as `parts`)."""
        for row in rows:
            counts = self.groups.setdefault(tuple(row[k] for k in TALLY_KEYS), [0] * len(TALLIED))
            for place, name in enumerate(TALLIED):
                counts[place] += row[name]
            self.parts.setdefault(row["outcome"], set()).update(row["parts"])

    def rows(self) -> list[dict[str, Any]]:
        """The summed counts as tally rows, without their files (`parts`)."""
        return [
            {**dict(zip(TALLY_KEYS, key, strict=True)), **dict(zip(TALLIED, counts, strict=True))}
            for key, counts in self.groups.items()
        ]


def _flagged(column: F.Column) -> F.Column:
    return F.sum(F.coalesce(column, F.lit(False)).cast("long"))


def ledger_tally(ledger: DataFrame) -> PassTally:
    """The pass's counts from its ledger (or a part of it), aggregated by Spark over the
    persisted ledger (in the JVM, a few rows to the driver). A retried or recomputed task's
    records are in the ledger once, so they count once."""
    grouped = ledger.groupBy(
        *TALLY_KEYS[:-1], F.coalesce("burned_in_risk", F.lit(False)).alias("at_risk")
    ).agg(
        F.count("*").alias("rows"),
        _flagged(F.col("accounts_file")).alias("files"),
        _flagged(F.col("first_frame")).alias("instances"),
        _flagged(F.col("pixels_examined")).alias("examined"),
        _flagged(F.col("pixel_text_boxes") > 0).alias("with_text"),
        _flagged(F.col("pixel_phi_boxes") > 0).alias("redacted"),
        F.collect_set("part").alias("parts"),
    )
    tally = PassTally()
    tally.add_rows(row.asDict() for row in grouped.collect())
    return tally


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

    def add(self, row: Mapping[str, Any], later: bool = False, sign: int = 1) -> None:
        """Fold in one tally row (`sign` -1 takes it out); a `later` copy's records count as
        its duplicate quarantine row."""
        self.accounted += sign * row["files"]  # a later copy's file stays accounted
        rows, modality = sign * row["rows"], row["modality"] or "unknown"
        if later:
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
            self.instances += sign * row["instances"]
            self.text.update({k: sign * row[k] for k in ("examined", "with_text", "redacted")})

    def set_aside(self, later_rows: Iterable[Mapping[str, Any]]) -> None:
        """Move the tally rows of later copies' records out of the tables' counts: their rows
        leave the tables, and each later copy is counted as a duplicate."""
        for row in later_rows:
            self.add(row, sign=-1)
            self.add(row, later=True)

    def _kind(self, row: Mapping[str, Any]) -> str:
        if row["has_pixel_data"] is False:
            return "non_image"
        return "held_back" if row["at_risk"] and self.hold_back else "image"

    def summary(self) -> dict[str, Any]:
        """The counts, named as the ingest, features and pipeline summaries name them; a key
        whose rows all left with later copies is left out, as a query over the tables would."""
        return {
            **self.ingest_summary(),
            **skipped_counts(self.kinds["image"], self.kinds),
            **self.feature_summary(),
        }

    def ingest_summary(self) -> dict[str, Any]:
        """The metadata and quarantine counts alone (the ingest job's)."""
        return ingest_summary(
            +self.by_modality, +self.by_reason, +self.by_stage, self.kinds["non_image"],
            self.accounted,
        )  # fmt: skip

    def feature_summary(self) -> dict[str, Any]:
        """The feature counts alone (the features job's): frames, instances, text, failures."""
        return feature_summary(+self.frames, self.instances, self.text, +self.failures)


def pass_counts(tally: PassTally, hold_back: bool) -> PassCounts:
    """The tasks' summed tally folded into the summary's counts and each table's files."""
    counts = PassCounts(hold_back, {outcome: set(parts) for outcome, parts in tally.parts.items()})
    for row in tally.rows():
        counts.add(row)
    return counts


def ingest_summary(
    by_modality: Mapping[str, int],
    by_reason: Mapping[str, int],
    by_stage: Mapping[str, int],
    non_image: int,
    accounted: int,
) -> dict[str, Any]:
    """The run summary's ingest counts, named as every job's summary names them."""
    return {
        "metadata": sum(by_modality.values()),
        "quarantine": sum(by_reason.values()),
        "non_image_instances": non_image,
        "accounted_files": accounted,
        "by_modality": dict(by_modality),
        "by_reason": dict(by_reason),
        "by_stage": dict(by_stage),
    }


def skipped_counts(images: int, skipped: dict[str, int]) -> dict[str, int]:
    """The run summary's counts of images to decode and instances not decoded (`image_kinds`)."""
    return {
        "image_instances": images,
        "non_image_instances_skipped": skipped["non_image"],
        "held_back_burned_in": skipped["held_back"],
    }


def feature_summary(
    frames: Mapping[str, int],
    instances: int,
    text: Mapping[str, int],
    failures: Mapping[str, int],
) -> dict[str, Any]:
    """The run summary's feature counts from frames by modality, instances decoded, frames
    `examined` / `with_text` / `redacted`, and decode failures by reason (images held back
    unchecked are counted as held back, not as not decodable)."""
    held_back = failures.get("burned_in_text_unchecked", 0)
    return {
        "instances_with_features": instances,
        "feature_rows": sum(frames.values()),
        "feature_rows_by_modality": dict(frames),
        "frames_examined_for_text": int(text["examined"]),
        "frames_with_text": int(text["with_text"]),
        "frames_redacted": int(text["redacted"]),
        "held_back_text_unchecked": held_back,
        "decode_quarantined": sum(failures.values()) - held_back,  # not decodable
        "decode_quarantined_by_reason": dict(failures),
    }
