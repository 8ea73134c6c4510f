"""One input file to table records: a metadata row per instance, or a quarantine row with a reason.

This is the whole per-file ingest, with no Spark in it: the Spark layer maps it over partitions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from medspark.dicom import input_keys
from medspark.dicom.burned_in import may_carry_burned_in
from medspark.dicom.deid import DeidPolicy, deidentify
from medspark.dicom.header import bound_values, header_json, header_row
from medspark.dicom.keys import seal
from medspark.dicom.read import read_header, reject_if_not_instance
from medspark.dicom.reasons import Reason, Rejection, Stage
from medspark.dicom.sniff import HEAD_BYTES, ContentKind, describe_non_dicom, sniff
from medspark.dicom.sources import (
    HASHED_PREFIX,
    ArchiveLimits,
    Source,
    archive_members,
    hash_stream,
)
from medspark.sources import open_input

Record = dict[str, Any]


@dataclass(frozen=True)
class InspectOptions:
    """Everything a worker needs to turn files into records; pickled once per task."""

    run_id: str
    in_memory_limit_bytes: int = 64 << 20
    bulk_data_threshold: int = 1024
    archive_member_limit_bytes: int = 4 << 30
    archive_inflated_limit_bytes: int = 16 << 30
    archive_max_depth: int = 2
    max_value_bytes: int = 65536
    deid: DeidPolicy | None = None
    hash_paths: bool = False

    @property
    def archive_limits(self) -> ArchiveLimits:
        return ArchiveLimits(
            self.archive_member_limit_bytes,
            self.archive_max_depth,
            self.in_memory_limit_bytes,
            self.archive_inflated_limit_bytes,
        )


def inspect_file(
    key: str,
    size: int,
    options: InspectOptions,
    problem: str | None = None,
    detail: str | None = None,
) -> Iterator[Record]:
    """Records for one listed entry: one, or one per member when it is an archive.

    An entry the listing recorded with a `problem` (a FIFO, a link not followed, a folder that
    cannot be read) becomes its quarantine row without being opened.
    """
    for record, _ in inspect_file_bytes(key, size, options, problem, detail):
        yield record


def inspect_file_bytes(
    key: str,
    size: int,
    options: InspectOptions,
    problem: str | None = None,
    detail: str | None = None,
) -> Iterator[tuple[Record, bytes | None]]:
    """`inspect_file`'s records, each with the instance's bytes when they were read into memory
    (files up to `in_memory_limit_bytes`), so later stages need not read them again."""
    now = dt.datetime.now(dt.UTC)
    if problem:
        rejection = Rejection(Stage.CATALOG, Reason(problem), detail or problem)
        records: Iterator[tuple[Record, bytes | None]] = iter(
            [(_quarantine(key, None, None, rejection), None)]
        )
    else:
        location = input_keys.unescape(key)
        records = _inspect_source(Source(key, size, lambda: open_input(location)), options)
    for record, data in records:
        record["run_id"] = options.run_id
        record["processed_at"] = now
        if options.hash_paths and options.deid is not None:
            secret = options.deid.key
            if record["outcome"] == "metadata":
                record["path_token"] = seal(secret, record["path"])
            record["path"] = HASHED_PREFIX + secret.identifier(record["path"], "path")
        yield record, data


def _quarantine(path: str, size: int | None, sha256: str | None, rejection: Rejection) -> Record:
    return {
        "path": path,
        "file_size": size,
        "sha256": sha256,
        "outcome": "quarantine",
        "stage": str(rejection.stage),
        "reason": str(rejection.reason),
        "detail": rejection.detail,
    }


def _quarantine_pair(
    path: str, size: int | None, sha256: str | None, rejection: Rejection
) -> tuple[Record, None]:
    return _quarantine(path, size, sha256, rejection), None


def _inspect_source(
    source: Source, options: InspectOptions
) -> Iterator[tuple[Record, bytes | None]]:
    try:
        handle = source.open()
    except OSError as exc:
        detail = getattr(exc, "detail", None) or f"cannot open the file ({type(exc).__name__})"
        yield _quarantine_pair(
            source.path,
            source.size,
            None,
            Rejection(Stage.CATALOG, Reason.UNREADABLE, f"{detail.rstrip('.')}."),
        )
        return
    with handle:
        try:
            head = handle.read(HEAD_BYTES)
            kind = sniff(head)
            if kind in (ContentKind.ZIP, ContentKind.GZIP):
                yield from _expand_archive(source, kind, options)
                return
            if source.size <= options.in_memory_limit_bytes:
                data = head + handle.read()
                sha256, size = hashlib.sha256(data).hexdigest(), len(data)
                stream: Any = io.BytesIO(data)
            else:
                data = None
                handle.seek(0)
                sha256, size = hash_stream(handle)
                handle.seek(0)
                stream = handle
        except OSError as exc:
            yield _quarantine_pair(
                source.path,
                source.size,
                None,
                Rejection(Stage.CATALOG, Reason.UNREADABLE, f"read failed ({type(exc).__name__})."),
            )
            return
        if kind == ContentKind.EMPTY:
            yield _quarantine_pair(
                source.path,
                0,
                sha256,
                Rejection(Stage.CATALOG, Reason.EMPTY_FILE, "the file is empty."),
            )
            return
        if kind == ContentKind.OTHER:
            yield _quarantine_pair(
                source.path,
                size,
                sha256,
                Rejection(Stage.CATALOG, Reason.NOT_DICOM, describe_non_dicom(head)),
            )
            return
        # pydicom's warnings can quote element values (names, IDs): count them, never print them.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                record = _instance_record(source.path, size, sha256, stream, kind, options)
            except Rejection as rejection:
                record = _quarantine(source.path, size, sha256, rejection)
        if record["outcome"] == "metadata":
            record["header_warnings"] = len(caught)
            yield record, data
        else:
            yield record, None


def _instance_record(
    path: str, size: int, sha256: str, stream: Any, kind: ContentKind, options: InspectOptions
) -> Record:
    parsed = read_header(stream, size, kind)
    dataset = parsed.dataset
    reject_if_not_instance(dataset)
    report = deidentify(dataset, options.deid) if options.deid is not None else None
    oversized = bound_values(dataset, options.max_value_bytes)
    pixels = parsed.pixel_data
    header = header_row(dataset)
    record: Record = {
        "path": path,
        "file_size": size,
        "sha256": sha256,
        **header,
        "transfer_syntax_uid": parsed.transfer_syntax_uid,
        "transfer_syntax_inferred": parsed.transfer_syntax_inferred,
        "has_pixel_data": pixels is not None,
        "pixel_data_offset": pixels.value_offset if pixels else None,
        "pixel_data_length": pixels.length if pixels else None,
        "pixel_data_encapsulated": pixels.encapsulated if pixels else None,
        "burned_in_risk": pixels is not None
        and may_carry_burned_in(header["sop_class_uid"], header["burned_in_annotation"]),
        "private_tags_removed": report.private_removed if report else 0,
        "had_overlays": report.had_overlays if report else None,
        "had_curves": report.had_curves if report else None,
        "oversized_values": len(oversized),
        "header_json": header_json(dataset, options.bulk_data_threshold, oversized),
        "outcome": "metadata",
    }
    return record


def _expand_archive(
    source: Source, kind: ContentKind, options: InspectOptions
) -> Iterator[tuple[Record, bytes | None]]:
    try:
        for member in archive_members(source, kind, options.archive_limits):
            if isinstance(member, Source):
                yield from _inspect_source(member, options)
            else:
                path, size, rejection = member
                yield _quarantine_pair(path, size, None, rejection)
    except Rejection as rejection:
        yield _quarantine_pair(source.path, source.size, None, rejection)
