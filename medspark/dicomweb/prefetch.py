"""Retrieve a task's next instances while it works on the current one: a few requests in flight
(MEDSPARK_DICOMWEB_CONNECTIONS), a bounded number of bodies held, nothing kept past the task."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from medspark.dicom.input_keys import unescape
from medspark.dicomweb.client import ClientSettings, client
from medspark.dicomweb.locations import is_dicomweb, parse


class Prefetcher:
    """Instances fetched ahead of their turn by `connections` threads, `window` at most."""

    def __init__(self, connections: int) -> None:
        self.connections = max(1, connections)
        self.window = 2 * self.connections
        self.pool: ThreadPoolExecutor | None = None
        self.pending: dict[str, Future[bytes]] = {}

    def _schedule(self, location: str) -> None:
        if location in self.pending or not is_dicomweb(location):
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.connections, thread_name_prefix="wado")
        url = parse(location).url
        self.pending[location] = self.pool.submit(client().retrieve_instance, url)

    def ahead(self, rows: list[dict[str, Any]], column: str = "path") -> Iterator[dict[str, Any]]:
        """The rows in order; the instances of the next `window` rows are being fetched."""
        scheduled = 0
        for position, row in enumerate(rows):
            while scheduled < min(len(rows), position + self.window):
                key = rows[scheduled].get(column)
                if isinstance(key, str) and len(self.pending) < self.window:
                    self._schedule(unescape(key))
                scheduled += 1
            yield row

    def take(self, location: str) -> bytes | None:
        """The fetched body of an instance (raising what its retrieval raised), or None."""
        future = self.pending.pop(location, None)
        return None if future is None else future.result()

    def close(self) -> None:
        for future in self.pending.values():
            future.cancel()
        self.pending.clear()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


_active: Prefetcher | None = None


@contextmanager
def prefetching() -> Iterator[Prefetcher]:
    """A prefetcher for one task of this process; the DICOMweb source's `open` takes what it
    fetched."""
    global _active
    prefetcher = Prefetcher(ClientSettings.from_environment().connections)
    previous, _active = _active, prefetcher
    try:
        yield prefetcher
    finally:
        _active = previous
        prefetcher.close()


def prefetched(location: str) -> bytes | None:
    """The body the active prefetcher fetched for `location`, if it did."""
    return None if _active is None else _active.take(location)
