"""Progress lines while workers count files through an accumulator."""

from __future__ import annotations

import logging
import time

import pytest

from medspark.spark.progress import StageProgress, progress_line

pytestmark = pytest.mark.spark


def test_progress_line_reads_like_a_sentence():
    assert progress_line("ingest", 50, 200, 10.0) == (
        "ingest: 50/200 files (25%), 5.0 files/s, ETA 30s"
    )
    assert progress_line("ingest", 200, 200, 100.0).endswith("2.0 files/s")


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_workers_counts_reach_the_log_at_a_bounded_rate(spark):
    progress = StageProgress(spark, "demo", 40, log_every=0.3, poll_every=0.05, terminal=False)
    counter = progress.counter

    def slow(rows):
        for row in rows:
            time.sleep(0.05)
            counter.add(1)
            yield row

    logger, handler = logging.getLogger("medspark.progress"), _Lines()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with progress:
            spark.sparkContext.parallelize(range(40), 8).mapPartitions(slow).count()
    finally:
        logger.removeHandler(handler)
    assert progress.done == 40
    lines = handler.lines
    assert lines and all(line.startswith("demo: ") and "/40 files" in line for line in lines)
    assert len(lines) == progress.lines_logged
    assert len(lines) <= 20  # the job takes well under 6 s: at most one line per 0.3 s


def test_a_terminal_gets_one_live_tqdm_line(spark, monkeypatch):
    import io
    import sys

    screen = io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)
    progress = StageProgress(spark, "demo", 12, poll_every=0.05, terminal=True)
    counter = progress.counter

    def count(rows):
        for row in rows:
            counter.add(1)
            yield row

    with progress:
        spark.sparkContext.parallelize(range(12), 4).mapPartitions(count).count()
    shown = screen.getvalue()
    assert "demo" in shown and "12/12" in shown and "file/s" in shown
    assert "\n" not in shown.strip("\n")  # redrawn in place with \r, not a line per update
