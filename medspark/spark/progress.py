"""Console progress of a long stage: files done of total, rate and ETA.

On a terminal it is one live tqdm line on stderr; otherwise (cron, CI, a log file) one log
line at most every `log_every` seconds, so logs are not flooded.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from types import TracebackType

from pyspark import Accumulator
from pyspark.sql import SparkSession

log = logging.getLogger("medspark.progress")


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def progress_line(stage: str, done: int, total: int, elapsed: float) -> str:
    """'stage: done/total files (p%), r files/s, ETA t' for a log."""
    rate = done / elapsed if elapsed > 0 else 0.0
    share = f" ({100 * done / total:.0f}%)" if total else ""
    eta = f", ETA {_duration((total - done) / rate)}" if rate > 0 and done < total else ""
    return f"{stage}: {done:,}/{total:,} files{share}, {rate:.1f} files/s{eta}"


class StageProgress:
    """Counts files through an accumulator the workers add to, and shows it while the stage runs.

    Use as a context manager; pass `counter` to the partition function. `total` may be set
    after construction, before entering.
    """

    def __init__(
        self,
        spark: SparkSession,
        stage: str,
        total: int = 0,
        *,
        log_every: float = 60.0,
        poll_every: float = 0.5,
        terminal: bool | None = None,
    ) -> None:
        self.stage = stage
        self.total = total
        self.counter: Accumulator[int] = spark.sparkContext.accumulator(0)
        self._log_every = log_every
        self._poll_every = poll_every
        self._terminal = sys.stderr.isatty() if terminal is None else terminal
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self.lines_logged = 0

    @property
    def done(self) -> int:
        return min(int(self.counter.value), self.total)

    def __enter__(self) -> StageProgress:
        self._started = time.monotonic()
        target = self._bar if self._terminal else self._log
        self._thread = threading.Thread(target=target, name=f"progress-{self.stage}", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:  # the last tasks' counts reach the driver a moment after the job
            settle = time.monotonic() + 2.0
            while self.done < self.total and time.monotonic() < settle:
                time.sleep(0.02)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _bar(self) -> None:
        from tqdm import tqdm

        with tqdm(
            total=self.total, desc=self.stage, unit="file", file=sys.stderr, leave=False
        ) as bar:
            while not self._stop.wait(self._poll_every):
                bar.update(self.done - bar.n)
            bar.update(self.done - bar.n)
            bar.refresh()

    def _log(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self._poll_every):
            now = time.monotonic()
            if now - last >= self._log_every:
                last = now
                self.lines_logged += 1
                log.info(progress_line(self.stage, self.done, self.total, now - self._started))
