"""List what a DICOMweb location holds: series on the driver, instances per series on workers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from medspark.dicomweb.client import RemoteReadError, ServiceUnreachableError, client
from medspark.dicomweb.locations import Resource, parse

STUDY_UID = "0020000D"
SERIES_UID = "0020000E"
SOP_INSTANCE_UID = "00080018"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Found:
    """An instance to read, or a series that could not be listed (with `problem`).

    `version_ms` stands where a file's modification time does: QIDO-RS gives no last-update
    time, so every instance has the same (0) and is new exactly once, by its UIDs; a series that
    could not be listed has none, and is listed again by the next run.
    """

    key: str
    problem: str | None = None
    detail: str | None = None

    @property
    def version_ms(self) -> int | None:
        return None if self.problem else 0


def _uid(match: dict, tag: str) -> str | None:
    values = match.get(tag, {}).get("Value") or []
    return str(values[0]) if values else None


def _search(url: str, filters: tuple[tuple[str, str], ...] = ()) -> Iterator[dict]:
    try:
        yield from client().search(url, filters)
    except RemoteReadError as exc:
        raise ServiceUnreachableError(f"cannot search {url}: {exc.detail}") from None


def top(root: Resource) -> tuple[list[Found], list[str]]:
    """(the instance a root names itself, if it does; the keys of the series to walk)."""
    if root.instance:
        return [Found(root.key)], []
    return [], series_to_walk(root)


def series_to_walk(root: Resource) -> list[str]:
    """Keys of every series under a study-level QIDO query (or the one study or series named)."""
    if root.series:
        return [root.key]
    if root.study:
        studies = [root.study]
    else:
        found = (_uid(m, STUDY_UID) for m in _search(f"{root.service}/studies", root.filters))
        studies = sorted({uid for uid in found if uid})
    keys = []
    for study in studies:
        try:
            matches = list(client().search(f"{root.service}/studies/{study}/series"))
        except RemoteReadError as exc:
            if exc.status == 404:
                continue  # deleted since the study search: nothing of it is left to account for
            raise ServiceUnreachableError(
                f"cannot list the series of a study: {exc.detail}"
            ) from None
        uids = sorted({uid for m in matches if (uid := _uid(m, SERIES_UID))})
        keys += [root.below(study=study, series=uid).key for uid in uids]
    return keys


def instances_in(series_key: str) -> Iterator[Found]:
    """Every instance of one series, by QIDO-RS; the series itself, with its problem, when the
    server cannot list it (so nothing the driver saw goes unaccounted)."""
    series = parse(series_key)
    try:
        uids = {
            uid
            for m in client().search(f"{series.url}/instances")
            if (uid := _uid(m, SOP_INSTANCE_UID))
        }
    except RemoteReadError as exc:
        yield Found(series_key, UNREADABLE, f"the series cannot be listed: {exc.detail}.")
        return
    for uid in sorted(uids):
        yield Found(series.below(instance=uid).key)
