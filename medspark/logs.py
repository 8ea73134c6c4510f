"""Console logging for medspark jobs: one line per stage, and nothing that could carry PHI."""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "medspark-console"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time, so redirections are honoured."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(level: int = logging.INFO) -> None:
    """Log medspark's own lines to stderr; silence libraries that echo element values."""
    logger = logging.getLogger("medspark")
    logger.setLevel(level)
    if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
        logger.addHandler(handler)
    logger.propagate = False
    logging.getLogger("pydicom").setLevel(logging.CRITICAL + 1)
    logging.getLogger("py4j").setLevel(logging.ERROR)
