"""The JSON run summary each job writes to OUT/runs/<run_id>.json."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import platform
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import pydicom

import medspark
from medspark.config import Settings
from medspark.dicom.deid import ACTION_TABLE_SOURCE, PROFILE_NAME
from medspark.dicom.keys import PseudonymKey
from medspark.storage import join_uri, write_text


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
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    finished_at: dt.datetime | None = None
    spark_version: str | None = None

    @classmethod
    def start(
        cls,
        job: str,
        run_id: str,
        input_uri: str,
        out_uri: str,
        settings: Settings,
        key: PseudonymKey | None,
    ) -> RunSummary:
        if key is None:
            kind = "none (de-identification off)"
        else:
            kind = "throwaway" if key.throwaway else key.origin.split(" ", 1)[0]
        return cls(
            job,
            run_id,
            input_uri,
            out_uri,
            settings,
            kind,
            dt.datetime.now(dt.UTC),
            time.monotonic(),
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
            "deidentification": {
                "enabled": deid.enabled,
                "profile": PROFILE_NAME,
                "action_table": ACTION_TABLE_SOURCE,
                "key": self.key_kind,
                "paths_hashed": deid.hash_paths,
            },
            "config": {
                "source": self.settings.source,
                "sha256": self.settings.fingerprint(),
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
        """Stamp the end, write the summary, and return where it went."""
        self.finished_at = dt.datetime.now(dt.UTC)
        self.spark_version = spark_version
        uri = join_uri(self.out_uri, "runs", f"{self.run_id}.json")
        write_text(uri, json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n")
        return uri
