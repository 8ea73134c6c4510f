"""What listing an input finds: a file to read, or an entry recorded with the reason it is not
read."""

from __future__ import annotations

from dataclasses import dataclass

from medspark.errors import UsageError

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


class InputNotFoundError(UsageError):
    """The input root does not exist or cannot be listed."""
