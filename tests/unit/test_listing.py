"""The listing on its own: every entry once, with its size, time and, for odd entries, why."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from medspark import sources
from medspark.sources.filesystems import ArrowFilesystemSource
from medspark.sources.local import LocalSource, LocalWalk


def tree(root: Path) -> dict[str, bytes]:
    """Files at several depths, some with names Spark's file index would drop."""
    files = {
        "top.dcm": b"a" * 10,
        "_SUCCESS": b"",
        "a/.hidden": b"bb",
        "a/b/one": b"c" * 3,
        "a/b/c/two": b"d" * 4,
        "e/f!g/%h": b"e" * 5,
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    return files


def every_entry(root: sources.Source, min_directories: int = 1, max_depth: int = 3):
    top, folders = root.list_top(min_directories, max_depth)
    entries = list(top)
    for folder in folders:
        entries += sources.walk(folder, root.key())
    return top, folders, entries


@pytest.mark.parametrize("remote", [False, True], ids=["local walker", "pyarrow filesystem"])
def test_every_file_once_with_its_size_time_and_escaped_key(tmp_path, monkeypatch, remote):
    files = tree(tmp_path)
    uri = str(tmp_path)
    if remote:  # the kind for hdfs://, s3://, ...: pyarrow's own filesystem, here file://
        monkeypatch.setattr(sources, "KINDS", (ArrowFilesystemSource,))
        uri = f"file://{tmp_path}"
    root = sources.locate(uri)
    assert type(root) is (ArrowFilesystemSource if remote else LocalSource)
    assert root.key() == (uri if remote else str(tmp_path))
    _, _, entries = every_entry(root)
    prefix = "file://" if remote else ""
    expected = {
        prefix + str(tmp_path / name).replace("%", "%25").replace("!", "%21"): len(data)
        for name, data in files.items()
    }
    assert {e.path: e.length for e in entries} == expected
    assert {e.modification_time_ms for e in entries} == {1_700_000_000_123}
    assert all(e.problem is None and e.detail is None for e in entries)
    assert root.exists() and not sources.locate(uri + "/nope").exists()


def test_list_top_goes_down_until_there_are_enough_folders_to_share(tmp_path):
    tree(tmp_path)
    root = sources.locate(str(tmp_path))
    top, folders, _ = every_entry(root, min_directories=2, max_depth=3)
    assert sorted(Path(e.path).name for e in top) == ["_SUCCESS", "top.dcm"]
    assert sorted(Path(f).name for f in folders) == ["a", "e"]
    top, folders, _ = every_entry(root, min_directories=3, max_depth=3)
    names = ["%25h", ".hidden", "_SUCCESS", "one", "top.dcm"]  # keys: % escaped
    assert sorted(Path(e.path).name for e in top) == names
    assert sorted(Path(f).name for f in folders) == ["c"]
    top, folders, _ = every_entry(root, min_directories=3, max_depth=1)
    assert sorted(Path(f).name for f in folders) == ["a", "e"]
    top, folders, _ = every_entry(root, min_directories=99, max_depth=9)
    assert folders == [] and len(top) == 6


def test_a_single_file_root_is_listed_alone(tmp_path):
    path = tmp_path / "one!file"
    path.write_bytes(b"x" * 7)
    top, folders = sources.locate(str(path)).list_top(4, max_depth=3)
    assert folders == []
    assert [(e.path, e.length) for e in top] == [(str(tmp_path / "one%21file"), 7)]


def special(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "fifo")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "socket"))
    listener.close()
    os.mknod(folder / "device", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    (folder / "plain").write_bytes(b"p" * 9)
    (folder / "to-plain").symlink_to(folder / "plain")
    (folder / "to-fifo").symlink_to(folder / "fifo")
    (folder / "to-nothing").symlink_to(folder / "missing")
    (folder / "sub").mkdir()
    (folder / "to-sub").symlink_to(folder / "sub")
    (tmp_path / "outside").write_bytes(b"o")
    (folder / "to-outside").symlink_to(tmp_path / "outside")
    return folder


def test_each_odd_entry_says_what_it_is(tmp_path):
    folder = special(tmp_path)
    _, _, entries = every_entry(sources.locate(str(folder)))
    found = {Path(e.path).name: (e.problem, e.detail, e.length) for e in entries}
    assert found == {
        "fifo": ("not_a_regular_file", "a named pipe (FIFO): not read.", 0),
        "socket": ("not_a_regular_file", "a socket: not read.", 0),
        "device": ("not_a_regular_file", "a device node: not read.", 0),
        "plain": (None, None, 9),
        "to-plain": (None, None, 9),
        "to-fifo": ("not_a_regular_file", "a link to a named pipe (FIFO): not read.", 0),
        "to-nothing": (
            "not_a_regular_file", "a broken link (its target does not exist).", 0,
        ),
        "to-sub": (
            "symlink_not_followed",
            "a link to a folder: folders reached through links are not walked.",
            0,
        ),
        "to-outside": ("symlink_not_followed", "a link to a file outside INPUT: not read.", 0),
    }  # fmt: skip
    by_name = {Path(e.path).name: e for e in entries}
    link_time = os.lstat(folder / "to-nothing").st_mtime_ns // 1_000_000
    assert by_name["to-nothing"].modification_time_ms == link_time
    target_time = os.stat(folder / "plain").st_mtime_ns // 1_000_000
    assert by_name["to-plain"].modification_time_ms == target_time


def test_a_folder_reached_twice_is_walked_once(tmp_path):
    walker = LocalWalk(str(tmp_path))
    st = os.stat(tmp_path)
    assert walker.enter(str(tmp_path), st) is None
    again = walker.enter(str(tmp_path / "bind"), st)
    assert (again.problem, Path(again.path).name) == ("symlink_not_followed", "bind")
    assert (
        again.detail == "a folder reached a second time (a bind mount or loop): not walked again."
    )


def test_a_walk_never_re_enters_the_folders_above_it(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_bytes(b"f")
    walker = LocalWalk.below(str(tmp_path / "a" / "b"), str(tmp_path))
    ids = {(os.stat(p).st_dev, os.stat(p).st_ino) for p in (tmp_path, tmp_path / "a")}
    assert ids <= walker.visited
    assert [Path(e.path).name for e in sources.walk(str(tmp_path / "a" / "b"), str(tmp_path))] == [
        "f"
    ]


def test_an_entry_that_cannot_be_examined_is_one_unreadable_row(tmp_path, monkeypatch):
    (tmp_path / "ok").write_bytes(b"1")
    (tmp_path / "bad").write_bytes(b"2")
    real = os.DirEntry.stat if hasattr(os.DirEntry, "stat") else None
    assert real is not None
    walker = LocalWalk(str(tmp_path))

    class Entry:
        def __init__(self, entry):
            self.name, self.path, self._entry = entry.name, entry.path, entry

        def stat(self, follow_symlinks=True):
            if self.name == "bad":
                raise PermissionError(13, "denied")
            return self._entry.stat(follow_symlinks=follow_symlinks)

    real_scandir = os.scandir

    class Scan:
        def __init__(self, path):
            self._inner = real_scandir(path)

        def __enter__(self):
            return [Entry(e) for e in self._inner]

        def __exit__(self, *exc):
            self._inner.close()

    monkeypatch.setattr(os, "scandir", Scan)
    found, folders = walker.entries(str(tmp_path))
    assert folders == []
    assert [(Path(e.path).name, e.problem, e.detail) for e in found] == [
        ("bad", "unreadable", "cannot stat (PermissionError)."),
        ("ok", None, None),
    ]
