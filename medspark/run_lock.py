"""One run at a time per output root: an OS file lock that dies with its holder."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import time
from pathlib import Path
from typing import TextIO

from medspark.errors import LockedError
from medspark.layout import LOCK_NAME
from medspark.storage import local_path


class RunLockedError(LockedError):
    """Another run holds the lock on this output root."""


def lock_file(out_uri: str) -> Path:
    """OUT/.medspark-run.lock for a local OUT; a per-OUT file in ~/.medspark/locks otherwise.

    Every job that writes into OUT takes the same lock, one-shot and incremental alike."""
    path = local_path(out_uri)
    if path is not None:
        return Path(path) / LOCK_NAME
    digest = hashlib.sha256(out_uri.encode()).hexdigest()[:24]
    return Path.home() / ".medspark" / "locks" / f"{digest}.lock"


class RunLock:
    """`flock` on the lock file: the kernel drops it when the holder exits or is killed, so a
    crashed run never blocks the next. The file records who holds it, for the message."""

    def __init__(self, out_uri: str) -> None:
        self.path = lock_file(out_uri)
        self._handle: TextIO | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunLockedError(
                f"another medspark run holds {self.path} ({holder}); this run exits",
                hint="wait for that run to end; the lock goes with its process, so a crashed "
                "run never holds it",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        )
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
