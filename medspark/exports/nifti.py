"""One study's series as NIfTI volumes, with a label map per series for the regions SEG and
RTSTRUCT objects drew on it (no Spark).

Geometry comes from the series grid, itself from the slice positions: the affine maps voxel
(i, j, k) = (column, row, slice) to RAS millimetres (DICOM's LPS with x and y negated), and the
slice spacing is the distance between positions, never Slice Thickness.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nibabel as nib
import numpy as np

from medspark.exports.dicom import series_folder
from medspark.regions.grid import SeriesGrid
from medspark.regions.placement import (
    SERIES_COLUMNS,
    PlacedRegion,
    PlacementOptions,
    for_each_region,
    load_volume,
)
from medspark.regions.rejected import RegionRejected
from medspark.storage import write_bytes
from medspark.volume.series import plane_count

Layout = Literal["folders", "nnunet"]
Row = dict[str, Any]


@dataclass(frozen=True)
class NiftiOptions:
    """Where and how a study's volumes are written, and how its regions are read."""

    destination: str
    layout: Layout
    regions: PlacementOptions


def ras_affine(grid: SeriesGrid) -> np.ndarray:
    """The 4x4 affine from voxel (column, row, slice) to RAS mm."""
    row, column, normal = grid.row_direction, grid.column_direction, grid.normal
    if grid.origin is None or row is None or column is None or normal is None:
        raise ValueError("a grid without plane geometry has no affine")
    dz, dy, dx = grid.spacing
    lps = np.eye(4)
    lps[:3, 0] = row * dx
    lps[:3, 1] = column * dy
    lps[:3, 2] = normal * dz
    lps[:3, 3] = grid.origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def _serialise(image: nib.Nifti1Image) -> bytes:
    buffer = io.BytesIO()
    file_map = image.make_file_map({"image": buffer, "header": buffer})
    image.to_file_map(file_map)
    return buffer.getvalue()


def image_bytes(values: np.ndarray, affine: np.ndarray) -> bytes:
    """A gzipped NIfTI-1 image of (slice, row, column) values, stored as (column, row, slice),
    with sform and qform both the affine (scanner coordinates)."""
    image = nib.Nifti1Image(np.ascontiguousarray(values.transpose(2, 1, 0)), affine)
    image.header.set_xyzt_units("mm")
    image.set_sform(affine, code=1)
    image.set_qform(affine, code=1)
    return gzip.compress(_serialise(image), compresslevel=6, mtime=0)


def label_map(shape: tuple[int, ...], regions: Sequence[PlacedRegion]) -> tuple[np.ndarray, dict]:
    """One label per region (1, 2, … in the order of the objects' region numbers), and what
    each label is; a voxel two regions claim keeps the later one, and the overlap is counted."""
    labels = np.zeros(shape, dtype=np.uint16)
    described: dict[str, Any] = {"labels": {"0": "background"}, "regions": []}
    ordered = sorted(
        regions,
        key=lambda r: (str(r.identity["segmentation_sop_instance_uid"]), r.identity["roi_number"]),
    )
    for value, region in enumerate(ordered, start=1):
        overlap = int(np.count_nonzero(labels[region.mask]))
        labels[region.mask] = value
        name = str(region.identity.get("roi_label") or f"region {value}")
        described["labels"][str(value)] = name
        described["regions"].append(
            {
                "label": value,
                "name": name,
                "source": region.identity["roi_source"],
                "object_uid": region.identity["segmentation_sop_instance_uid"],
                "number": region.identity["roi_number"],
                "voxels": int(region.mask.sum()),
                "overlapping_voxels": overlap,
            }
        )
    return labels, described


def _write(root: Path, relative: str, body: bytes) -> Row:
    write_bytes(str(root / relative), body)
    return {"file": relative, "file_size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def _places(first: Row, layout: Layout, labelled: bool) -> dict[str, str]:
    """Where a series' files go under DEST."""
    if layout == "nnunet":
        case = "case_" + hashlib.sha256(str(first["series_instance_uid"]).encode()).hexdigest()[:16]
        images = "imagesTr" if labelled else "imagesTs"
        return {
            "image": f"{images}/{case}_0000.nii.gz",
            "labels": f"labelsTr/{case}.nii.gz",
            "sidecar": f"labelsTr/{case}.json",
        }
    folder = series_folder(first)
    return {
        "image": f"{folder}/image.nii.gz",
        "labels": f"{folder}/labels.nii.gz",
        "sidecar": f"{folder}/labels.json",
    }


def _skipped(identity: Row, kind: str, reason: str, detail: str) -> Row:
    return {**identity, "kind": kind, "status": "skipped", "reason": reason, "detail": detail}


def export_study(rows: Sequence[Row], options: NiftiOptions) -> list[Row]:
    """Write every image series of a study that is a volume (and its label map, when regions
    were drawn on it); returns manifest rows, one per file written or series left out."""
    placed: dict[str, list[PlacedRegion]] = defaultdict(list)
    found = for_each_region(rows, options.regions, lambda r: placed[r.series_uid].append(r))
    now = dt.datetime.now(dt.UTC)
    root = Path(options.destination)
    manifest: list[Row] = []
    for quarantined in found.quarantined:
        manifest.append(_skipped({}, "labels", quarantined["reason"], quarantined["detail"]))
    for uid, series in sorted(found.series.items()):
        first = series.rows[0]
        identity = {name: first.get(name) for name in SERIES_COLUMNS}
        if plane_count(series.rows) < 2:
            manifest.append(_skipped(identity, "image", "single_image", "one plane: no volume"))
            continue
        try:
            volume, grid = load_volume(series, options.regions)
        except RegionRejected as exc:
            manifest.append(_skipped(identity, "image", exc.reason, exc.detail))
            continue
        affine = ras_affine(grid)
        places = _places(first, options.layout, bool(placed.get(uid)))
        geometry = {
            "shape": [int(n) for n in volume.values.shape[::-1]],
            "spacing_mm": [float(s) for s in grid.spacing[::-1]],
        }
        manifest.append(
            {**identity, **geometry, "kind": "image", "status": "exported",
             **_write(root, places["image"], image_bytes(volume.values, affine))}
        )  # fmt: skip
        if placed.get(uid):
            labels, described = label_map(volume.values.shape, placed[uid])
            values = range(1, len(described["regions"]) + 1)
            counts = [int(np.count_nonzero(labels == v)) for v in values]
            manifest.append(
                {**identity, **geometry, "kind": "labels", "status": "exported",
                 "labels": [r["name"] for r in described["regions"]], "label_voxels": counts,
                 **_write(root, places["labels"], image_bytes(labels, affine))}
            )  # fmt: skip
            sidecar = json.dumps(described, indent=2, sort_keys=True).encode()
            manifest.append(
                {**identity, "kind": "sidecar", "status": "exported",
                 **_write(root, places["sidecar"], sidecar)}
            )  # fmt: skip
    for row in manifest:
        row.update(run_id=options.regions.run_id, exported_at=now)
    return manifest
