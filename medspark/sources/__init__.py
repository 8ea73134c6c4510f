"""Input sources: where a run's files come from. Each kind of location is one handler with the
same interface (`source.Source`: check, exists, root key, list the top, walk a subtree, open, read
ahead); `source_for` picks the handler by the location's form, and the functions here are what
the rest of medspark calls. Adding a kind of input is one module here plus its entry in
`SOURCES`.

Every entry found is either a file to read or a recorded problem: Spark's own file index drops
zero-byte files and names starting with "_" or "."; a PACS export must account for those too.
The driver lists only the top of the tree (`list_top`); workers walk the subtrees (`walk`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, BinaryIO

from medspark.dicom.input_keys import unescape
from medspark.sources.dicomweb import DicomwebSource
from medspark.sources.entries import (
    NOT_A_REGULAR_FILE,
    SYMLINK_NOT_FOLLOWED,
    UNREADABLE,
    InputNotFoundError,
    ListedFile,
)
from medspark.sources.filesystems import ArrowFilesystemSource
from medspark.sources.local import LocalSource
from medspark.sources.source import Ahead, Source

__all__ = [
    "NOT_A_REGULAR_FILE",
    "SOURCES",
    "SYMLINK_NOT_FOLLOWED",
    "UNREADABLE",
    "InputNotFoundError",
    "ListedFile",
    "Source",
    "check",
    "exists",
    "list_top",
    "open_input",
    "reading_ahead",
    "require",
    "root_key",
    "source_for",
    "walk",
]

SOURCES: tuple[Source, ...] = (DicomwebSource(), LocalSource(), ArrowFilesystemSource())
"""The handlers in the order they are asked; the last takes any location."""


def source_for(uri: str) -> Source:
    """The handler of a location (not a key: unescape keys first)."""
    return next(source for source in SOURCES if source.handles(uri))


def check(uri: str, name: str) -> None:
    """Before a run: fail with one line when INPUT is malformed, unreachable or missing."""
    source_for(uri).check(uri, name)


def exists(uri: str) -> bool:
    """Whether the input root is there (a DICOMweb service that cannot be searched raises)."""
    return source_for(uri).exists(uri)


def require(uri: str) -> None:
    """Fail with a clear message when the input root is missing."""
    if not exists(uri):
        raise InputNotFoundError(f"input does not exist: {uri}")


def root_key(uri: str) -> str:
    """The input root as a key, in the form entries are reported in (absolute when local)."""
    return source_for(uri).root_key(uri)


def list_top(
    root: str, min_directories: int, max_depth: int = 3
) -> tuple[list[ListedFile], list[str]]:
    """Entries near the root (a key), and the keys of the subtrees to hand to workers."""
    uri = unescape(root)
    return source_for(uri).list_top(uri, min_directories, max_depth)


def walk(directory: str, root: str | None = None) -> Iterator[ListedFile]:
    """Every entry below a subtree (a key), at any depth; `root`: the input root's key."""
    path = unescape(directory)
    return source_for(path).walk(path, unescape(root) if root else None)


def open_input(uri: str) -> BinaryIO:
    """The bytes of one input file or instance."""
    return source_for(uri).open(uri)


@contextmanager
def reading_ahead() -> Iterator[Ahead]:
    """For one task: `ahead(rows)` yields the rows in order while the source of their `path`
    keys (the rows of a task come from one input) fetches the next ones' bytes where it can."""
    with ExitStack() as stack:
        by_source = [(source, stack.enter_context(source.reading_ahead())) for source in SOURCES]

        def ahead(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            first = next((r["path"] for r in rows if isinstance(r.get("path"), str)), None)
            if first is None:
                return iter(rows)
            location = unescape(first)
            return next(step for source, step in by_source if source.handles(location))(rows)

        yield ahead
