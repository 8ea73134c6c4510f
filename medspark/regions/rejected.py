"""The one error of region reading, placing and describing."""

from __future__ import annotations

from medspark.dicom.reasons import Reason


class RegionRejected(ValueError):
    """A region that cannot be described; `reason` is its stable quarantine reason."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
