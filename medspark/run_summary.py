"""The JSON run summary each job writes to OUT/runs/<run_id>.json, and the audit row it makes."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import platform
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pydicom

import medspark
from medspark import layout
from medspark.capabilities import Capability
from medspark.config import Settings
from medspark.dicom.deid import ACTION_TABLE_SOURCE, PROFILE_NAME
from medspark.dicom.keys import PseudonymKey
from medspark.storage import write_text


@dataclass(frozen=True)
class JobResult:
    """What a job run wrote: its id, its summary and where the summary is."""

    run_id: str
    summary: dict[str, Any]
    summary_uri: str

    @property
    def counts(self) -> dict[str, Any]:
        """The summary's counts."""
        return self.summary["counts"]


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random hex."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


@dataclass
class RunSummary:
    """Accumulates what a run did; written once at the end."""

    job: str
    run_id: str
    input_uri: str
    out_uri: str
    settings: Settings
    key_kind: str
    started_at: dt.datetime
    started_clock: float
    missing_capabilities: list[dict[str, str | None]] = field(default_factory=list)
    config_sha256: str = ""
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    finished_at: dt.datetime | None = None
    spark_version: str | None = None

    @classmethod
    def start(
        cls,
        job: str,
        run_id: str,
        input_root: str,
        out_uri: str,
        settings: Settings,
        key: PseudonymKey | None,
        missing: Sequence[Capability] = (),
    ) -> RunSummary:
        """A summary begun now; `input_root` as it may be shown, `missing` the capabilities
        the settings use that this installation lacks."""
        if key is None:
            kind = "none (de-identification off)"
        else:
            kind = "throwaway" if key.throwaway else key.origin.split(" ", 1)[0]
        return cls(
            job,
            run_id,
            input_root,
            out_uri,
            settings,
            kind,
            dt.datetime.now(dt.UTC),
            time.monotonic(),
            [{"capability": c.name, "missing": c.detail, "install": c.install} for c in missing],
            settings.fingerprint(),
        )

    def stage(self, name: str, began: float, **counts: Any) -> None:
        self.stages[name] = {"seconds": round(time.monotonic() - began, 3), **counts}

    def counts(self, **counts: Any) -> None:
        self.totals.update(counts)

    def as_dict(self) -> dict[str, Any]:
        finished = self.finished_at or dt.datetime.now(dt.UTC)
        deid = self.settings.deid
        return {
            "job": self.job,
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": finished.isoformat(),
            "duration_seconds": round((finished - self.started_at).total_seconds(), 3),
            "input_root": self.input_uri,
            "output_root": self.out_uri,
            "os_user": getpass.getuser(),
            "counts": self.totals,
            "stages": self.stages,
            "missing_capabilities": self.missing_capabilities,
            "deidentification": {
                "enabled": deid.enabled,
                "profile": PROFILE_NAME,
                "action_table": ACTION_TABLE_SOURCE,
                "key": self.key_kind,
                "paths_hashed": deid.hash_paths,
                "dates": deid.dates,
                "retain_patient_characteristics": deid.retain_patient_characteristics,
                "retain_device_identity": deid.retain_device_identity,
                "retain_uids": deid.retain_uids,
                "pixels": deid.pixels,
                "examine_pixels": deid.examine_pixels,
            },
            "config": {
                "source": self.settings.source,
                "sha256": self.config_sha256,
                "settings": self.settings.public_dict(),
            },
            "versions": {
                "medspark": medspark.__version__,
                "spark": self.spark_version,
                "pydicom": pydicom.__version__,
                "python": platform.python_version(),
            },
        }

    def finish(self, spark_version: str) -> str:
        """Stamp the end, write the summary and return its URI."""
        self.finished_at = dt.datetime.now(dt.UTC)
        self.spark_version = spark_version
        uri = layout.run_summary(self.out_uri, self.run_id)
        write_text(uri, json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n")
        return uri

    def audit_row(self, summary: dict[str, Any]) -> dict[str, Any]:
        """One row of OUT/audit for this run."""
        return {
            "run_id": self.run_id,
            "job": self.job,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "os_user": summary["os_user"],
            "input_root": self.input_uri,
            "output_root": self.out_uri,
            "counts_json": json.dumps(summary["counts"], sort_keys=True),
            "deid_json": json.dumps(summary["deidentification"], sort_keys=True),
            "config_source": self.settings.source,
            "config_sha256": self.config_sha256,
            "medspark_version": medspark.__version__,
            "spark_version": self.spark_version,
            "pydicom_version": pydicom.__version__,
        }
