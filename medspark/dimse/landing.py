"""A landing folder instances arrive in: each is written whole or not at all, so `medspark etl`
never lists half an instance."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class Landing:
    """Writes instances into `folder` by SOP Instance UID, through a sibling staging folder
    (`.<name>.receiving`, on the same filesystem) and a rename."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.staging = self.folder.parent / f".{self.folder.name}.receiving"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.staging.mkdir(parents=True, exist_ok=True)

    def name_for(self, sop_instance_uid: str | None) -> str:
        """The file name of an instance: its UID when it is one, else a fresh unique name."""
        uid = (sop_instance_uid or "").strip()
        if len(uid) <= 64 and _UID.match(uid):
            return f"{uid}.dcm"
        return f"unnamed-{uuid.uuid4().hex}.dcm"

    def land(self, sop_instance_uid: str | None, data: bytes) -> Path:
        """Put one instance in place; an instance sent again replaces the earlier copy."""
        target = self.folder / self.name_for(sop_instance_uid)
        partial = self.staging / f"{target.name}.{uuid.uuid4().hex}.partial"
        try:
            with open(partial, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return target
