"""`medspark receive` and `medspark pull`: DICOM networking into a landing folder, no Spark."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from medspark.dimse.landing import Landing
from medspark.dimse.peers import parse_peer, valid_ae_title
from medspark.dimse.receiver import start_receiver
from medspark.dimse.retrieve import find_studies, get_studies, move_studies
from medspark.errors import EXIT_OK, EXIT_QUARANTINED, EnvironmentProblem, UsageError

log = logging.getLogger("medspark.pacs")


class PortUnavailableError(EnvironmentProblem):
    """The port to listen on is taken or not allowed."""


def _landing(folder: str) -> Landing:
    if not folder.strip():
        raise UsageError("LANDING is empty")
    try:
        return Landing(Path(folder))
    except OSError as exc:
        raise UsageError(f"LANDING cannot be created: {folder} ({exc.strerror or exc})") from None


def receive(args: argparse.Namespace) -> int:
    """Listen until SIGTERM or SIGINT; then say what was taken."""
    landing = _landing(args.landing)
    title = valid_ae_title(args.ae_title)
    try:
        receiver = start_receiver(landing, args.host, args.port, title)
    except OSError as exc:
        raise PortUnavailableError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})"
        ) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"receiving as {title} on {args.host}:{args.port} into {landing.folder}", flush=True)
    stop.wait()
    receiver.stop()
    tally = receiver.tally
    print(f"received {tally.stored} instances, {tally.failed} not landed", flush=True)
    return EXIT_OK


def pull(args: argparse.Namespace) -> int:
    """Find the studies, retrieve them, and say what arrived; exit 5 when some did not."""
    peer = parse_peer(args.source)
    title = valid_ae_title(args.ae_title)
    landing = _landing(args.landing)
    studies = find_studies(peer, title, args.study_date, args.modality)
    if args.method == "get":
        result = get_studies(peer, title, studies, landing)
    else:
        result = move_studies(peer, title, studies, landing, args.host, args.port)
    print(
        f"pull from {peer}: {result.studies} studies, {result.landed} instances landed in "
        f"{landing.folder}, {result.failed} failed, {result.warnings} with warnings",
        flush=True,
    )
    for failure in result.study_failures:
        log.warning("study not retrieved in full: %s", failure)
    return EXIT_QUARANTINED if result.failed or result.study_failures else EXIT_OK
