"""Open input files by URI and expand archives, so every member is accounted on its own."""

from __future__ import annotations

import gzip
import hashlib
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from medspark.dicom.reasons import Reason, Rejection, Stage

ARCHIVE_SEPARATOR = "!/"
_CHUNK = 1 << 20


@dataclass
class Source:
    """One accountable input: a plain file, or one member of an archive."""

    path: str
    size: int
    opener: Callable[[], BinaryIO]
    depth: int = 0

    def open(self) -> BinaryIO:
        return self.opener()


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    """SHA-256 and length of a stream read to its end in fixed-size chunks."""
    digest = hashlib.sha256()
    total = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        total += len(chunk)
    return digest.hexdigest(), total


def _spooled_copy(reader: BinaryIO, limit: int, in_memory_limit: int) -> BinaryIO:
    """Copy a non-seekable stream (a zip member, a gzip body) to a seekable buffer, bounded."""
    spool = tempfile.SpooledTemporaryFile(max_size=in_memory_limit)  # noqa: SIM115
    copied = 0
    while chunk := reader.read(_CHUNK):
        copied += len(chunk)
        if copied > limit:
            spool.close()
            raise OverflowError
        spool.write(chunk)
    spool.seek(0)
    return spool


@dataclass
class ArchiveLimits:
    """Guards against zip bombs and endless nesting."""

    member_limit_bytes: int
    max_depth: int
    in_memory_limit_bytes: int


def zip_members(
    source: Source, limits: ArchiveLimits
) -> Iterator[Source | tuple[str, int, Rejection]]:
    """Each file in a zip archive as a Source, or (path, size, Rejection) for one set aside."""
    with source.open() as handle:
        try:
            archive = zipfile.ZipFile(handle)
            infos = [info for info in archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise Rejection(
                Stage.ARCHIVE,
                Reason.ARCHIVE_CORRUPT,
                f"zip archive cannot be opened ({type(exc).__name__}).",
            ) from None
        if not infos:
            raise Rejection(Stage.ARCHIVE, Reason.ARCHIVE_EMPTY, "zip archive holds no files.")
        for info in infos:
            member_path = f"{source.path}{ARCHIVE_SEPARATOR}{info.filename}"
            if info.flag_bits & 0x1:
                yield (
                    member_path,
                    info.file_size,
                    Rejection(Stage.ARCHIVE, Reason.ARCHIVE_ENCRYPTED, "zip member is encrypted."),
                )
                continue
            if info.file_size > limits.member_limit_bytes:
                yield (
                    member_path,
                    info.file_size,
                    Rejection(
                        Stage.ARCHIVE,
                        Reason.ARCHIVE_MEMBER_TOO_LARGE,
                        f"zip member declares {info.file_size} bytes, over the configured limit of "
                        f"{limits.member_limit_bytes}.",
                    ),
                )
                continue
            try:
                with archive.open(info) as reader:
                    spooled = _spooled_copy(
                        reader, limits.member_limit_bytes, limits.in_memory_limit_bytes
                    )
            except OverflowError:
                yield (
                    member_path,
                    info.file_size,
                    Rejection(
                        Stage.ARCHIVE,
                        Reason.ARCHIVE_MEMBER_TOO_LARGE,
                        "zip member inflates past the configured limit.",
                    ),
                )
                continue
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                yield (
                    member_path,
                    info.file_size,
                    Rejection(
                        Stage.ARCHIVE,
                        Reason.ARCHIVE_CORRUPT,
                        f"zip member cannot be extracted ({type(exc).__name__}).",
                    ),
                )
                continue
            yield _buffered_source(member_path, spooled, source.depth + 1)


def gzip_member(source: Source, limits: ArchiveLimits) -> Source:
    """The single file inside a gzip stream, named after the archive without `.gz`."""
    stem = PurePosixPath(source.path.rsplit(ARCHIVE_SEPARATOR, 1)[-1]).name
    if stem.lower().endswith(".gz"):
        stem = stem[:-3]
    member_path = f"{source.path}{ARCHIVE_SEPARATOR}{stem or 'content'}"
    try:
        with source.open() as handle, gzip.GzipFile(fileobj=handle) as reader:
            spooled = _spooled_copy(reader, limits.member_limit_bytes, limits.in_memory_limit_bytes)
    except OverflowError:
        raise Rejection(
            Stage.ARCHIVE,
            Reason.ARCHIVE_MEMBER_TOO_LARGE,
            "gzip content inflates past the configured limit.",
        ) from None
    except (OSError, EOFError, ValueError) as exc:
        raise Rejection(
            Stage.ARCHIVE,
            Reason.ARCHIVE_CORRUPT,
            f"gzip stream cannot be inflated ({type(exc).__name__}).",
        ) from None
    return _buffered_source(member_path, spooled, source.depth + 1)


def _buffered_source(path: str, spooled: BinaryIO, depth: int) -> Source:
    spooled.seek(0, io.SEEK_END)
    size = spooled.tell()

    def opener() -> BinaryIO:
        spooled.seek(0)
        return _Unclosable(spooled)

    return Source(path=path, size=size, opener=opener, depth=depth)


class _Unclosable(io.BufferedIOBase):
    """A view of a shared buffer that ignores close(), so a member can be reopened."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner

    def read(self, size: int | None = -1) -> bytes:
        return self._inner.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


HASHED_PREFIX = "hmac:"


def readable_path(row: dict, key) -> str:
    """The path to re-open for a metadata row: as written, or unsealed when paths are hashed."""
    path = row["path"]
    if not path.startswith(HASHED_PREFIX):
        return path
    token = row.get("path_token")
    if key is None or not token:
        raise KeyError("hashed path: the pseudonym key and the row's path_token are needed")
    from medspark.dicom.keys import unseal

    return unseal(key, token)


def read_bytes(path: str, limits: ArchiveLimits) -> bytes:
    """The bytes of a listed file or of an archive member named `archive!/member[!/...]`."""
    from medspark.storage import open_uri

    outer, *members = path.split(ARCHIVE_SEPARATOR)
    with open_uri(outer) as handle:
        data = handle.read()
    for member in members:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
            continue
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo(member)
            if info.file_size > limits.member_limit_bytes:
                raise OverflowError(f"archive member over {limits.member_limit_bytes} bytes")
            data = archive.read(info)
    return data
