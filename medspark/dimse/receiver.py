"""A C-STORE SCP that lands every instance it is sent, as sent (no decoding, no re-encoding)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, _config, evt
from pynetdicom.events import Event

from medspark.dimse.landing import Landing
from medspark.dimse.services import VERIFICATION

log = logging.getLogger("medspark.receive")
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC210


@dataclass
class Tally:
    """What a receiver has taken and refused since it started (thread-safe)."""

    stored: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, stored: bool) -> None:
        with self.lock:
            if stored:
                self.stored += 1
            else:
                self.failed += 1


def store_handler(landing: Landing, tally: Tally):
    """The EVT_C_STORE handler: land the encoded dataset, answer with a DIMSE status."""

    def handle(event: Event) -> int:
        try:
            data = event.encoded_dataset(include_meta=True)
        except Exception:  # a dataset pynetdicom cannot even frame: tell the sender
            tally.count(False)
            return CANNOT_UNDERSTAND
        try:
            landing.land(getattr(event.request, "AffectedSOPInstanceUID", None), data)
        except OSError as exc:
            tally.count(False)
            log.error("cannot land an instance: %s", type(exc).__name__)
            return OUT_OF_RESOURCES
        tally.count(True)
        return SUCCESS

    return handle


def storage_ae(ae_title: str) -> AE:
    """An AE that accepts every storage SOP class (known or not) in every transfer syntax."""
    _config.UNRESTRICTED_STORAGE_SERVICE = True
    ae = AE(ae_title=ae_title)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(str(context.abstract_syntax), ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(VERIFICATION)
    return ae


@dataclass
class Receiver:
    """A running C-STORE SCP; `stop()` ends it after the associations in flight."""

    ae: AE
    server: object
    tally: Tally

    def stop(self) -> None:
        self.server.shutdown()  # type: ignore[attr-defined]


def start_receiver(landing: Landing, host: str, port: int, ae_title: str) -> Receiver:
    """Listen on host:port in background threads, landing what arrives."""
    tally = Tally()
    ae = storage_ae(ae_title)
    handlers: list = [(evt.EVT_C_STORE, store_handler(landing, tally))]
    server = ae.start_server((host, port), block=False, evt_handlers=handlers)
    return Receiver(ae, server, tally)
