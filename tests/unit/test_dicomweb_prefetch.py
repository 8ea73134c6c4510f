"""The prefetcher fetches a bounded window ahead, hands each body to `open_input` once, and passes
a retrieval's error on to the row that needed it."""

from __future__ import annotations

import threading

import pytest

from medspark.dicomweb import prefetch
from medspark.dicomweb.client import RemoteReadError
from medspark.sources import open_input

BASE = "dicomweb+http://pacs.invalid/dicom-web/studies/1/series/2/instances/"


class CountingClient:
    """Stands in for the HTTP client: records which URLs were retrieved, how many at once."""

    def __init__(self, failing: set[str] = frozenset()) -> None:
        self.calls: list[str] = []
        self.failing = failing
        self.lock = threading.Lock()

    def retrieve_instance(self, url: str) -> bytes:
        with self.lock:
            self.calls.append(url)
        if url.rsplit("/", 1)[-1] in self.failing:
            raise RemoteReadError("the server answered 500")
        return url.encode()


@pytest.fixture
def counting(monkeypatch):
    def install(failing=frozenset()):
        fake = CountingClient(set(failing))
        monkeypatch.setattr(prefetch, "client", lambda: fake)
        monkeypatch.setenv("MEDSPARK_DICOMWEB_CONNECTIONS", "2")
        return fake

    return install


def test_rows_come_in_order_with_at_most_a_window_fetched_ahead(counting):
    fake = counting()
    rows = [{"path": f"{BASE}{n}"} for n in range(10)] + [{"path": "/local/file"}]
    seen = []
    with prefetch.prefetching() as prefetcher:
        for row in prefetcher.ahead(rows):
            seen.append(row["path"])
            assert len(prefetcher.pending) <= prefetcher.window == 4
            if row["path"].startswith("dicomweb"):
                with open_input(row["path"]) as handle:
                    assert handle.read() == row["path"].removeprefix("dicomweb+").encode()
    assert seen == [row["path"] for row in rows]
    assert sorted(fake.calls) == sorted(
        f"http://pacs.invalid/dicom-web/studies/1/series/2/instances/{n}" for n in range(10)
    )


def test_a_failed_retrieval_reaches_the_row_that_needs_it(counting):
    counting(failing={"3"})
    rows = [{"path": f"{BASE}{n}"} for n in range(5)]
    with prefetch.prefetching() as prefetcher:
        for row in prefetcher.ahead(rows):
            if row["path"].endswith("/3"):
                with pytest.raises(RemoteReadError, match="500"):
                    open_input(row["path"])
            else:
                open_input(row["path"]).close()


def test_nothing_is_held_after_the_task(counting):
    counting()
    rows = [{"path": f"{BASE}{n}"} for n in range(3)]
    with prefetch.prefetching() as prefetcher:
        for _ in prefetcher.ahead(rows):
            pass  # no row read its instance
        assert prefetcher.pending
    assert not prefetcher.pending and prefetch.prefetched(f"{BASE}0") is None
