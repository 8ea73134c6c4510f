"""Input sources: where a run's files come from. Each kind of location is one handler class
with the same interface (`source.Source`: check, exists, key, list the top, walk, open, read
ahead); `locate` picks the kind once, by the location's form, and the run carries the located
input. Adding a kind of input is one module here plus its entry in `KINDS`.

Every entry found is either a file to read or a recorded problem: Spark's own file index drops
zero-byte files and names starting with "_" or "."; a PACS export must account for those too.
The driver lists only the top of the tree (`Source.list_top`); workers walk the subtrees
(`walk`).
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
from medspark.sources.source import Ahead, Source, SourceKind

__all__ = [
    "KINDS",
    "NOT_A_REGULAR_FILE",
    "SYMLINK_NOT_FOLLOWED",
    "UNREADABLE",
    "InputNotFoundError",
    "ListedFile",
    "Source",
    "locate",
    "open_input",
    "reading_ahead",
    "walk",
]

KINDS: tuple[SourceKind, ...] = (DicomwebSource, LocalSource, ArrowFilesystemSource)
"""The handlers in the order they are asked; the last takes any location."""


def locate(uri: str) -> Source:
    """A location (not a key: unescape keys first) as a source of its kind."""
    return next(found for kind in KINDS if (found := kind.located(uri)) is not None)


def walk(directory: str, root: str | None = None) -> Iterator[ListedFile]:
    """Every entry below a subtree (a key), at any depth; `root`: the input root's key."""
    return locate(unescape(directory)).walk(unescape(root) if root else None)


def open_input(uri: str) -> BinaryIO:
    """The bytes of one input file or instance."""
    return locate(uri).open()


@contextmanager
def reading_ahead() -> Iterator[Ahead]:
    """For one task: `ahead(rows)` yields the rows in order while the source of their `path`
    keys (the rows of a task come from one input) fetches the next ones' bytes where it can."""
    with ExitStack() as stack:
        by_kind: dict[Any, Ahead] = {
            kind: stack.enter_context(kind.reading_ahead()) for kind in KINDS
        }

        def ahead(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            first = next((r["path"] for r in rows if isinstance(r.get("path"), str)), None)
            if first is None:
                return iter(rows)
            return by_kind[type(locate(unescape(first)))](rows)

        yield ahead
