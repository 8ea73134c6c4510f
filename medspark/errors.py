"""The errors a run can end with: each kind carries its exit code and a sentence for people.

Every domain error derives from one of the kinds below, so the command line maps an error to
its exit code by type. The codes are documented in docs/ingest.md (Exit codes).
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_LOCKED = 4
EXIT_QUARANTINED = 5
EXIT_DATA = 6


class MedsparkError(Exception):
    """An error medspark expected: it ends the run with one line on stderr and `exit_code`.

    `hint` says what to do about it, in the user's terms.
    """

    exit_code: ClassVar[int] = EXIT_FAILED
    kind: ClassVar[str] = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message (and hint) as one line, without the exit code."""
        text = f"{self.kind}: {self.message}" if self.kind else self.message
        if self.hint:
            text += f" ({self.hint})"
        return " ".join(text.split())


class UsageError(MedsparkError):
    """The command line names locations or options that cannot work together."""

    exit_code = EXIT_USAGE
    kind = "usage error"


class ConfigurationError(MedsparkError):
    """The profile, an override or a key cannot be used as given."""

    exit_code = EXIT_USAGE
    kind = "configuration error"


class DataError(MedsparkError):
    """The data under INPUT or OUT (or a labels file) cannot give what was asked for."""

    exit_code = EXIT_DATA
    kind = "data error"


class EnvironmentProblem(MedsparkError):
    """The machine lacks something the run needs: Java, a built jar, an optional package."""

    exit_code = EXIT_ENVIRONMENT
    kind = "environment error"


class LockedError(MedsparkError):
    """Another run holds the output."""

    exit_code = EXIT_LOCKED
    kind = "locked"
