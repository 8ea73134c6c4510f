"""The `dimse://AE@host:port` form that names a DICOM peer."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from medspark.errors import UsageError

SCHEME = "dimse"


def is_dimse(location: str) -> bool:
    return location.split("://", 1)[0].lower() == SCHEME


def valid_ae_title(title: str) -> str:
    """An AE title as DICOM allows it (1 to 16 characters, no backslash or control characters)."""
    if not 0 < len(title.strip()) <= 16 or "\\" in title or not title.isprintable():
        raise UsageError(f"not a DICOM AE title (1 to 16 printable characters): {title!r}")
    return title.strip()


@dataclass(frozen=True)
class Peer:
    """A DICOM application entity on the network."""

    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{SCHEME}://{self.ae_title}@{self.host}:{self.port}"


def parse_peer(location: str) -> Peer:
    """A peer from `dimse://AE@host:port`; a usage error when the form is not kept."""
    parts = urlsplit(location)
    if parts.scheme.lower() != SCHEME or not parts.username or not parts.hostname:
        raise UsageError(f"a DICOM peer is named dimse://AE@host:port, not {location}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        raise UsageError(f"a DICOM peer needs its port: {location}")
    return Peer(valid_ae_title(parts.username), parts.hostname, port)
