"""Send de-identified instances to a PACS: STOW-RS to a DICOMweb service, or C-STORE to a DICOM
peer. Each instance gets the destination's own answer; none is dropped silently."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Protocol

import pydicom
from pynetdicom import AE
from pynetdicom.presentation import build_context

from medspark.dicomweb import locations
from medspark.dicomweb.client import RemoteReadError, check_service, client
from medspark.dimse.peers import Peer, is_dimse, parse_peer
from medspark.dimse.retrieve import PeerUnreachableError
from medspark.dimse.services import VERIFICATION
from medspark.errors import UsageError
from medspark.exports.dicom import PreparedInstance

REFERENCED_SOP_SEQUENCE = "00081199"
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_INSTANCE_UID = "00081155"
FAILURE_REASON = "00081197"
WARNING_REASON = "00081196"
_MAX_CONTEXTS = 128


@dataclass(frozen=True)
class Delivery:
    """What the destination said of one instance."""

    stored: bool
    answer: str
    reason: str | None = None


class Sender(Protocol):
    batch_size: int

    def check(self) -> None:
        """End the run before any work when the destination cannot take instances."""

    def send(self, instances: list[PreparedInstance]) -> list[Delivery]: ...


def _values(document: dict, tag: str) -> list:
    return (document.get(tag) or {}).get("Value") or []


def _stow_outcomes(body: bytes) -> dict[str, Delivery]:
    """Per SOP Instance UID, what a STOW-RS answer (PS3.18 Table 10.5.3-1) says."""
    try:
        document = json.loads(body) if body.strip() else {}
    except ValueError:
        return {}
    if isinstance(document, list):
        document = document[0] if document else {}
    outcomes = {}
    for item in _values(document, REFERENCED_SOP_SEQUENCE):
        for uid in _values(item, REFERENCED_SOP_INSTANCE_UID):
            warning = _values(item, WARNING_REASON)
            note = f" with warning 0x{int(warning[0]):04X}" if warning else ""
            outcomes[str(uid)] = Delivery(True, f"stored{note}")
    for item in _values(document, FAILED_SOP_SEQUENCE):
        for uid in _values(item, REFERENCED_SOP_INSTANCE_UID):
            failure = _values(item, FAILURE_REASON)
            code = f"0x{int(failure[0]):04X}" if failure else "no reason given"
            outcomes[str(uid)] = Delivery(False, f"refused ({code})", "destination_refused")
    return outcomes


class DicomwebSender:
    """STOW-RS, `batch_size` instances a request, to `…/studies` of a DICOMweb service."""

    def __init__(self, destination: str, batch_size: int = 16) -> None:
        self.destination = destination
        self.url = locations.parse(destination).service + "/studies"
        self.batch_size = batch_size

    def check(self) -> None:
        """A search answers (not unreachable, credentials taken)."""
        check_service(self.destination)

    def send(self, instances: list[PreparedInstance]) -> list[Delivery]:
        try:
            answer = client().store(self.url, [instance.body for instance in instances])
        except RemoteReadError as exc:
            return [Delivery(False, exc.detail, "destination_unreachable")] * len(instances)
        outcomes = _stow_outcomes(answer.body)
        fallback = (
            Delivery(False, f"HTTP {answer.status}, not named in the answer", "destination_refused")
            if answer.status in (200, 202, 409)
            else Delivery(False, f"HTTP {answer.status}", "destination_refused")
        )
        return [outcomes.get(instance.uid_as_sent, fallback) for instance in instances]


class DimseSender:
    """C-STORE, one association per `batch_size` instances, each in the syntax it has."""

    def __init__(self, peer: Peer, ae_title: str = "MEDSPARK", batch_size: int = 64) -> None:
        self.peer = peer
        self.ae_title = ae_title
        self.batch_size = batch_size

    def check(self) -> None:
        """The peer accepts an association and answers C-ECHO."""
        ae = AE(ae_title=self.ae_title)
        ae.add_requested_context(VERIFICATION)
        association = ae.associate(self.peer.host, self.peer.port, ae_title=self.peer.ae_title)
        if not association.is_established:
            raise PeerUnreachableError(
                f"{self.peer} did not accept an association from {self.ae_title} (not "
                "listening, or it does not know this AE title)"
            )
        try:
            status = association.send_c_echo()
        finally:
            association.release()
        if not status or status.Status != 0x0000:
            raise PeerUnreachableError(f"{self.peer} does not answer C-ECHO")

    def send(self, instances: list[PreparedInstance]) -> list[Delivery]:
        datasets = [pydicom.dcmread(io.BytesIO(i.body)) for i in instances]
        pairs = sorted({(str(d.SOPClassUID), str(d.file_meta.TransferSyntaxUID)) for d in datasets})
        if len(pairs) > _MAX_CONTEXTS:
            half = len(instances) // 2
            return self.send(instances[:half]) + self.send(instances[half:])
        ae = AE(ae_title=self.ae_title)
        ae.requested_contexts = [build_context(sop, syntax) for sop, syntax in pairs]
        association = ae.associate(self.peer.host, self.peer.port, ae_title=self.peer.ae_title)
        if not association.is_established:
            refused = Delivery(False, "association refused or no answer", "destination_refused")
            return [refused] * len(instances)
        deliveries = []
        try:
            for dataset in datasets:
                try:
                    status = association.send_c_store(dataset)
                except ValueError:  # the peer accepted no context for this class and syntax
                    deliveries.append(
                        Delivery(False, "no accepted presentation context", "destination_refused")
                    )
                    continue
                if not status:
                    deliveries.append(Delivery(False, "no answer", "destination_unreachable"))
                elif status.Status == 0x0000:
                    deliveries.append(Delivery(True, "stored (0x0000)"))
                elif status.Status in (0xB000, 0xB007, 0xB006):
                    deliveries.append(Delivery(True, f"stored with warning 0x{status.Status:04X}"))
                else:
                    deliveries.append(
                        Delivery(False, f"refused (0x{status.Status:04X})", "destination_refused")
                    )
        finally:
            association.release()
        return deliveries


def sender_for(destination: str, ae_title: str = "MEDSPARK") -> Sender:
    """The sender for `dicomweb+http(s)://…` or `dimse://AE@host:port`."""
    if locations.is_dicomweb(destination):
        return DicomwebSender(destination)
    if is_dimse(destination):
        return DimseSender(parse_peer(destination), ae_title)
    raise UsageError(f"--to takes dicomweb+http(s)://… or dimse://AE@host:port, not {destination}")
