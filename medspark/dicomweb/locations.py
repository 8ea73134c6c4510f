"""The `dicomweb+http(s)://` locations medspark accepts, and the keys of what it finds there.

A root is a service root with an optional QIDO query (`…/dicom-web?StudyDate=2026-2027`), or a
study or series under it (`…/dicom-web/studies/S`, `…/studies/S/series/R`). Every instance is
keyed by its WADO-RS address, `dicomweb+http://host/…/studies/S/series/R/instances/I`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from medspark.errors import UsageError

PREFIX = "dicomweb+"
SCHEMES = ("dicomweb+http", "dicomweb+https")


def is_dicomweb(uri: str) -> bool:
    """Whether a location names a DICOMweb service, study, series or instance."""
    return uri.split("://", 1)[0].lower() in SCHEMES


@dataclass(frozen=True)
class Resource:
    """A parsed DICOMweb location: the service root as HTTP, and how far below it it points."""

    service: str
    study: str | None = None
    series: str | None = None
    instance: str | None = None
    filters: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """The location as medspark writes it (the query left out)."""
        parts = [PREFIX + self.service]
        for level, uid in (("studies", self.study), ("series", self.series)):
            if uid:
                parts += [level, uid]
        if self.instance:
            parts += ["instances", self.instance]
        return "/".join(parts)

    @property
    def url(self) -> str:
        """The HTTP address of the resource (the WADO-RS or QIDO-RS base)."""
        return self.key[len(PREFIX) :]

    def below(self, **uids: str) -> Resource:
        """The resource one or more levels further down."""
        return Resource(
            self.service,
            uids.get("study", self.study),
            uids.get("series", self.series),
            uids.get("instance", self.instance),
        )


def parse(uri: str) -> Resource:
    """A DICOMweb location, refused with a usage error when it cannot be one."""
    if not is_dicomweb(uri):
        raise UsageError(f"not a DICOMweb location: {uri}")
    parts = urlsplit(uri[len(PREFIX) :])
    if not parts.hostname:
        raise UsageError(f"a DICOMweb location needs a host: {uri}")
    if parts.username or parts.password:
        raise UsageError(
            "credentials do not belong in a DICOMweb location, where logs and run summaries "
            "would show them",
            hint="set MEDSPARK_DICOMWEB_USER and MEDSPARK_DICOMWEB_PASSWORD, or "
            "MEDSPARK_DICOMWEB_TOKEN",
        )
    segments = [s for s in parts.path.split("/") if s]
    service_segments, below = segments, []
    if "studies" in segments:
        at = segments.index("studies")
        service_segments, below = segments[:at], segments[at:]
    service = f"{parts.scheme}://{parts.netloc}/" + "/".join(service_segments)
    uids: dict[str, str] = {}
    names = {"studies": "study", "series": "series", "instances": "instance"}
    expected = list(names)
    for position in range(0, len(below), 2):
        level = below[position]
        if position // 2 >= len(expected) or level != expected[position // 2]:
            raise UsageError(f"not a study, series or instance address: {uri}")
        if position + 1 >= len(below):
            raise UsageError(f"{level} without a UID in {uri}")
        uids[names[level]] = below[position + 1]
    filters = tuple(parse_qsl(parts.query, keep_blank_values=False))
    return Resource(service.rstrip("/"), filters=filters, **uids)


def public_location(uri: str) -> str:
    """A location as logs and run summaries show it: a DICOMweb query's values (a PatientID, an
    AccessionNumber) masked, its keys kept; any other location unchanged."""
    if not is_dicomweb(uri):
        return uri
    parts = urlsplit(uri)
    masked = "&".join(f"{quote(name)}=…" for name, _ in parse_qsl(parts.query))
    return urlunsplit(parts._replace(query=masked))
