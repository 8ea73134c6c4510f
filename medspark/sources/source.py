"""The interface of an input location, whatever its kind.

A `Source` is one location (a folder, a file, a bucket prefix, a DICOMweb study…) read by the
handler of its kind; `medspark.sources.locate` picks the kind once, from the location's form, and
the run carries the result. Keys are a location's escaped form (`medspark.dicom.input_keys`):
`key` makes one, and `list_top` and `walk` give keys, so names that are not UTF-8 travel through
Spark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, BinaryIO, Protocol

from medspark.sources.entries import ListedFile

Ahead = Callable[[list[dict[str, Any]]], Iterator[dict[str, Any]]]


class Source(Protocol):
    """One input location of a kind (local folders, pyarrow's filesystems, DICOMweb)."""

    @property
    def uri(self) -> str:
        """The location as it was given."""
        ...

    def check(self, name: str) -> None:
        """Before a run starts: raise a one-line error when the location is malformed,
        unreachable or missing (for the kinds that can tell that cheaply)."""
        ...

    def exists(self) -> bool:
        """Whether the location is there."""
        ...

    def key(self) -> str:
        """The location as a key, in the form its entries' keys are reported in."""
        ...

    def public(self) -> str:
        """The location as logs and run summaries may show it."""
        ...

    def normalised(self) -> str:
        """The location's canonical form, to tell whether two locations overlap (a real path
        when local)."""
        ...

    def list_top(self, min_directories: int, max_depth: int) -> tuple[list[ListedFile], list[str]]:
        """Entries near the location, and the keys of the subtrees to hand to workers: level
        by level until there are `min_directories` of them or `max_depth` levels were listed."""
        ...

    def walk(self, root: str | None) -> Iterator[ListedFile]:
        """Every entry below the location, at any depth (`root`: the input root it lies in)."""
        ...

    def open(self) -> BinaryIO:
        """The bytes of the file or instance at the location, for reading."""
        ...


class SourceKind(Protocol):
    """A handler class (its class methods): finds its locations and reads their files ahead."""

    def located(self, uri: str) -> Source | None:
        """The location as a source of this kind, or None when it is of another kind."""
        ...

    def reading_ahead(self) -> AbstractContextManager[Ahead]:
        """For one task: a function that yields the rows it is given in order, while it may
        fetch the bytes of the next ones (`open` then takes them)."""
        ...
