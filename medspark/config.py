"""Typed settings, loaded from a YAML profile in conf/ and validated on load."""

from __future__ import annotations

import hashlib
import json
from importlib.abc import Traversable
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from medspark.imaging.intensity import WINDOW_PRESETS
from medspark.imaging.preprocess import Step

PROFILE_NAMES = ("local", "cluster")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkSettings(_Strict):
    """How the SparkSession is built."""

    master: str | None = "local[2]"
    app_name: str = "medspark"
    defaults_file: str | None = "spark-defaults.conf"
    settings: dict[str, str] = Field(default_factory=dict)


class IngestSettings(_Strict):
    """How input files are listed, read and parsed."""

    files_per_task: int = Field(200, ge=1)
    in_memory_limit_mb: int = Field(64, ge=1)
    bulk_data_threshold_bytes: int = Field(1024, ge=0)
    archive_member_limit_mb: int = Field(4096, ge=1)
    archive_inflated_limit_mb: int = Field(
        16384, ge=1, description="bytes one archive may inflate in all, nested ones included"
    )
    archive_max_depth: int = Field(2, ge=0)
    max_value_bytes: int = Field(
        65536, ge=64, description="longer non-binary values become a bulk-data reference"
    )


class FeatureSettings(_Strict):
    """How images are decoded, preprocessed and described."""

    files_per_task: int = Field(50, ge=1)
    max_decoded_frame_mb: int = Field(256, ge=1, description="larger frames are not decoded")
    max_decoded_instance_mb: int = Field(
        4096, ge=1, description="instances whose frames decode to more are not decoded"
    )
    frames: Literal["all", "first", "middle"] = "all"
    max_frames: int = Field(0, ge=0, description="0: no limit; else an evenly spaced subset")
    window: str | tuple[float, float] = "header"
    preprocess: list[Step] = Field(default_factory=list)
    mask: Literal["otsu", "whole"] = "otsu"
    bins: int = Field(32, ge=2, le=4096)
    bin_width: float | None = Field(
        None, gt=0, description="fixed bin width in the values' units; overrides bins"
    )
    bin_lower_bound: float = Field(
        -1000.0, description="where bin 1 of a fixed bin width starts, the same in every image"
    )
    glcm_distance: int = Field(1, ge=1)
    texture: bool = True
    keypoints: bool = True
    watershed: bool = False
    thumbnail: bool = True
    thumbnail_size: int = Field(128, ge=16)
    tensor: bool = False

    @field_validator("window")
    @classmethod
    def _known_window(cls, value: str | tuple[float, float]) -> str | tuple[float, float]:
        if isinstance(value, str) and value not in ("header", "none", *WINDOW_PRESETS):
            raise ValueError(
                f"window must be header, none, [center, width] or one of {sorted(WINDOW_PRESETS)}"
            )
        return value


class ModelSettings(_Strict):
    """How the classifier is trained and evaluated on the features table."""

    classifier: Literal[
        "logistic_regression",
        "linear_svm",
        "random_forest",
        "gradient_boosted_trees",
        "multilayer_perceptron",
    ] = "logistic_regression"
    test_fraction: float = Field(0.25, gt=0, lt=1, description="share of patients held out")
    folds: int = Field(3, ge=2, description="cross-validation folds, grouped by patient")
    seed: int = 42
    class_weights: bool = True
    feature_prefixes: list[str] = Field(
        default_factory=lambda: ["fo_", "glcm_", "shape_", "edge_", "kp_", "hu_"]
    )
    grid: dict[str, list[float | int]] = Field(
        default_factory=dict, description="override the parameter grid, e.g. {regParam: [0.1]}"
    )


class EncryptionSettings(_Strict):
    """Parquet modular encryption of chosen columns; master keys come from the environment
    (MEDSPARK_PARQUET_KEY_<NAME>, base64 of a 16/24/32-byte AES key)."""

    enabled: bool = False
    footer_key: str = "footer"
    column_keys: dict[str, list[str]] = Field(
        default_factory=lambda: {"identifiers": ["patient_id", "study_instance_uid"]}
    )


class DeidSettings(_Strict):
    """De-identification applied to every dataset before any column is derived."""

    enabled: bool = True
    key_env: str = "MEDSPARK_PSEUDONYM_KEY"
    key_file: str | None = None
    date_shift_max_days: int = Field(365, ge=0)
    dates: Literal["shift", "full", "remove"] = "shift"
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_uids: bool = False
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
    hash_paths: bool = False
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    keep_private_tags: list[str] = Field(default_factory=list)


class VolumeSettings(_Strict):
    """How series become volumes (`medspark volumes`)."""

    region: Literal["otsu"] | list[float] = Field(
        "otsu", description="otsu, or [low, high] in the volume's units, e.g. [-500, 3000] HU"
    )
    largest_component: bool = True
    window: str | list[float] = "header"
    thumbnail_size: int = Field(192, ge=16)
    bins: int = Field(32, ge=2, le=4096)
    max_voxels: int = Field(200_000_000, ge=1)
    gap_factor: float = Field(1.5, gt=1.0, description="a step this many spacings is a gap")
    spacing_tolerance: float = Field(0.01, gt=0, description="relative spacing deviation")


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


RoiSource = Literal["seg", "rtstruct", "otsu"]
Aggregation = Literal[
    "2d_averaged",
    "2d_slice_merged",
    "2.5d_direction_merged",
    "2.5d_merged",
    "3d_averaged",
    "3d_merged",
]
FamilyKey = Literal[
    "morphology",
    "local_intensity",
    "statistics",
    "histogram",
    "ivh",
    "glcm",
    "glrlm",
    "glszm",
    "gldzm",
    "ngtdm",
    "ngldm",
]


class Discretisation(_Strict):
    """IBSI 2.7: a fixed number of bins over the region's range, or bins of a fixed width that
    start at `lower_bound` (the re-segmentation minimum when unset, else the region minimum)."""

    method: Literal["fixed_bin_number", "fixed_bin_width"] = "fixed_bin_number"
    bins: int = Field(32, ge=2, le=4096)
    bin_width: float | None = Field(None, gt=0)
    lower_bound: float | None = None

    @model_validator(mode="after")
    def _width_given(self) -> Discretisation:
        if self.method == "fixed_bin_width" and self.bin_width is None:
            raise ValueError("fixed_bin_width needs bin_width")
        return self


class RadiomicsSettings(_Strict):
    """Which regions are described and how (`medspark radiomics`)."""

    roi_sources: list[RoiSource] = Field(default_factory=lambda: ["seg", "rtstruct"])
    families: list[FamilyKey] = Field(default_factory=lambda: list(FamilyKey.__args__))
    aggregation: list[Aggregation] = Field(
        default_factory=lambda: ["2d_averaged", "3d_averaged", "3d_merged"]
    )
    resample_mm: tuple[float, float, float] | None = Field(
        None, description="[x, y, z] spacing in mm; null keeps the image grid"
    )
    interpolation: Literal["linear", "nearest"] = "linear"
    resegment: tuple[float, float] | None = Field(
        None, description="[low, high] in the image's units; voxels outside leave the region"
    )
    discretisation: Discretisation = Field(default_factory=Discretisation)
    glcm_distance: int = Field(1, ge=1, le=16)
    max_region_voxels: int = Field(20_000_000, ge=1)

    @field_validator("resample_mm")
    @classmethod
    def _positive_spacing(cls, value):
        if value is not None and min(value) <= 0:
            raise ValueError("resample_mm must be positive")
        return value

    @field_validator("resegment")
    @classmethod
    def _ordered_range(cls, value):
        if value is not None and value[0] >= value[1]:
            raise ValueError("resegment must be [low, high] with low < high")
        return value


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


def load_settings(profile: str = "local", conf_file: str | Path | None = None) -> Settings:
    """Load a named profile, or an explicit YAML file, into validated Settings."""
    if conf_file is not None:
        path = Path(conf_file)
        if not path.is_file():
            raise FileNotFoundError(f"configuration file not found: {path}")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"configuration file cannot be read: {path} ({exc})") from None
        source, folder = str(path), str(path.resolve().parent)
    else:
        if profile not in PROFILE_NAMES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILE_NAMES}")
        resource = default_conf_dir() / f"{profile}.yaml"
        text, source, folder = resource.read_text(), f"{PACKAGED}/{profile}.yaml", PACKAGED
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ValueError(f"{source}: not valid YAML{at}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    return Settings.model_validate({**raw, "source": source, "conf_dir": folder})


def with_overrides(settings: Settings, section: str, **values: Any) -> Settings:
    """The settings with some keys of one section replaced, validated like the file."""
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        return settings
    raw = settings.model_dump()
    raw[section] = {**raw[section], **given}
    return Settings.model_validate(raw)
