"""List an input tree completely: every file, including empty and dot- or underscore-named ones.

Spark's own file index drops zero-byte files and names starting with "_" or "."; a PACS export
must account for those too. The driver lists only the top of the tree; workers walk subtrees.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from pyarrow import fs

from medspark.storage import local_path


@dataclass(frozen=True)
class ListedFile:
    """One file found under the input root."""

    path: str
    length: int
    modification_time_ms: int | None


def _filesystem(uri: str) -> tuple[fs.FileSystem, str, str]:
    """(filesystem, path inside it, prefix that turns an inner path back into the public form)."""
    path = local_path(uri)
    if path is not None:
        return fs.LocalFileSystem(), os.path.abspath(path), ""
    filesystem, inner = fs.FileSystem.from_uri(uri)
    stripped, tail = uri.rstrip("/"), inner.rstrip("/")
    if not stripped.endswith(tail):
        raise ValueError(f"cannot map {uri!r} onto its filesystem path {inner!r}")
    return filesystem, inner, stripped[: len(stripped) - len(tail)]


def root_path(uri: str) -> str:
    """The input root in the form file paths are reported in (absolute for local paths)."""
    _, inner, prefix = _filesystem(uri)
    return prefix + inner


def exists(uri: str) -> bool:
    filesystem, inner, _ = _filesystem(uri)
    return filesystem.get_file_info(inner).type != fs.FileType.NotFound


def _as_listed(info: fs.FileInfo, prefix: str) -> ListedFile:
    mtime = info.mtime_ns // 1_000_000 if info.mtime_ns is not None else None
    return ListedFile(prefix + info.path, int(info.size or 0), mtime)


def list_top(
    uri: str, min_directories: int, max_depth: int = 3
) -> tuple[list[ListedFile], list[str]]:
    """Files near the root, and the subdirectories to hand to workers to walk.

    Goes down level by level until there are at least `min_directories` subtrees to share
    out, or `max_depth` levels were listed.
    """
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
    return files, [prefix + directory for directory in frontier]


def walk(directory_uri: str) -> Iterator[ListedFile]:
    """Every file below a directory, at any depth."""
    filesystem, inner, prefix = _filesystem(directory_uri)
    selector = fs.FileSelector(inner, recursive=True, allow_not_found=True)
    for entry in filesystem.get_file_info(selector):
        if entry.type == fs.FileType.File:
            yield _as_listed(entry, prefix)
