"""Which task reads which file: enough tasks, in whole rounds of the cores, each file placed by a
hash of its path into tasks that shrink towards the end, so the last round ends nearly together.

Per-file cost in a PACS export is uneven (a multi-frame cine or a frame read for burned-in text
costs seconds, a CT slice milliseconds); with equal tasks the core that draws the last heavy
task works on while the others wait. Tasks are scheduled in partition order, so later, smaller
tasks fill in around the earlier ones (guided self-scheduling, without a pass through Python:
the placement is a column expression and Spark's hash partitioner).
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

LARGEST_SHARE = 1.5  # the first task holds 1.5 times the mean, the last 0.5 times (linear)
_HASH_RANGE = 1 << 31
_SEED = 42  # Spark's HashPartitioning seed
_MASK = 0xFFFFFFFF


def balanced(listed: DataFrame, file_count: int, files_per_task: int) -> DataFrame:
    """`listed` (rows with a `path`) spread over `task_count` tasks of shrinking size."""
    cores = listed.sparkSession.sparkContext.defaultParallelism
    return spread(listed, task_count(file_count, files_per_task, cores))


def task_count(file_count: int, files_per_task: int, cores: int) -> int:
    """Tasks for `file_count` files, about `files_per_task` each on average, rounded up to a
    multiple of `cores`: a last round of fewer tasks than cores leaves cores idle while it runs
    (on two cores, 11 tasks of 190 files kept one idle for ~3 s of a 24 s pass)."""
    cores = max(cores, 1)
    wanted = max(math.ceil(file_count / max(files_per_task, 1)), 1)
    return math.ceil(wanted / cores) * cores


def spread(listed: DataFrame, tasks: int) -> DataFrame:
    """`listed` in `tasks` partitions: partition t holds the files whose path hashes into its
    share, the shares falling linearly from LARGEST_SHARE to 2 - LARGEST_SHARE times the mean.
    The same path always lands in the same task (retries see the same files)."""
    if tasks <= 1:
        return listed.repartition(1)
    keys = F.array(*(F.lit(key).cast("bigint") for key in partition_keys(tasks)))
    chosen = F.element_at(keys, task_of(F.col("path"), tasks) + 1)
    return listed.withColumn("_task", chosen).repartition(tasks, "_task").drop("_task")


def task_of(path: Column, tasks: int) -> Column:
    """The task (0 … tasks - 1) a path falls in: its hash as a fraction u of the range, and the
    task where the linearly falling shares add up to u (the inverse of their running sum)."""
    fraction = F.pmod(F.xxhash64(path), F.lit(_HASH_RANGE)) / float(_HASH_RANGE)
    top = LARGEST_SHARE
    slope = 2 * (top - 1)  # share(x) = top - slope * x over x in [0, 1] integrates to 1
    if slope == 0:
        place = fraction
    else:
        place = (F.lit(top) - F.sqrt(F.lit(top * top) - 2 * slope * fraction)) / slope
    return F.least(F.floor(place * tasks), F.lit(tasks - 1)).cast("int")


def partition_keys(tasks: int) -> list[int]:
    """For each partition t of `tasks`, the smallest non-negative long that Spark's hash
    partitioner sends to t (`pmod(hash(key), tasks)`), so `repartition(tasks, key)` places
    rows where their task says."""
    found: dict[int, int] = {}
    key = 0
    while len(found) < tasks:
        found.setdefault(spark_hash_long(key) % tasks, key)
        key += 1
    return [found[task] for task in range(tasks)]


def _rotate_left(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _MASK


def _mix_k1(k1: int) -> int:
    k1 = (k1 * 0xCC9E2D51) & _MASK
    return (_rotate_left(k1, 15) * 0x1B873593) & _MASK


def _mix_h1(h1: int, k1: int) -> int:
    h1 = _rotate_left(h1 ^ k1, 13)
    return (h1 * 5 + 0xE6546B64) & _MASK


def spark_hash_long(value: int, seed: int = _SEED) -> int:
    """Spark's `hash()` of a bigint (Murmur3 x86 32-bit over its two 32-bit halves), as a
    signed int."""
    h1 = _mix_h1(seed, _mix_k1(value & _MASK))
    h1 = _mix_h1(h1, _mix_k1((value >> 32) & _MASK))
    h1 ^= 8
    h1 ^= h1 >> 16
    h1 = (h1 * 0x85EBCA6B) & _MASK
    h1 ^= h1 >> 13
    h1 = (h1 * 0xC2B2AE35) & _MASK
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1
