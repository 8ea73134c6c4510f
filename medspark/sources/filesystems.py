"""Any filesystem pyarrow reaches: HDFS, S3, GCS, Azure (`hdfs://`, `s3://`, `gs://`, `abfs://`).
Only plain files are listed: object stores have no links or special files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ArrowFilesystemSource:
    """A URI of a scheme pyarrow has a filesystem for (the kind of last resort)."""

    uri: str

    @classmethod
    def located(cls, uri: str) -> ArrowFilesystemSource:
        return cls(uri)

    def check(self, name: str) -> None:
        check_reachable(self.uri, name)

    def exists(self) -> bool:
        filesystem, inner, _ = _filesystem(self.uri)
        return filesystem.get_file_info(inner).type != fs.FileType.NotFound

    def key(self) -> str:
        _, inner, prefix = _filesystem(self.uri)
        return escape(prefix + inner)

    def public(self) -> str:
        return self.uri

    def normalised(self) -> str:
        return self.uri.rstrip("/")

    def list_top(self, min_directories: int, max_depth: int) -> tuple[list[ListedFile], list[str]]:
        filesystem, inner, prefix = _filesystem(self.uri)
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

    def walk(self, root: str | None) -> Iterator[ListedFile]:
        filesystem, inner, prefix = _filesystem(self.uri)
        selector = fs.FileSelector(inner, recursive=True, allow_not_found=True)
        for entry in filesystem.get_file_info(selector):
            if entry.type == fs.FileType.File:
                yield _as_listed(entry, prefix)

    def open(self) -> BinaryIO:
        filesystem, inner = fs.FileSystem.from_uri(self.uri)
        return filesystem.open_input_file(inner)

    @classmethod
    def reading_ahead(cls) -> AbstractContextManager[Ahead]:
        return contextlib.nullcontext(iter)
