"""A DICOMweb service (`dicomweb+http(s)://host/root[/studies/…[/series/…[/instances/…]]]`):
series are found on the driver by QIDO-RS, each series' instances by the worker that walks it,
and instances read by WADO-RS, the next ones of a task fetched while it works on the current."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from medspark.dicom.input_keys import escape
from medspark.dicomweb import catalog, locations
from medspark.dicomweb.client import check_service, client
from medspark.dicomweb.prefetch import prefetched, prefetching
from medspark.sources.entries import ListedFile
from medspark.sources.source import Ahead


def _listed(found: catalog.Found) -> ListedFile:
    return ListedFile(escape(found.key), 0, found.version_ms, found.problem, found.detail)


@dataclass(frozen=True)
class DicomwebSource:
    """A `dicomweb+http://` or `dicomweb+https://` location."""

    uri: str

    @classmethod
    def located(cls, uri: str) -> DicomwebSource | None:
        return cls(uri) if locations.is_dicomweb(uri) else None

    def check(self, name: str) -> None:
        locations.parse(self.uri)

    def exists(self) -> bool:
        check_service(self.uri)  # raises when the service cannot be searched
        return True

    def key(self) -> str:
        return escape(self.uri)

    def public(self) -> str:
        return locations.public_location(self.uri)

    def normalised(self) -> str:
        return self.uri.rstrip("/")

    def list_top(self, min_directories: int, max_depth: int) -> tuple[list[ListedFile], list[str]]:
        named, series = catalog.top(locations.parse(self.uri))
        return [_listed(found) for found in named], [escape(key) for key in series]

    def walk(self, root: str | None) -> Iterator[ListedFile]:
        yield from map(_listed, catalog.instances_in(self.uri))

    def open(self) -> BinaryIO:
        body = prefetched(self.uri)
        if body is None:
            body = client().retrieve_instance(locations.parse(self.uri).url)
        return io.BytesIO(body)

    @classmethod
    @contextmanager
    def reading_ahead(cls) -> Iterator[Ahead]:
        with prefetching() as prefetcher:
            yield prefetcher.ahead
