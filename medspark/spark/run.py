"""A job's run as one value: the Spark session, settings, OUT, INPUT and key it works with, its
run id, its summary and the timing of its stages."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from medspark import sources
from medspark.capabilities import Capability, missing_for
from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.errors import UsageError
from medspark.run_summary import JobResult, RunSummary, new_run_id
from medspark.schemas import AUDIT
from medspark.spark.output.tables import append_rows

log = logging.getLogger("medspark.run")


@dataclass(frozen=True)
class Run:
    """What a job is given. A job calls `begin(name)` for its own run id and summary, times
    its steps with `stage`, and ends with `finish`, which writes the summary and its audit row."""

    spark: SparkSession
    settings: Settings
    out_uri: str
    input_uri: str | None = None
    key: PseudonymKey | None = None
    run_id: str | None = None  # None: each job begun draws a new one
    summary: RunSummary | None = dataclasses.field(default=None, repr=False, compare=False)
    source: sources.Source | None = dataclasses.field(default=None, repr=False, compare=False)
    """INPUT located (from `input_uri` when not given)."""
    missing: tuple[Capability, ...] | None = dataclasses.field(default=None, compare=False)
    """The capabilities the settings use that are not installed (found when not given)."""

    def __post_init__(self) -> None:
        if self.source is None and self.input_uri is not None:
            object.__setattr__(self, "source", sources.locate(self.input_uri))
        if self.missing is None:
            object.__setattr__(self, "missing", tuple(missing_for(self.settings)))

    def begin(self, job: str) -> Run:
        """This run as the job `job`, its summary started."""
        run_id = self.run_id or new_run_id()
        shown = self.source.public() if self.source is not None else self.out_uri
        summary = RunSummary.start(
            job, run_id, shown, self.out_uri, self.settings, self.key, self.missing or ()
        )
        return dataclasses.replace(self, run_id=run_id, summary=summary)

    @property
    def id(self) -> str:
        """The run id of a begun run."""
        return self._summary.run_id

    @property
    def input(self) -> sources.Source:
        """INPUT, for the jobs that read one."""
        if self.source is None:
            raise UsageError(f"{self._summary.job} reads an INPUT and none was given")
        return self.source

    @property
    def public_input(self) -> str:
        """INPUT (or OUT) as logs and summaries may show it: a DICOMweb query's values masked."""
        return self._summary.input_uri

    @property
    def _summary(self) -> RunSummary:
        if self.summary is None:
            raise RuntimeError("the run was not begun: call run.begin(job) first")
        return self.summary

    @contextmanager
    def stage(self, name: str, **counts: Any) -> Iterator[dict[str, Any]]:
        """Time the block as the summary's stage `name`; counts set in the yielded dict while
        it runs are recorded with it."""
        began = time.monotonic()
        recorded = dict(counts)
        yield recorded
        self._summary.stage(name, began, **recorded)
        shown = ", ".join(f"{k}={v}" for k, v in recorded.items() if not isinstance(v, dict))
        log.info("%s %s: %s in %.1f s", self._summary.job, name, shown, time.monotonic() - began)

    def count(self, **counts: Any) -> None:
        """Add to the summary's counts."""
        self._summary.counts(**counts)

    def finish(self) -> JobResult:
        """Write the summary to OUT/runs and its row to OUT/audit; return the job's result."""
        summary = self._summary
        uri = summary.finish(self.spark.version)
        written = summary.as_dict()
        append_rows(
            self.out_uri,
            AUDIT,
            [summary.audit_row(written)],
            f"run-{summary.run_id}.parquet",
            self.settings.deid.encryption,
        )
        return JobResult(summary.run_id, written, uri)
