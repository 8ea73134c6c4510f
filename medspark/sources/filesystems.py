"""Any filesystem pyarrow reaches: HDFS, S3, GCS, Azure (`hdfs://`, `s3://`, `gs://`, `abfs://`).
Only plain files are listed: object stores have no links or special files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO

from pyarrow import fs

from medspark.dicom.input_keys import escape
from medspark.sources.entries import ListedFile
from medspark.sources.source import Ahead
from medspark.storage import check_reachable


def _filesystem(uri: str) -> tuple[fs.FileSystem, str, str]:
    """(filesystem, path inside it, prefix that turns an inner path back into the public form)."""
    filesystem, inner = fs.FileSystem.from_uri(uri)
    stripped, tail = uri.rstrip("/"), inner.rstrip("/")
    if not stripped.endswith(tail):
        raise ValueError(f"cannot map {uri!r} onto its filesystem path {inner!r}")
    return filesystem, inner, stripped[: len(stripped) - len(tail)]


def _as_listed(info: fs.FileInfo, prefix: str) -> ListedFile:
    mtime = info.mtime_ns // 1_000_000 if info.mtime_ns is not None else None
    return ListedFile(escape(prefix + info.path), int(info.size or 0), mtime)


class ArrowFilesystemSource:
    """A URI of a scheme pyarrow has a filesystem for (the source of last resort)."""

    def handles(self, uri: str) -> bool:
        return True

    def check(self, uri: str, name: str) -> None:
        check_reachable(uri, name)

    def exists(self, uri: str) -> bool:
        filesystem, inner, _ = _filesystem(uri)
        return filesystem.get_file_info(inner).type != fs.FileType.NotFound

    def root_key(self, uri: str) -> str:
        _, inner, prefix = _filesystem(uri)
        return escape(prefix + inner)

    def list_top(
        self, uri: str, min_directories: int, max_depth: int
    ) -> tuple[list[ListedFile], list[str]]:
        filesystem, inner, prefix = _filesystem(uri)
        info = filesystem.get_file_info(inner)
        if info.type == fs.FileType.File:
            return [_as_listed(info, prefix)], []
        files: list[ListedFile] = []
        frontier = [inner]
        for _ in range(max_depth):
            next_level: list[str] = []
            for directory in frontier:
                for entry in filesystem.get_file_info(fs.FileSelector(directory)):
                    if entry.type == fs.FileType.Directory:
                        next_level.append(entry.path)
                    elif entry.type == fs.FileType.File:
                        files.append(_as_listed(entry, prefix))
            frontier = next_level
            if len(frontier) >= min_directories or not frontier:
                break
        return files, [escape(prefix + directory) for directory in frontier]

    def walk(self, directory: str, root: str | None) -> Iterator[ListedFile]:
        filesystem, inner, prefix = _filesystem(directory)
        selector = fs.FileSelector(inner, recursive=True, allow_not_found=True)
        for entry in filesystem.get_file_info(selector):
            if entry.type == fs.FileType.File:
                yield _as_listed(entry, prefix)

    def open(self, uri: str) -> BinaryIO:
        filesystem, inner = fs.FileSystem.from_uri(uri)
        return filesystem.open_input_file(inner)

    def reading_ahead(self) -> AbstractContextManager[Ahead]:
        return contextlib.nullcontext(iter)
