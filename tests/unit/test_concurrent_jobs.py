"""Independent actions run at the same time, results in order, a failure raised after all end."""

from __future__ import annotations

import threading

import pytest

from medspark.spark.concurrent_jobs import together


def test_actions_overlap_and_return_in_order():
    meeting = threading.Barrier(3, timeout=10)  # breaks unless all three wait at once

    def action(value):
        return lambda: (meeting.wait(), value)[1]

    assert together(action("a"), action("b"), action("c")) == ["a", "b", "c"]


def test_a_failure_is_raised_once_the_others_have_ended():
    ended = threading.Event()

    def slow():
        threading.Event().wait(0.2)
        ended.set()

    def failing():
        raise ValueError("planted")

    with pytest.raises(ValueError, match="planted"):
        together(failing, slow)
    assert ended.is_set()
