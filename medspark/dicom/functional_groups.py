"""Multi-frame functional groups (PS3.3 C.7.6.16): each frame's macro items, whether a writer
put them in the Shared Functional Groups Sequence or in the frame's Per-Frame item."""

from __future__ import annotations

from pydicom.dataset import Dataset

PER_FRAME = "PerFrameFunctionalGroupsSequence"
SHARED = "SharedFunctionalGroupsSequence"


def functional_item(dataset: Dataset, frame_index: int, sequence: str) -> Dataset | None:
    """The first item of a functional group macro for a frame (0-based): the per-frame item
    when the frame has one, else the shared one, else None."""
    for group, index in ((PER_FRAME, frame_index), (SHARED, 0)):
        groups = dataset.get(group)
        if groups and len(groups) > index and sequence in groups[index]:
            items = groups[index][sequence]
            if items:
                return items[0]
    return None


def functional_items(dataset: Dataset, frame_index: int, sequence: str) -> list[Dataset]:
    """Every item of a functional group macro for a frame (per-frame first, then shared)."""
    for group, index in ((PER_FRAME, frame_index), (SHARED, 0)):
        groups = dataset.get(group)
        if groups and len(groups) > index and sequence in groups[index]:
            return list(groups[index][sequence] or [])
    return []


def functional_value(dataset: Dataset, frame_index: int, sequence: str, keyword: str):
    """A keyword's value inside a frame's functional group macro, or None."""
    item = functional_item(dataset, frame_index, sequence)
    return item.get(keyword) if item is not None else None
