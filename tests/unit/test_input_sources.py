"""Input sources as handlers: each location is located once as a source of the kind its form
names, every kind has the whole interface, and the rows of a task are read ahead by the kind
their keys name."""

from __future__ import annotations

import inspect

import pytest

from medspark import sources
from medspark.dicomweb import prefetch
from medspark.sources import Source, SourceKind, locate
from medspark.sources.dicomweb import DicomwebSource
from medspark.sources.filesystems import ArrowFilesystemSource
from medspark.sources.local import LocalSource

INTERFACE = sorted(
    name for name, _ in inspect.getmembers(Source, inspect.isfunction) if not name.startswith("_")
)


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("/data/pacs", LocalSource),
        ("relative/folder", LocalSource),
        ("file:///data/pacs", LocalSource),
        ("dicomweb+http://127.0.0.1:8042/dicom-web", DicomwebSource),
        ("DICOMWEB+HTTPS://pacs.example/wado/studies/1.2.3", DicomwebSource),
        ("s3://bucket/export", ArrowFilesystemSource),
        ("hdfs://namenode:8020/pacs", ArrowFilesystemSource),
        ("gs://bucket/export", ArrowFilesystemSource),
    ],
)
def test_each_location_goes_to_the_handler_of_its_form(uri, kind):
    located = locate(uri)
    assert type(located) is kind and located.uri == uri


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_every_kind_has_the_whole_interface():
    assert INTERFACE == [
        "check", "exists", "key", "list_top", "normalised", "open", "public", "walk"
    ]  # fmt: skip
    for kind in sources.KINDS:
        for name in INTERFACE:
            mine = getattr(kind, name)
            assert callable(mine), (kind.__name__, name)
            assert _parameters(mine) == _parameters(getattr(Source, name)), (kind, name)
        for name in (
            "located",
            "reading_ahead",
        ):  # class methods: the protocol's `self` is the class
            assert _parameters(getattr(kind, name)) == _parameters(getattr(SourceKind, name))[1:]
    assert type(locate("anything://at/all")) is sources.KINDS[-1]


def test_a_missing_local_input_is_one_line_before_the_run(tmp_path):
    with pytest.raises(sources.InputNotFoundError, match="input does not exist"):
        locate(str(tmp_path / "nope")).check("INPUT")
    locate(str(tmp_path)).check("INPUT")
    (tmp_path / "a.dcm").write_bytes(b"bytes")
    with sources.open_input(str(tmp_path / "a.dcm")) as stream:
        assert stream.read() == b"bytes"


def test_a_task_of_local_rows_reads_nothing_ahead(tmp_path):
    rows = [{"path": str(tmp_path / f"{n}.dcm")} for n in range(3)]
    with sources.reading_ahead() as ahead:
        assert list(ahead(rows)) == rows
        assert prefetch._active is not None and not prefetch._active.pending


def test_a_task_of_dicomweb_rows_is_fetched_ahead(monkeypatch):
    fetched: list[str] = []

    class Client:
        def retrieve_instance(self, url: str) -> bytes:
            fetched.append(url)
            return url.encode()

    monkeypatch.setattr(prefetch, "client", lambda: Client())
    monkeypatch.setenv("MEDSPARK_DICOMWEB_CONNECTIONS", "2")  # a window of 4 rows
    base = "dicomweb+http://127.0.0.1:1/dw/studies/1/series/2/instances/"
    rows = [{"path": f"{base}{n}"} for n in range(3)]
    with sources.reading_ahead() as ahead:
        for row in ahead(rows):
            with sources.open_input(row["path"]) as stream:
                assert stream.read().endswith(row["path"].rsplit("/", 1)[1].encode())
    assert len(fetched) == 3
