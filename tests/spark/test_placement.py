"""How listed files are spread over tasks."""

from __future__ import annotations

import pytest

from medspark.spark.placement import task_count


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


def test_the_partition_keys_follow_sparks_own_hash(spark):
    """The placement relies on knowing where Spark's hash partitioner sends a key."""
    from pyspark.sql import functions as F

    from medspark.spark.placement import partition_keys, spark_hash_long

    values = [*range(200), 2**31 - 1, 2**31, 2**40 + 17, 2**62]
    hashed = spark.createDataFrame([(v,) for v in values], "v bigint").select(
        "v", F.hash("v").alias("h")
    )
    assert {row["v"]: row["h"] for row in hashed.collect()} == {
        v: spark_hash_long(v) for v in values
    }
    for tasks in (2, 12, 80):
        keys = partition_keys(tasks)
        frame = spark.createDataFrame([(k,) for k in keys], "k bigint").repartition(tasks, "k")
        landed = frame.withColumn("p", F.spark_partition_id()).collect()
        assert sorted((row["p"], row["k"]) for row in landed) == list(enumerate(keys))


def test_each_file_lands_in_one_task_and_later_tasks_are_smaller(spark):
    from pyspark.sql import functions as F

    from medspark.spark.placement import spread

    paths = [f"/pacs/export/{n // 97:04d}/IM{n:06d}" for n in range(6000)]
    listed = spark.createDataFrame([(p,) for p in paths], "path string")
    placed = spread(listed, 12).withColumn("task", F.spark_partition_id())
    rows = placed.collect()
    assert sorted(row["path"] for row in rows) == sorted(paths)
    sizes = [0] * 12
    for row in rows:
        sizes[row["task"]] += 1
    assert sizes[0] > 1.3 * 500 and sizes[-1] < 0.7 * 500  # 1.5x and 0.5x the mean of 500
    assert sum(sizes[:6]) > sum(sizes[6:])
    again = {row["path"]: row["task"] for row in placed.collect()}
    assert again == {row["path"]: row["task"] for row in rows}
