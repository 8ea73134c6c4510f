"""List what a DICOMweb location holds: series on the driver, instances per series on workers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pydicom.datadict import keyword_for_tag

from medspark.dicom.reasons import Reason
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
    server cannot list it (so nothing the driver saw goes unaccounted). Instances that share
    their UIDs (two patients' copies) are each listed with a problem: their one WADO-RS address
    cannot tell them apart."""
    series = parse(series_key)
    matches: dict[str, list[dict]] = {}
    try:
        for match in client().search(f"{series.url}/instances"):
            if uid := _uid(match, SOP_INSTANCE_UID):
                matches.setdefault(uid, []).append(match)
    except RemoteReadError as exc:
        yield Found(series_key, UNREADABLE, f"the series cannot be listed: {exc.detail}.")
        return
    for uid in sorted(matches):
        key = series.below(instance=uid).key
        copies = matches[uid]
        if len(copies) == 1:
            yield Found(key)
            continue
        for number in range(1, len(copies) + 1):  # the first keeps the address as its key
            copy_key = key if number == 1 else f"{key}#{number}"
            yield Found(copy_key, str(Reason.WADO_ADDRESS_SHARED), _shared_detail(copies))


def _shared_detail(copies: list[dict]) -> str:
    """Why instances sharing their UIDs (and so their WADO-RS address) are not read, naming the
    attributes (never their values) by which the server's matches differ."""
    differing = sorted(
        keyword_for_tag(int(tag, 16)) or tag
        for tag in set().union(*copies)
        if len({repr(c.get(tag, {}).get("Value")) for c in copies}) > 1
    )
    by = f" (they differ in {', '.join(differing)})" if differing else ""
    return (
        f"the server lists {len(copies)} instances with this study, series and SOP Instance "
        f"UID{by}; WADO-RS has one address for them and cannot say whose instance it returns, "
        "so none is read."
    )
