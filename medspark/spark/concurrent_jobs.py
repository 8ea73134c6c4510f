"""Independent Spark actions submitted together from driver threads, so small jobs overlap their
scheduling instead of queueing one after another."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def together(*actions: Callable[[], Any]) -> list[Any]:
    """Each action's result, in order; the first failure is raised once all have ended."""
    with ThreadPoolExecutor(max_workers=max(len(actions), 1)) as pool:
        futures = [pool.submit(action) for action in actions]
    return [future.result() for future in futures]
