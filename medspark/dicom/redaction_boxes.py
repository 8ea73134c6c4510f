"""The boxes of burned-in text a row says to fill, per frame."""

from __future__ import annotations

from typing import Any


def boxes_by_frame(redactions: Any) -> dict[int, list[list[int]]]:
    """{frame: boxes} from a row's `redactions` (a list of {frame, boxes}, as Spark gives it)."""
    found: dict[int, list[list[int]]] = {}
    for item in [] if redactions is None else list(redactions):
        if hasattr(item, "asDict"):  # a Spark Row from collect()
            item = item.asDict()
        boxes = item.get("boxes") if isinstance(item, dict) else None
        if boxes is not None and len(boxes):
            found[int(item["frame"])] = [[int(v) for v in box] for box in boxes]
    return found
