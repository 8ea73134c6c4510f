"""How listed files are spread over tasks."""

from __future__ import annotations

import pytest

from medspark.spark.catalog import task_count


@pytest.mark.parametrize(
    ("files", "per_task", "cores", "tasks"),
    [
        (2078, 200, 2, 12),  # 11 tasks' worth: a last round of one would leave a core idle
        (2000, 200, 2, 10),
        (2000, 200, 8, 16),
        (5, 200, 2, 2),  # every core gets a task
        (0, 200, 2, 2),
        (16_000, 200, 2, 80),
    ],
)
def test_tasks_come_in_whole_rounds_of_the_cores(files, per_task, cores, tasks):
    assert task_count(files, per_task, cores) == tasks
