"""Pull studies from a PACS: C-FIND by study date and modality, then C-GET (the instances come
back on the same association) or C-MOVE (the PACS sends them to a C-STORE SCP started here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, build_role, evt

from medspark.dimse.landing import Landing
from medspark.dimse.peers import Peer
from medspark.dimse.receiver import Tally, start_receiver, store_handler
from medspark.dimse.services import STUDY_ROOT_FIND, STUDY_ROOT_GET, STUDY_ROOT_MOVE
from medspark.errors import EnvironmentProblem

log = logging.getLogger("medspark.pull")
_PENDING = (0xFF00, 0xFF01)
_GET_STORAGE_CONTEXTS = 127  # an association carries at most 128 contexts; one is the C-GET's


class PeerUnreachableError(EnvironmentProblem):
    """The PACS refuses the association, or does not answer."""


@dataclass
class PullResult:
    """What one pull did: studies found, instances landed, sub-operations the PACS reports."""

    studies: int = 0
    landed: int = 0
    failed: int = 0
    warnings: int = 0
    study_failures: list[str] = field(default_factory=list)


def _associate(ae: AE, peer: Peer, **kwargs):
    association = ae.associate(peer.host, peer.port, ae_title=peer.ae_title, **kwargs)
    if not association.is_established:
        raise PeerUnreachableError(
            f"{peer} did not accept an association from {ae.ae_title} "
            "(not listening, or it does not know this AE title)"
        )
    return association


def find_studies(
    peer: Peer, ae_title: str, study_dates: str | None, modality: str | None
) -> list[str]:
    """Study Instance UIDs matching a date range (YYYYMMDD-YYYYMMDD) and a modality."""
    ae = AE(ae_title=ae_title)
    ae.add_requested_context(STUDY_ROOT_FIND)
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = ""
    query.StudyDate = study_dates or ""
    query.ModalitiesInStudy = modality or ""
    association = _associate(ae, peer)
    studies: set[str] = set()
    try:
        for status, identifier in association.send_c_find(query, STUDY_ROOT_FIND):
            if status is None:
                raise PeerUnreachableError(f"{peer} stopped answering the C-FIND")
            if status.Status in _PENDING and identifier is not None:
                uid = str(identifier.get("StudyInstanceUID", "")).strip()
                if uid:
                    studies.add(uid)
            elif status.Status not in (0x0000, *_PENDING):
                raise PeerUnreachableError(f"{peer} refused the C-FIND (0x{status.Status:04X})")
    finally:
        association.release()
    return sorted(studies)


def _study_query(study: str) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study
    return query


def _tally_final(status: Dataset | None, study: str, result: PullResult) -> None:
    if status is None or status.Status in _PENDING:
        return
    result.failed += int(status.get("NumberOfFailedSuboperations", 0) or 0)
    result.warnings += int(status.get("NumberOfWarningSuboperations", 0) or 0)
    if status.Status != 0x0000:
        result.study_failures.append(f"{study}: 0x{status.Status:04X}")


def get_studies(peer: Peer, ae_title: str, studies: list[str], landing: Landing) -> PullResult:
    """C-GET each study; the PACS sends its instances back on the same association."""
    tally = Tally()
    ae = AE(ae_title=ae_title)
    ae.add_requested_context(STUDY_ROOT_GET)
    roles = []
    for context in StoragePresentationContexts[:_GET_STORAGE_CONTEXTS]:
        syntax = str(context.abstract_syntax)
        ae.add_requested_context(syntax, ALL_TRANSFER_SYNTAXES)
        roles.append(build_role(syntax, scp_role=True))
    handlers: list = [(evt.EVT_C_STORE, store_handler(landing, tally))]
    result = PullResult(studies=len(studies))
    association = _associate(ae, peer, ext_neg=roles, evt_handlers=handlers)
    try:
        for study in studies:
            final = None
            for status, _ in association.send_c_get(_study_query(study), STUDY_ROOT_GET):
                final = status
            _tally_final(final, study, result)
    finally:
        association.release()
    result.landed, result.failed = tally.stored, result.failed + tally.failed
    return result


def move_studies(
    peer: Peer, ae_title: str, studies: list[str], landing: Landing, host: str, port: int
) -> PullResult:
    """C-MOVE each study to a C-STORE SCP started here as `ae_title` on host:port (the PACS
    must know that AE title and address)."""
    receiver = start_receiver(landing, host, port, ae_title)
    result = PullResult(studies=len(studies))
    try:
        ae = AE(ae_title=ae_title)
        ae.add_requested_context(STUDY_ROOT_MOVE)
        association = _associate(ae, peer)
        try:
            for study in studies:
                final = None
                for status, _ in association.send_c_move(
                    _study_query(study), ae_title, STUDY_ROOT_MOVE
                ):
                    final = status
                _tally_final(final, study, result)
        finally:
            association.release()
    finally:
        receiver.stop()
    result.landed, result.failed = receiver.tally.stored, result.failed + receiver.tally.failed
    return result
