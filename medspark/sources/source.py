"""The interface every input source has, and the lookup of a location's source.

Keys are a location's escaped form (`medspark.dicom.input_keys`): `root_key` makes one, and
`list_top` and `walk` take and give keys, so names that are not UTF-8 travel through Spark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, BinaryIO, Protocol

from medspark.sources.entries import ListedFile

Ahead = Callable[[list[dict[str, Any]]], Iterator[dict[str, Any]]]


class Source(Protocol):
    """A kind of input location: local folders, pyarrow's filesystems, DICOMweb services."""

    def handles(self, uri: str) -> bool:
        """Whether `uri` is a location of this kind."""
        ...

    def check(self, uri: str, name: str) -> None:
        """Before a run starts: raise a one-line error when the location is malformed,
        unreachable or missing (for the kinds that can tell that cheaply)."""
        ...

    def exists(self, uri: str) -> bool:
        """Whether the input root is there."""
        ...

    def root_key(self, uri: str) -> str:
        """The root as a key, in the form the entries' keys are reported in."""
        ...

    def list_top(
        self, uri: str, min_directories: int, max_depth: int
    ) -> tuple[list[ListedFile], list[str]]:
        """Entries near the root, and the keys of the subtrees to hand to workers: level by
        level until there are `min_directories` of them or `max_depth` levels were listed."""
        ...

    def walk(self, directory: str, root: str | None) -> Iterator[ListedFile]:
        """Every entry below one subtree, at any depth (`root`: the input root it lies in)."""
        ...

    def open(self, uri: str) -> BinaryIO:
        """The bytes of one file or instance, for reading."""
        ...

    def reading_ahead(self) -> AbstractContextManager[Ahead]:
        """For one task: a function that yields the rows it is given in order, while it may
        fetch the bytes of the next ones (`open` then takes them)."""
        ...
