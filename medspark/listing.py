"""List an input tree completely: every entry is either a file to read or a recorded problem.

Spark's own file index drops zero-byte files and names starting with "_" or "."; a PACS export
must account for those too. The driver lists only the top of the tree; workers walk subtrees.

On local filesystems the policy for what is not a plain file is:
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

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from pyarrow import fs

from medspark.dicom.input_keys import escape, unescape
from medspark.dicomweb import catalog as dicomweb_catalog
from medspark.dicomweb import locations as dicomweb
from medspark.dicomweb.client import check_service
from medspark.storage import local_path

NOT_A_REGULAR_FILE = "not_a_regular_file"
SYMLINK_NOT_FOLLOWED = "symlink_not_followed"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class ListedFile:
    """One entry found under the input root: a file, or an entry recorded with a problem."""

    path: str
    length: int
    modification_time_ms: int | None
    problem: str | None = None
    detail: str | None = None


def _filesystem(uri: str) -> tuple[fs.FileSystem, str, str]:
    """(filesystem, path inside it, prefix that turns an inner path back into the public form)."""
    filesystem, inner = fs.FileSystem.from_uri(uri)
    stripped, tail = uri.rstrip("/"), inner.rstrip("/")
    if not stripped.endswith(tail):
        raise ValueError(f"cannot map {uri!r} onto its filesystem path {inner!r}")
    return filesystem, inner, stripped[: len(stripped) - len(tail)]


def root_path(uri: str) -> str:
    """The input root in the form keys are reported in (absolute for local paths)."""
    path = local_path(uri)
    if path is not None:
        return escape(os.path.abspath(path))
    if dicomweb.is_dicomweb(uri):
        return escape(uri)
    _, inner, prefix = _filesystem(uri)
    return escape(prefix + inner)


def exists(uri: str) -> bool:
    """Whether the input root is there; a DICOMweb service that cannot be searched is an error
    of its own (unreachable, or refusing the credentials)."""
    path = local_path(uri)
    if path is not None:
        return os.path.exists(path)
    if dicomweb.is_dicomweb(uri):
        check_service(uri)
        return True
    filesystem, inner, _ = _filesystem(uri)
    return filesystem.get_file_info(inner).type != fs.FileType.NotFound


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


class _LocalWalk:
    """Walks one local subtree under the policy in the module docstring."""

    def __init__(self, root_real: str) -> None:
        self.root_real = root_real
        self.visited: set[tuple[int, int]] = set()

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


def _ancestors(directory: str, root_real: str) -> Iterator[str]:
    current = directory
    while True:
        yield current
        if os.path.realpath(current) == root_real or os.path.dirname(current) == current:
            return
        current = os.path.dirname(current)


def _local_walker(directory: str, root: str) -> _LocalWalk:
    walker = _LocalWalk(os.path.realpath(root))
    for folder in _ancestors(directory, walker.root_real):
        try:
            st = os.stat(folder)
        except OSError:
            continue
        walker.visited.add((st.st_dev, st.st_ino))
    return walker


def _local_list_top(
    root: str, min_directories: int, max_depth: int
) -> tuple[list[ListedFile], list[str]]:
    root = os.path.abspath(root)
    root_stat = os.stat(root)
    walker = _local_walker(root, root)
    if not stat.S_ISDIR(root_stat.st_mode):
        return [ListedFile(escape(root), root_stat.st_size, _mtime_ms(root_stat))], []
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


def _local_walk(directory: str, root: str) -> Iterator[ListedFile]:
    walker = _local_walker(directory, root)
    stack = [directory]
    while stack:
        found, folders = walker.entries(stack.pop())
        yield from found
        stack.extend(reversed(folders))


def _from_dicomweb(found: dicomweb_catalog.Found) -> ListedFile:
    return ListedFile(escape(found.key), 0, found.version_ms, found.problem, found.detail)


def _as_listed(info: fs.FileInfo, prefix: str) -> ListedFile:
    mtime = info.mtime_ns // 1_000_000 if info.mtime_ns is not None else None
    return ListedFile(escape(prefix + info.path), int(info.size or 0), mtime)


def list_top(
    root_key: str, min_directories: int, max_depth: int = 3
) -> tuple[list[ListedFile], list[str]]:
    """Entries near the root (given as a key, see `root_path`), and the subfolders (as keys) to
    hand to workers to walk.

    Goes down level by level until there are at least `min_directories` subtrees to share
    out, or `max_depth` levels were listed.
    """
    uri = unescape(root_key)
    path = local_path(uri)
    if path is not None:
        return _local_list_top(path, min_directories, max_depth)
    if dicomweb.is_dicomweb(uri):
        named, series = dicomweb_catalog.top(dicomweb.parse(uri))
        return [_from_dicomweb(found) for found in named], [escape(key) for key in series]
    filesystem, inner, prefix = _filesystem(uri)
    info = filesystem.get_file_info(inner)
    if info.type == fs.FileType.File:
        return [_as_listed(info, prefix)], []
    files: list[ListedFile] = []
    frontier = [inner]
    for _ in range(max_depth):
        next_level: list[str] = []
        for directory in frontier:
            for entry in filesystem.get_file_info(fs.FileSelector(directory)):
                if entry.type == fs.FileType.Directory:
                    next_level.append(entry.path)
                elif entry.type == fs.FileType.File:
                    files.append(_as_listed(entry, prefix))
        frontier = next_level
        if len(frontier) >= min_directories or not frontier:
            break
    return files, [escape(prefix + directory) for directory in frontier]


def walk(directory_key: str, root_key: str | None = None) -> Iterator[ListedFile]:
    """Every entry below a folder (given as a key), at any depth."""
    directory = unescape(directory_key)
    path = local_path(directory)
    if path is not None:
        root = local_path(unescape(root_key)) if root_key else None
        yield from _local_walk(path, root or path)
        return
    if dicomweb.is_dicomweb(directory):
        yield from map(_from_dicomweb, dicomweb_catalog.instances_in(directory))
        return
    filesystem, inner, prefix = _filesystem(directory)
    selector = fs.FileSelector(inner, recursive=True, allow_not_found=True)
    for entry in filesystem.get_file_info(selector):
        if entry.type == fs.FileType.File:
            yield _as_listed(entry, prefix)
