"""Open inputs by key and expand archives, so every member is accounted on its own.

Members are read as streams: the first bytes decide what a member is, and only members that
may be DICOM (or are archives to open) are inflated further, within a per-archive budget.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, BinaryIO, cast

from medspark.dicom import input_keys
from medspark.dicom.input_keys import ARCHIVE_SEPARATOR, member_key
from medspark.dicom.reasons import Reason, Rejection, Stage
from medspark.dicom.sniff import HEAD_BYTES, ContentKind, describe_non_dicom, sniff

__all__ = ["ARCHIVE_SEPARATOR", "ArchiveLimits", "Source", "archive_members", "read_verified"]

_CHUNK = 1 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib.error)


@dataclass
class InflationBudget:
    """Bytes one top-level archive may still inflate, nested archives included."""

    remaining: int


@dataclass
class Source:
    """One accountable input: a plain file, or one member of an archive."""

    path: str
    size: int
    opener: Callable[[], BinaryIO]
    depth: int = 0
    budget: InflationBudget | None = field(default=None, repr=False)

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


@dataclass
class ArchiveLimits:
    """Guards against zip bombs and endless nesting."""

    member_limit_bytes: int
    max_depth: int
    in_memory_limit_bytes: int
    inflated_limit_bytes: int = 16 << 30

    def new_budget(self) -> InflationBudget:
        return InflationBudget(self.inflated_limit_bytes)


Member = Source | tuple[str, int, Rejection]


def _archive(reason: Reason, detail: str) -> Rejection:
    return Rejection(Stage.ARCHIVE, reason, detail)


def _too_deep(limits: ArchiveLimits) -> Rejection:
    return _archive(
        Reason.ARCHIVE_TOO_DEEP,
        f"archive nested deeper than the configured {limits.max_depth} levels.",
    )


def _read_head(reader: IO[bytes]) -> bytes:
    head = b""
    while len(head) < HEAD_BYTES and (chunk := reader.read(HEAD_BYTES - len(head))):
        head += chunk
    return head


def _spool(head: bytes, reader: IO[bytes], limit: int, in_memory: int) -> BinaryIO:
    """The whole member (head already read) in a seekable buffer; OverflowError past `limit`."""
    spool = tempfile.SpooledTemporaryFile(max_size=in_memory)  # noqa: SIM115
    spool.write(head)
    copied = len(head)
    while chunk := reader.read(min(_CHUNK, limit - copied + 1)):
        copied += len(chunk)
        if copied > limit:
            spool.close()
            raise OverflowError
        spool.write(chunk)
    spool.seek(0)
    return cast(BinaryIO, spool)


def _member(
    parent: Source, path: str, declared: int, reader: IO[bytes], limits: ArchiveLimits
) -> Member:
    """Sniff a member's stream, and inflate it only when it may be DICOM or an archive."""
    budget = parent.budget
    assert budget is not None, "archive_members gives every archive its budget"
    head = _read_head(reader)
    kind = sniff(head)
    if kind == ContentKind.EMPTY:
        return path, 0, Rejection(Stage.CATALOG, Reason.EMPTY_FILE, "the file is empty.")
    if kind == ContentKind.OTHER:
        return path, declared, Rejection(Stage.CATALOG, Reason.NOT_DICOM, describe_non_dicom(head))
    if kind in (ContentKind.ZIP, ContentKind.GZIP) and parent.depth + 1 >= limits.max_depth:
        return path, declared, _too_deep(limits)
    limit = min(limits.member_limit_bytes, budget.remaining)
    try:
        spooled = _spool(head, reader, limit, limits.in_memory_limit_bytes)
    except OverflowError:
        if limit < limits.member_limit_bytes:
            return (
                path,
                declared,
                _archive(
                    Reason.ARCHIVE_INFLATED_OVER_LIMIT,
                    f"the archive inflates past the configured {limits.inflated_limit_bytes} bytes "
                    "in all; the rest of its members are not read.",
                ),
            )
        return (
            path,
            declared,
            _archive(Reason.ARCHIVE_MEMBER_TOO_LARGE, "member inflates past the configured limit."),
        )
    member = _buffered_source(path, spooled, parent.depth + 1, budget)
    budget.remaining -= member.size
    return member


def _is_folder_entry(info: zipfile.ZipInfo) -> bool:
    return info.is_dir() and info.file_size == 0


def _zip_members(source: Source, limits: ArchiveLimits) -> Iterator[Member]:
    with source.open() as handle:
        try:
            archive = zipfile.ZipFile(handle)
            infos = [info for info in archive.infolist() if not _is_folder_entry(info)]
        except _ZIP_ERRORS as exc:
            raise _archive(
                Reason.ARCHIVE_CORRUPT, f"zip archive cannot be opened ({type(exc).__name__})."
            ) from None
        if not infos:
            raise _archive(Reason.ARCHIVE_EMPTY, "zip archive holds no files.")
        seen: Counter[str] = Counter()
        for info in infos:
            seen[info.filename] += 1
            path = member_key(source.path, info.filename, seen[info.filename])
            if info.flag_bits & 0x1:
                yield (
                    path,
                    info.file_size,
                    _archive(Reason.ARCHIVE_ENCRYPTED, "zip member is encrypted."),
                )
                continue
            if info.file_size > limits.member_limit_bytes:
                yield (
                    path,
                    info.file_size,
                    _archive(
                        Reason.ARCHIVE_MEMBER_TOO_LARGE,
                        f"zip member declares {info.file_size} bytes, over the configured limit of "
                        f"{limits.member_limit_bytes}.",
                    ),
                )
                continue
            try:
                with archive.open(info) as reader:
                    yield _member(source, path, info.file_size, reader, limits)
            except _ZIP_ERRORS as exc:
                yield (
                    path,
                    info.file_size,
                    _archive(
                        Reason.ARCHIVE_CORRUPT,
                        f"zip member cannot be extracted ({type(exc).__name__}).",
                    ),
                )


def _gzip_member(source: Source, limits: ArchiveLimits) -> Iterator[Member]:
    """The single file inside a gzip stream, named after the archive without `.gz`."""
    last = source.path.rsplit(ARCHIVE_SEPARATOR, 1)[-1].split("!#", 1)[0]
    stem = PurePosixPath(input_keys.unescape(last)).name
    if stem.lower().endswith(".gz"):
        stem = stem[:-3]
    path = member_key(source.path, stem or "content")
    try:
        with source.open() as handle, gzip.GzipFile(fileobj=handle) as reader:
            yield _member(source, path, source.size, cast(IO[bytes], reader), limits)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise _archive(
            Reason.ARCHIVE_CORRUPT, f"gzip stream cannot be inflated ({type(exc).__name__})."
        ) from None


def archive_members(source: Source, kind: ContentKind, limits: ArchiveLimits) -> Iterator[Member]:
    """Each member of a zip or gzip archive as a Source, or (key, size, Rejection) if set aside.

    Raises Rejection when the archive as a whole cannot be read, or lies deeper than allowed.
    """
    if source.depth >= limits.max_depth:
        raise _too_deep(limits)
    if source.budget is None:
        source.budget = limits.new_budget()
    if kind == ContentKind.GZIP:
        return _gzip_member(source, limits)
    return _zip_members(source, limits)


def _buffered_source(path: str, spooled: BinaryIO, depth: int, budget: InflationBudget) -> Source:
    spooled.seek(0, io.SEEK_END)
    size = spooled.tell()

    def opener() -> BinaryIO:
        spooled.seek(0)
        return cast(BinaryIO, _Unclosable(spooled))

    return Source(path=path, size=size, opener=opener, depth=depth, budget=budget)


class _Unclosable(io.BufferedIOBase):
    """A view of a shared buffer that ignores close(), so a member can be reopened."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner

    def read(self, size: int | None = -1) -> bytes:
        return self._inner.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def readinto(self, buffer) -> int:
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
    """The key to re-open for a metadata row: as written, or unsealed when paths are hashed."""
    path = row["path"]
    if not path.startswith(HASHED_PREFIX):
        return path
    token = row.get("path_token")
    if key is None or not token:
        raise KeyError("hashed path: the pseudonym key and the row's path_token are needed")
    from medspark.dicom.keys import unseal

    return unseal(key, token)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    body = inflater.decompress(data, limit + 1)
    if len(body) > limit:
        raise OverflowError(f"gzip content over {limit} bytes")
    return body


def _zip_member_bytes(data: bytes, member: input_keys.MemberRef, limit: int) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        named = [
            info
            for info in archive.infolist()
            if info.filename == member.name and not _is_folder_entry(info)
        ]
        if len(named) < member.occurrence:
            raise FileNotFoundError(f"the archive no longer holds member {member.occurrence}")
        info = named[member.occurrence - 1]
        if info.file_size > limit:
            raise OverflowError(f"archive member over {limit} bytes")
        with archive.open(info) as reader:
            body = reader.read(limit + 1)
    if len(body) > limit:
        raise OverflowError(f"archive member over {limit} bytes")
    return body


def read_bytes(key: str, limits: ArchiveLimits) -> bytes:
    """The bytes of the listed file or archive member a key names."""
    from medspark.sources import open_input

    location, members = input_keys.parse(key)
    with open_input(location) as handle:
        data = handle.read()
    for member in members:
        if data[:2] == b"\x1f\x8b":
            data = _gunzip(data, limits.member_limit_bytes)
        else:
            data = _zip_member_bytes(data, member, limits.member_limit_bytes)
    return data


def read_verified(row: dict, key, limits: ArchiveLimits, stage: Stage = Stage.DECODE) -> bytes:
    """The bytes behind a metadata row, checked against the row's size and SHA-256.

    Raises Rejection: `unreadable` when they cannot be read, `changed_since_ingest` when the
    input now holds other bytes than the ones the row describes.
    """
    try:
        data = read_bytes(readable_path(row, key), limits)
    except (OSError, KeyError, OverflowError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise Rejection(
            stage, Reason.UNREADABLE, f"the input cannot be read again ({type(exc).__name__})."
        ) from None
    expected_size, expected_sha = row.get("file_size"), row.get("sha256")
    if (expected_size is not None and len(data) != expected_size) or (
        expected_sha and hashlib.sha256(data).hexdigest() != expected_sha
    ):
        raise Rejection(
            stage,
            Reason.CHANGED_SINCE_INGEST,
            "the input holds other bytes than when it was ingested (size or SHA-256 differ); "
            "ingest it again.",
        )
    return data
