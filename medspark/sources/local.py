"""Local folders (and anything mounted as one).

The policy for what is not a plain file:
- FIFOs, sockets, device nodes and broken links are listed with `not_a_regular_file` and never
  opened (opening a FIFO would block the run).
- A link to a file inside INPUT is read as a file (its target is listed too, so the second copy
  ends as a duplicate); a link whose target lies outside INPUT is never read.
- Links to folders are not walked (they make loops and escapes); each is listed with
  `symlink_not_followed`. A folder reached twice (a bind mount) is listed the same way.
- A folder that cannot be read is listed once with `unreadable`.
- Names that are not UTF-8 are kept, byte for byte, percent-escaped in the key.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

from medspark.dicom.input_keys import escape
from medspark.sources.entries import (
    NOT_A_REGULAR_FILE,
    SYMLINK_NOT_FOLLOWED,
    UNREADABLE,
    InputNotFoundError,
    ListedFile,
)
from medspark.sources.source import Ahead
from medspark.storage import local_path


def _mtime_ms(st: os.stat_result) -> int:
    return st.st_mtime_ns // 1_000_000


def _problem(path: str, st: os.stat_result | None, problem: str, detail: str) -> ListedFile:
    return ListedFile(escape(path), 0, _mtime_ms(st) if st else None, problem, detail)


def _inside(target: str, root_real: str) -> bool:
    return target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    return "not a regular file"


class LocalWalk:
    """Walks one local subtree under the policy in the module docstring."""

    def __init__(self, root_real: str) -> None:
        self.root_real = root_real
        self.visited: set[tuple[int, int]] = set()

    @classmethod
    def below(cls, directory: str, root: str) -> LocalWalk:
        """A walk of `directory` that knows the folders from `root` down to it as visited."""
        walker = cls(os.path.realpath(root))
        current = directory
        while True:
            with contextlib.suppress(OSError):
                st = os.stat(current)
                walker.visited.add((st.st_dev, st.st_ino))
            if os.path.realpath(current) == walker.root_real or os.path.dirname(current) == current:
                return walker
            current = os.path.dirname(current)

    def classify(self, path: str, entry_stat: os.stat_result) -> ListedFile | str:
        """A ListedFile for a file or a problem; "dir" for a folder to walk."""
        mode = entry_stat.st_mode
        if stat.S_ISDIR(mode):
            return "dir"
        if stat.S_ISREG(mode):
            return ListedFile(escape(path), entry_stat.st_size, _mtime_ms(entry_stat))
        if not stat.S_ISLNK(mode):
            return _problem(
                path, entry_stat, NOT_A_REGULAR_FILE, f"{_special_kind(mode)}: not read."
            )
        try:
            target_stat = os.stat(path)
        except OSError:
            return _problem(
                path, entry_stat, NOT_A_REGULAR_FILE, "a broken link (its target does not exist)."
            )
        if stat.S_ISDIR(target_stat.st_mode):
            return _problem(
                path,
                entry_stat,
                SYMLINK_NOT_FOLLOWED,
                "a link to a folder: folders reached through links are not walked.",
            )
        if not _inside(os.path.realpath(path), self.root_real):
            return _problem(
                path, entry_stat, SYMLINK_NOT_FOLLOWED, "a link to a file outside INPUT: not read."
            )
        if not stat.S_ISREG(target_stat.st_mode):
            return _problem(
                path,
                entry_stat,
                NOT_A_REGULAR_FILE,
                f"a link to {_special_kind(target_stat.st_mode)}: not read.",
            )
        return ListedFile(escape(path), target_stat.st_size, _mtime_ms(target_stat))

    def enter(self, path: str, dir_stat: os.stat_result) -> ListedFile | None:
        """Mark a folder visited; a problem entry when it was reached before."""
        identity = (dir_stat.st_dev, dir_stat.st_ino)
        if identity in self.visited:
            return _problem(
                path,
                dir_stat,
                SYMLINK_NOT_FOLLOWED,
                "a folder reached a second time (a bind mount or loop): not walked again.",
            )
        self.visited.add(identity)
        return None

    def entries(self, directory: str) -> tuple[list[ListedFile], list[str]]:
        """(files and problems, subfolders) directly inside one folder."""
        found: list[ListedFile] = []
        folders: list[str] = []
        try:
            with os.scandir(directory) as scan:
                items = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            found.append(
                _problem(
                    directory,
                    None,
                    UNREADABLE,
                    f"a folder that cannot be listed ({type(exc).__name__}); its contents are "
                    "not accounted.",
                )
            )
            return found, folders
        for item in items:
            try:
                item_stat = item.stat(follow_symlinks=False)
            except OSError as exc:
                found.append(
                    _problem(item.path, None, UNREADABLE, f"cannot stat ({type(exc).__name__}).")
                )
                continue
            kind = self.classify(item.path, item_stat)
            if kind != "dir":
                found.append(kind)  # type: ignore[arg-type]
                continue
            repeated = self.enter(item.path, item_stat)
            if repeated is not None:
                found.append(repeated)
            else:
                folders.append(item.path)
        return found, folders


@dataclass(frozen=True)
class LocalSource:
    """A path or `file:` URI."""

    uri: str
    path: str

    @classmethod
    def located(cls, uri: str) -> LocalSource | None:
        path = local_path(uri)
        return None if path is None else cls(uri, path)

    def check(self, name: str) -> None:
        if not os.path.exists(self.path):
            raise InputNotFoundError(f"{name.lower()} does not exist: {self.uri}")

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def key(self) -> str:
        return escape(os.path.abspath(self.path))

    def public(self) -> str:
        return self.uri

    def normalised(self) -> str:
        return os.path.realpath(self.path)

    def list_top(self, min_directories: int, max_depth: int) -> tuple[list[ListedFile], list[str]]:
        root = os.path.abspath(self.path)
        root_stat = os.stat(root)
        if not stat.S_ISDIR(root_stat.st_mode):
            return [ListedFile(escape(root), root_stat.st_size, _mtime_ms(root_stat))], []
        walker = LocalWalk.below(root, root)
        files: list[ListedFile] = []
        frontier = [root]
        for _ in range(max_depth):
            next_level: list[str] = []
            for directory in frontier:
                found, folders = walker.entries(directory)
                files += found
                next_level += folders
            frontier = next_level
            if len(frontier) >= min_directories or not frontier:
                break
        return files, [escape(directory) for directory in frontier]

    def walk(self, root: str | None) -> Iterator[ListedFile]:
        walker = LocalWalk.below(self.path, (local_path(root) if root else None) or self.path)
        stack = [self.path]
        while stack:
            found, folders = walker.entries(stack.pop())
            yield from found
            stack.extend(reversed(folders))

    def open(self) -> BinaryIO:
        return open(self.path, "rb")

    @classmethod
    def reading_ahead(cls) -> AbstractContextManager[Ahead]:
        return contextlib.nullcontext(iter)
