"""One series' metadata rows -> one volumes table row (the per-series core; no Spark)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medspark.dicom.reasons import Rejection
from medspark.dicom.redaction_boxes import boxes_by_frame
from medspark.dicom.sources import ArchiveLimits, read_verified
from medspark.volume.build import Volume, VolumeTooLarge, build_volume
from medspark.volume.describe import describe_volume
from medspark.volume.geometry import NotAVolume
from medspark.volume.options import VolumeSettings

IDENTITY = (
    "series_instance_uid",
    "study_instance_uid",
    "patient_id",
    "frame_of_reference_uid",
    "modality",
)
INPUT_COLUMNS = (
    *IDENTITY,
    "sop_instance_uid",
    "path",
    "path_token",
    "file_size",
    "sha256",
    "transfer_syntax_uid",
    "number_of_frames",
    "redactions",
)


@dataclass(frozen=True)
class VolumeOptions:
    """What the per-series core needs: settings, archive limits, the key for hashed paths."""

    run_id: str
    settings: VolumeSettings
    archive_limits: ArchiveLimits
    key: Any = None


def instance_order(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A series' metadata rows in the order `load_series` reads them (its instance numbers)."""
    return sorted(rows, key=lambda r: (r["path"], r.get("sop_instance_uid") or ""))


def load_series(
    rows: Sequence[dict[str, Any]], options: VolumeOptions, *, stack: bool = False
) -> Volume:
    """Read and assemble the volume of a series' metadata rows (with `stack`, planes that make
    no volume come back as a stack of 2D images)."""
    ordered = instance_order(rows)
    readers = [
        (lambda row=row: read_verified(row, options.key, options.archive_limits)) for row in ordered
    ]
    settings = options.settings
    return build_volume(
        readers,
        [row.get("transfer_syntax_uid") for row in ordered],
        max_voxels=settings.max_voxels,
        gap_factor=settings.gap_factor,
        tolerance=settings.spacing_tolerance,
        redactions=[boxes_by_frame(row.get("redactions")) for row in ordered],
        stack=stack,
    )


def plane_count(rows: Sequence[dict[str, Any]]) -> int:
    """The 2D planes a series' instances hold (a frame each; an instance without frames, one)."""
    return sum(max(1, int(r.get("number_of_frames") or 1)) for r in rows)


def describe_series(rows: Sequence[dict[str, Any]], options: VolumeOptions) -> dict[str, Any]:
    """The volumes row of a series; problems are recorded, never raised."""
    first = rows[0]
    record: dict[str, Any] = {name: first.get(name) for name in IDENTITY}
    record.update(
        n_instances=len(rows),
        run_id=options.run_id,
        processed_at=dt.datetime.now(dt.UTC),
        problems=[],
    )
    if plane_count(rows) < 2:
        record["status"] = "single_image"
        return record
    settings = options.settings
    try:
        volume = load_series(rows, options)
        record.update(
            describe_volume(
                volume,
                region=settings.region,
                largest_component=settings.largest_component,
                window=settings.window,
                thumbnail_size=settings.thumbnail_size,
                bins=settings.bins,
            )
        )
        record["status"] = "built"
    except VolumeTooLarge as exc:
        record.update(status="too_large", problems=[f"too_large: {exc}"])
    except NotAVolume as exc:
        record.update(status="rejected", problems=[f"not_a_volume: {exc}"])
    except Rejection as rejection:
        record.update(status="rejected", problems=[f"{rejection.reason}: {rejection.detail}"])
    except (OSError, KeyError, OverflowError) as exc:
        record.update(status="rejected", problems=[f"unreadable: {type(exc).__name__}"])
    return record
