"""A DICOMweb service (`dicomweb+http(s)://host/root[/studies/…[/series/…[/instances/…]]]`):
series are found on the driver by QIDO-RS, each series' instances by the worker that walks it,
and instances read by WADO-RS, the next ones of a task fetched while it works on the current."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from medspark.dicom.input_keys import escape
from medspark.dicomweb import catalog, locations
from medspark.dicomweb.client import check_service, client
from medspark.dicomweb.prefetch import prefetched, prefetching
from medspark.sources.entries import ListedFile
from medspark.sources.source import Ahead


def _listed(found: catalog.Found) -> ListedFile:
    return ListedFile(escape(found.key), 0, found.version_ms, found.problem, found.detail)


class DicomwebSource:
    """A `dicomweb+http://` or `dicomweb+https://` location."""

    def handles(self, uri: str) -> bool:
        return locations.is_dicomweb(uri)

    def check(self, uri: str, name: str) -> None:
        locations.parse(uri)

    def exists(self, uri: str) -> bool:
        check_service(uri)  # raises when the service cannot be searched
        return True

    def root_key(self, uri: str) -> str:
        return escape(uri)

    def list_top(
        self, uri: str, min_directories: int, max_depth: int
    ) -> tuple[list[ListedFile], list[str]]:
        named, series = catalog.top(locations.parse(uri))
        return [_listed(found) for found in named], [escape(key) for key in series]

    def walk(self, directory: str, root: str | None) -> Iterator[ListedFile]:
        yield from map(_listed, catalog.instances_in(directory))

    def open(self, uri: str) -> BinaryIO:
        body = prefetched(uri)
        if body is None:
            body = client().retrieve_instance(locations.parse(uri).url)
        return io.BytesIO(body)

    @contextmanager
    def reading_ahead(self) -> Iterator[Ahead]:
        with prefetching() as prefetcher:
            yield prefetcher.ahead
