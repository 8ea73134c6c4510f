"""Where OUT lives: local paths or any filesystem pyarrow reaches (HDFS, S3, GCS, Azure); small
files written atomically, OUT checked writable and reachable before a run."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ProbeTimeout
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from medspark.errors import EnvironmentProblem, UsageError


class OutputNotWritableError(UsageError):
    """The output root cannot be created or written to."""


def local_path(uri: str) -> str | None:
    """The local filesystem path of a `file:` URI or bare path; None for other schemes."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] == ":\\"):
        return uri
    return None


def open_uri(uri: str) -> BinaryIO:
    """Open a file under OUT for reading: local paths directly, other schemes through pyarrow
    (input files open through `medspark.sources`)."""
    path = local_path(uri)
    if path is not None:
        return open(path, "rb")
    from pyarrow import fs

    filesystem, inner = fs.FileSystem.from_uri(uri)
    return filesystem.open_input_file(inner)


def write_bytes(uri: str, data: bytes) -> None:
    """Write a small file atomically where the filesystem allows (rename over a temp)."""
    path = local_path(uri)
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        temp.write_bytes(data)
        temp.replace(target)
        return
    from pyarrow import fs

    filesystem, inner = fs.FileSystem.from_uri(uri)
    filesystem.create_dir(inner.rsplit("/", 1)[0], recursive=True)
    with filesystem.open_output_stream(inner) as stream:
        stream.write(data)


def write_text(uri: str, text: str) -> None:
    """Write a small text file (UTF-8) as `write_bytes` does."""
    write_bytes(uri, text.encode())


def require_writable(uri: str) -> None:
    """Create the output root if needed and prove a file can be written there."""
    from medspark.layout import write_probe

    probe = write_probe(uri)
    try:
        write_text(probe, "")
        path = local_path(probe)
        if path is not None:
            Path(path).unlink()
        else:
            from pyarrow import fs

            filesystem, inner = fs.FileSystem.from_uri(probe)
            filesystem.delete_file(inner)
    except OSError as exc:
        raise OutputNotWritableError(
            f"output is not writable: {uri} ({exc.strerror or exc})"
        ) from exc


REACH_SECONDS = 30.0
"""How long a remote filesystem may take to answer whether a location exists."""


class UnreachableLocationError(EnvironmentProblem):
    """A filesystem location (hdfs://, s3://, gs://, abfs://...) that cannot be reached."""


def ask_filesystem(uri: str) -> None:
    """Open a location's pyarrow filesystem and ask it about the location."""
    from pyarrow import fs

    filesystem, inner = fs.FileSystem.from_uri(uri)
    filesystem.get_file_info(inner)


def check_reachable(uri: str, name: str, seconds: float = REACH_SECONDS) -> None:
    """Ask the filesystem of a location that is neither local nor DICOMweb whether it exists,
    before anything starts; a client that cannot load, credentials refused, a host that does
    not resolve or a service that does not answer in time ends the run with one line."""
    if local_path(uri) is not None:
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medspark-reach")
    try:
        pool.submit(ask_filesystem, uri).result(timeout=seconds)
    except ProbeTimeout:
        raise UnreachableLocationError(
            f"{name} {uri} did not answer within {seconds:g} s",
            hint="check the address and the network to it",
        ) from None
    except Exception as exc:  # pyarrow raises OSError, ArrowInvalid, ArrowException...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UnreachableLocationError(
            f"{name} {uri} cannot be reached: {first}",
            hint="check the address, the credentials in the environment and, for hdfs://, "
            "that libhdfs and Java are found (HADOOP_HOME, JAVA_HOME)",
        ) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def shared_folder(destination: str) -> str:
    """The local path of an export destination every worker writes into (local, NFS, a mounted
    bucket); other schemes are refused."""
    folder = local_path(destination)
    if folder is None:
        raise UsageError(
            f"DEST must be a local or mounted folder shared by all workers, not {destination}"
        )
    return folder
