"""Typed settings, loaded from a YAML profile in conf/ and validated on load."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from importlib.abc import Traversable
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, Field

from medspark.dicom.sources import ArchiveLimits
from medspark.errors import ConfigurationError
from medspark.imaging.feature_groups import feature_prefixes
from medspark.imaging.options import FeatureSettings
from medspark.options import StrictOptions
from medspark.radiomics.options import RadiomicsSettings
from medspark.volume.options import VolumeSettings

PROFILE_NAMES = ("local", "cluster")


_Strict = StrictOptions


class SparkSettings(_Strict):
    """How the SparkSession is built."""

    master: str | None = Field(
        "local[2]", description="null: the master spark-submit or spark-defaults gives"
    )
    app_name: str = Field("medspark", description="the application's name in Spark's UI")
    defaults_file: str | None = Field(
        "spark-defaults.conf", description="Spark settings file, relative to the profile's folder"
    )
    settings: dict[str, str] = Field(
        default_factory=dict, description="further Spark settings, over the defaults file's"
    )


class IngestSettings(_Strict):
    """How input files are listed, read and parsed."""

    files_per_task: int = Field(
        200, ge=1, description="files a task takes (ingest, pipeline, etl): amortises its cost"
    )
    in_memory_limit_mb: int = Field(
        64, ge=1, description="files up to this size are read once into memory; larger stream"
    )
    bulk_data_threshold_bytes: int = Field(
        1024, ge=0, description="binary values longer than this become a bulk-data reference"
    )
    archive_member_limit_mb: int = Field(
        4096, ge=1, description="larger zip members are quarantined (zip-bomb guard)"
    )
    archive_inflated_limit_mb: int = Field(
        16384, ge=1, description="bytes one archive may inflate in all, nested ones included"
    )
    archive_max_depth: int = Field(2, ge=0, description="archives nested deeper are quarantined")
    max_value_bytes: int = Field(
        65536, ge=64, description="longer non-binary values become a bulk-data reference"
    )

    def archive_limits(self) -> ArchiveLimits:
        """The archive guards, for the stages that open or re-open archive members."""
        return ArchiveLimits(
            self.archive_member_limit_mb << 20,
            self.archive_max_depth,
            self.in_memory_limit_mb << 20,
            self.archive_inflated_limit_mb << 20,
        )


class CnnSettings(_Strict):
    """The CNN's training recipe (`train --kind cnn`), counted in optimiser steps of one global
    batch, so the same settings hold for any number of processes and any cohort size."""

    steps: int = Field(600, ge=1, description="optimiser steps at most (warm-up, cosine decay)")
    evaluate_every: int = Field(20, ge=1, description="steps between validation scores")
    patience: int = Field(240, ge=1, description="steps without a better validation loss")
    batch_size: int = Field(64, ge=2, description="images per step, over all processes")
    learning_rate: float = Field(2e-3, gt=0, description="peak learning rate (AdamW)")


class ModelSettings(_Strict):
    """How the classifier is trained and evaluated on the features table."""

    classifier: Literal[
        "logistic_regression",
        "linear_svm",
        "random_forest",
        "gradient_boosted_trees",
        "multilayer_perceptron",
    ] = Field("logistic_regression", description="the Spark ML classifier trained")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="share of patients held out")
    folds: int = Field(3, ge=2, description="cross-validation folds, grouped by patient")
    seed: int = Field(42, description="seeds the patient split, folds and models")
    class_weights: bool = Field(True, description="weight each class by n / (classes x n_class)")
    feature_prefixes: list[str] = Field(
        default_factory=feature_prefixes,
        description="columns the classifier uses, by prefix; default: every feature group's",
    )
    grid: dict[str, list[float | int]] = Field(
        default_factory=dict, description="override the parameter grid, e.g. {regParam: [0.1]}"
    )
    cnn: CnnSettings = Field(default_factory=CnnSettings)


class EncryptionSettings(_Strict):
    """Parquet modular encryption of every table's identifier columns (and any others named);
    master keys come from the environment (MEDSPARK_PARQUET_KEY_<NAME>, base64 of a
    16/24/32-byte AES key)."""

    enabled: bool = Field(False, description="encrypt identifier columns and footers")
    footer_key: str = Field("footer", description="the key of every file's footer")
    identifier_key: str = Field(
        "identifiers", description="the key of every table's identifier columns"
    )
    column_keys: dict[str, list[str]] = Field(
        default_factory=dict, description="further columns to encrypt, by key name"
    )


class DeidSettings(_Strict):
    """De-identification applied to every dataset before any column is derived."""

    enabled: bool = Field(True, description="false: raw headers in the tables (no pseudonyms)")
    key_env: str = Field(
        "MEDSPARK_PSEUDONYM_KEY", description="the variable holding the pseudonym key"
    )
    key_file: str | None = Field(None, description="or a file holding it")
    date_shift_max_days: int = Field(
        365, ge=0, description="a patient's dates move back by up to this many days"
    )
    dates: Literal["shift", "full", "remove"] = Field(
        "shift", description="shift (per patient), full (keep) or remove (Basic Profile)"
    )
    retain_patient_characteristics: bool = Field(False, description="keep sex, age, size, weight")
    retain_device_identity: bool = Field(False, description="keep station names, serial numbers")
    retain_uids: bool = Field(False, description="keep the original UIDs, not keyed 2.25 UIDs")
    pixels: Literal["detect_and_redact", "hold_back", "off"] = Field(
        "detect_and_redact",
        description="images that may carry burned-in text: examine and redact, hold back, or "
        "release unexamined",
    )
    examine_pixels: Literal["at_risk", "all"] = Field(
        "at_risk", description="which images detect_and_redact examines"
    )
    examine_max_frames: int = Field(
        16, ge=1, description="instances with more frames are held back, not examined"
    )
    text_confidence: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="recognition confidence from which a region the text detector outlines "
        "counts as text; below it, the region is recorded and left alone unless what was read "
        "matches the header, a date or a run of digits",
    )
    hash_paths: bool = Field(
        False, description="replace `path` in the operator tables with a keyed hash"
    )
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    keep_private_tags: list[str] = Field(
        default_factory=list, description='private tags kept, as "(gggg,eeee)"'
    )


class EtlSettings(_Strict):
    """The scheduled incremental run (`medspark etl`)."""

    settle_seconds: float = Field(
        60.0, ge=0, description="files modified more recently are left for the next run"
    )
    max_files_per_run: int = Field(
        0, ge=0, description="0: everything new; else the oldest N (for back-fills)"
    )
    compact_rows_per_file: int = Field(
        1_000_000, ge=1, description="target rows per Parquet file when compacting"
    )
    vacuum_retention_hours: int = Field(
        168,
        ge=0,
        description="compact deletes table files no Delta version younger than this holds",
    )


class Settings(_Strict):
    """Everything a medspark job reads from its profile."""

    spark: SparkSettings = Field(default_factory=SparkSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    deid: DeidSettings = Field(default_factory=DeidSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    volumes: VolumeSettings = Field(default_factory=VolumeSettings)
    radiomics: RadiomicsSettings = Field(default_factory=RadiomicsSettings)
    etl: EtlSettings = Field(default_factory=EtlSettings)
    source: str = "<defaults>"
    conf_dir: str | None = None

    def fingerprint(self) -> str:
        """A stable hash of the settings (never of any key), for run summaries and audits."""
        body = json.dumps(self.public_dict(), sort_keys=True).encode()
        return hashlib.sha256(body).hexdigest()

    def public_dict(self) -> dict[str, Any]:
        """The settings as plain data, safe to write into run summaries."""
        return self.model_dump(exclude={"source", "conf_dir"})


PACKAGED = "package:medspark/conf"


def default_conf_dir() -> Traversable:
    """The conf/ folder shipped inside the package (also inside a zipped wheel on executors)."""
    return files("medspark") / "conf"


def conf_file(settings: Settings, name: str) -> Traversable | None:
    """A file beside the profile the settings came from, if it exists."""
    if settings.conf_dir is None:
        return None
    folder = default_conf_dir() if settings.conf_dir == PACKAGED else Path(settings.conf_dir)
    candidate = folder / name
    return candidate if candidate.is_file() else None


class ProfileLoader(yaml.SafeLoader):
    """YAML as profiles are written: only true and false are booleans (YAML 1.2), so `off`,
    `on`, `yes` and `no` stay words where a setting takes them (`deid.pixels: off`); a boolean
    setting still reads them as yes and no."""


ProfileLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ProfileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def read_yaml(text: str) -> Any:
    """A profile's (or a `--set` value's) YAML as data."""
    return yaml.load(text, Loader=ProfileLoader)


def load_settings(profile: str = "local", conf_file: str | Path | None = None) -> Settings:
    """Load a named profile, or an explicit YAML file, into validated Settings."""
    if conf_file is not None:
        path = Path(conf_file)
        if not path.is_file():
            raise ConfigurationError(f"configuration file not found: {path}")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"configuration file cannot be read: {path} ({exc})") from None
        source, folder = str(path), str(path.resolve().parent)
    else:
        if profile not in PROFILE_NAMES:
            raise ConfigurationError(f"unknown profile {profile!r}; choose one of {PROFILE_NAMES}")
        resource = default_conf_dir() / f"{profile}.yaml"
        text, source, folder = resource.read_text(), f"{PACKAGED}/{profile}.yaml", PACKAGED
    try:
        raw = read_yaml(text) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ConfigurationError(f"{source}: not valid YAML{at}") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: expected a mapping at the top level")
    return Settings.model_validate({**raw, "source": source, "conf_dir": folder})


def with_overrides(settings: Settings, section: str, **values: Any) -> Settings:
    """The settings with some keys of one section replaced, validated like the file."""
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        return settings
    raw = settings.model_dump()
    raw[section] = {**raw[section], **given}
    return Settings.model_validate(raw)


def with_assignments(settings: Settings, assignments: Sequence[str]) -> Settings:
    """The settings with `section.key=value` assignments applied (values read as YAML, so
    `true`, `3`, `[1, 2]` and `null` have their types), validated like the file. Keys of a
    mapping setting take the rest of the name: `spark.settings.spark.executor.memory=4g`
    (a mapping of text keeps the value as written)."""
    raw = settings.model_dump()
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        if not equals or not name.strip():
            raise ConfigurationError(f"--set {assignment!r}: expected KEY=VALUE")
        _assign(raw, Settings, name.strip().split("."), text, name)
    return Settings.model_validate(raw)


def _parsed(text: str, name: str) -> Any:
    try:
        return read_yaml(text) if text.strip() else ""
    except yaml.YAMLError:
        raise ConfigurationError(f"--set {name}: {text!r} is not a YAML value") from None


def _assign(raw: dict[str, Any], model: type[BaseModel], parts: list[str], text: str, name: str):
    head, rest = parts[0], parts[1:]
    field = model.model_fields.get(head)
    if field is None or head in ("source", "conf_dir"):
        known = ", ".join(n for n in model.model_fields if n not in ("source", "conf_dir"))
        raise ConfigurationError(f"--set {name}: no setting {head!r} here (known: {known})")
    kind = field.annotation
    if not rest:
        raw[head] = _parsed(text, name)
    elif isinstance(kind, type) and issubclass(kind, BaseModel):
        _assign(raw.setdefault(head, {}), kind, rest, text, name)
    elif isinstance(raw.get(head), dict):
        textual = get_origin(kind) is dict and get_args(kind)[1] is str
        raw[head] = {**raw[head], ".".join(rest): text if textual else _parsed(text, name)}
    else:
        raise ConfigurationError(f"--set {name}: {head!r} has no keys to set")
