"""The tables' contract: one Arrow schema each, declared once, with a version and a key.

The Spark layer converts these to Spark types; the pure core builds Arrow batches with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from medspark.imaging.feature_groups import Kind, columns_of_kind, group

IDENTIFIER_COLUMNS = (
    "patient_id",
    "study_instance_uid",
    "series_instance_uid",
    "sop_instance_uid",
    "frame_of_reference_uid",
    "segmentation_sop_instance_uid",
)


@dataclass(frozen=True)
class TableSpec:
    """A table's contract: name, schema version, key, Arrow schema, the columns it is
    partitioned by, the columns that identify patients or their studies (encrypted when
    column encryption is on) and its folder under OUT.

    `open_prefix` admits extra float columns named by the data (predictions'
    `probability_<class>`); `arrow_sidecar` writes the Arrow schema, with each field's
    metadata, as `_common_metadata` beside the files; `identifying` names further columns
    that identify (file names built from pseudonyms).
    """

    name: str
    version: int
    key: tuple[str, ...]
    schema: pa.Schema
    partitions: tuple[str, ...] = ()
    place: str = ""
    open_prefix: str | None = None
    arrow_sidecar: bool = False
    identifying: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.place:
            object.__setattr__(self, "place", self.name)
        missing = [c for c in (*self.key, *self.partitions) if c not in self.schema.names]
        if missing:
            raise ValueError(f"{self.name}: key or partition columns not in the schema: {missing}")

    @property
    def columns(self) -> list[str]:
        return self.schema.names

    @property
    def identifiers(self) -> tuple[str, ...]:
        """The columns that identify a patient, a study or an instance: the usual ones, and
        those the table names (`identifying`, e.g. a file name built from pseudonyms)."""
        return tuple(
            name
            for name in self.schema.names
            if name in IDENTIFIER_COLUMNS or name in self.identifying
        )


def _f(name: str, kind: pa.DataType, nullable: bool = True, doc: str = "") -> pa.Field:
    return pa.field(name, kind, nullable=nullable, metadata={"doc": doc} if doc else None)


_FILE_FIELDS = [
    _f("path", pa.string(), False, "input file URI; archive members as archive!/member"),
    _f("file_size", pa.int64(), True, "bytes in the file (or the inflated archive member)"),
    _f("sha256", pa.string(), True, "SHA-256 of the file's bytes, hex"),
]

_HEADER_FIELDS = [
    _f("sop_instance_uid", pa.string(), False, "the key; a keyed 2.25 UID unless UIDs are kept"),
    _f("sop_class_uid", pa.string()),
    _f("sop_class_name", pa.string()),
    _f("study_instance_uid", pa.string()),
    _f("series_instance_uid", pa.string()),
    _f("frame_of_reference_uid", pa.string()),
    _f("patient_id", pa.string(), True, "keyed pseudonym of PatientID"),
    _f("patient_sex", pa.string()),
    _f("patient_age_years", pa.float64()),
    _f("modality", pa.string()),
    _f("study_date", pa.date32(), True, "shifted per patient unless dates are kept"),
    _f("series_date", pa.date32()),
    _f("content_date", pa.date32()),
    _f("body_part_examined", pa.string()),
    _f("manufacturer", pa.string()),
    _f("manufacturer_model_name", pa.string()),
    _f("series_number", pa.int64()),
    _f("instance_number", pa.int64()),
    _f("rows", pa.int32()),
    _f("columns", pa.int32()),
    _f("number_of_frames", pa.int32()),
    _f("samples_per_pixel", pa.int32()),
    _f("bits_allocated", pa.int32()),
    _f("bits_stored", pa.int32()),
    _f("pixel_representation", pa.int32()),
    _f("photometric_interpretation", pa.string()),
    _f("pixel_spacing", pa.list_(pa.float64()), True, "[row, column] spacing in mm"),
    _f("slice_thickness", pa.float64()),
    _f("image_position_patient", pa.list_(pa.float64())),
    _f("image_orientation_patient", pa.list_(pa.float64())),
    _f("rescale_slope", pa.float64()),
    _f("rescale_intercept", pa.float64()),
    _f("window_center", pa.float64()),
    _f("window_width", pa.float64()),
    _f("burned_in_annotation", pa.string()),
    _f("specific_character_set", pa.string()),
]

_INSTANCE_FIELDS = [
    _f("transfer_syntax_uid", pa.string()),
    _f("transfer_syntax_inferred", pa.bool_(), True, "true when the file meta did not name it"),
    _f("has_pixel_data", pa.bool_()),
    _f("pixel_data_offset", pa.int64(), True, "byte offset of the pixel data value in the file"),
    _f("pixel_data_length", pa.int64(), True, "declared length; null when encapsulated"),
    _f("pixel_data_encapsulated", pa.bool_()),
    _f("path_token", pa.string(), True, "the path sealed with the key, when paths are hashed"),
    _f("burned_in_risk", pa.bool_(), True, "BurnedInAnnotation YES, or unknown for a risky class"),
    _f("private_tags_removed", pa.int32()),
    _f("had_overlays", pa.bool_()),
    _f("had_curves", pa.bool_()),
    _f("header_warnings", pa.int32(), True, "warnings pydicom raised reading the header"),
    _f("oversized_values", pa.int32(), True, "values over ingest.max_value_bytes, left out"),
    _f("header_json", pa.string(), True, "de-identified header, DICOM JSON model (PS3.18 F)"),
]

_RUN_FIELDS = [
    _f("run_id", pa.string(), False),
    _f("processed_at", pa.timestamp("us", tz="UTC"), False),
]

METADATA = TableSpec(
    "metadata",
    2,
    ("sop_instance_uid",),
    pa.schema(_FILE_FIELDS + _HEADER_FIELDS + _INSTANCE_FIELDS + _RUN_FIELDS),
    identifying=("header_json",),  # the de-identified header repeats every identifier
)

QUARANTINE = TableSpec(
    "quarantine",
    1,
    ("path",),
    pa.schema(
        [
            *_FILE_FIELDS,
            _f("stage", pa.string(), False, "catalog, archive, header, deduplicate, decode"),
            _f("reason", pa.string(), False, "stable short code"),
            _f("detail", pa.string(), True, "a sentence for people"),
            *_RUN_FIELDS,
        ]
    ),
    partitions=("stage",),
)

# What the per-file core emits: every metadata column, plus the quarantine columns; the Spark
# layer splits it into the two tables.
INSPECTION = pa.schema(
    [
        *(field.with_nullable(True) for field in METADATA.schema),
        _f("outcome", pa.string(), False, "metadata or quarantine"),
        _f("stage", pa.string()),
        _f("reason", pa.string()),
        _f("detail", pa.string()),
    ]
)

FIRST_ORDER_COLUMNS = tuple(c.name for c in group("first_order").columns)
_TYPES = {"measure": pa.float64(), "count": pa.int32(), "bytes": pa.binary()}


def _group_fields(kind: Kind) -> list[pa.Field]:
    """The feature groups' columns of one kind, typed."""
    return [_f(c.name, _TYPES[kind], True, c.description) for c in columns_of_kind(kind)]


FEATURES = TableSpec(
    "features",
    2,
    ("sop_instance_uid", "frame"),
    pa.schema(
        [
            _f("sop_instance_uid", pa.string(), False),
            _f("frame", pa.int32(), False, "1-based frame number within the instance"),
            _f("series_instance_uid", pa.string()),
            _f("study_instance_uid", pa.string()),
            _f("patient_id", pa.string()),
            _f("modality", pa.string()),
            _f("intensity_unit", pa.string(), True, "HU, the Rescale Type, or stored"),
            _f("window", pa.string(), True, "how the display image was windowed"),
            _f("preprocessing", pa.string(), True, "the steps applied, as JSON"),
            _f("mask", pa.string(), True, "otsu, whole, or whole (no foreground found)"),
            _f("height", pa.int32()),
            _f("width", pa.int32()),
            _f("pixel_spacing_mm", pa.list_(pa.float64()), True, "after preprocessing"),
            *_group_fields("measure"),
            *_group_fields("count"),
            _f("pixels_examined", pa.bool_(), True, "searched for burned-in text"),
            _f("pixel_text_boxes", pa.int32(), True, "regions read as text"),
            _f(
                "pixel_text_regions",
                pa.list_(pa.list_(pa.float64())),
                True,
                "[x0, y0, x1, y1, score] of every region the text detector outlined, text or "
                "not (score: the recogniser's confidence)",
            ),
            _f("pixel_phi_boxes", pa.int32(), True, "boxes judged PHI (or unreadable), redacted"),
            _f("pixel_phi_kinds", pa.list_(pa.string()), True, "attribute kinds matched"),
            _f(
                "pixel_redactions",
                pa.list_(pa.list_(pa.int32())),
                True,
                "[x0, y0, x1, y1] boxes filled, in stored-pixel coordinates",
            ),
            *_group_fields("bytes"),
            *_RUN_FIELDS,
        ]
    ),
)

FEATURE_RECORDS = pa.schema(
    [
        *(field.with_nullable(True) for field in FEATURES.schema),
        *(
            field.with_nullable(True)
            for field in QUARANTINE.schema
            if field.name not in FEATURES.schema.names
        ),
        _f("outcome", pa.string(), False, "features or quarantine"),
    ]
)

# What the single-pass core emits (pipeline, etl): each file's inspection records and, after
# each metadata row, its feature records, in one stream; the Spark layer splits it into tables.
SINGLE_PASS_RECORDS = pa.schema(
    [*INSPECTION, *(field for field in FEATURE_RECORDS if field.name not in INSPECTION.names)]
)

# What each task of a pass that writes its own table files returns for every record: enough to
# write the quarantine table, resolve duplicates, count, and name the file holding the row.
PASS_LEDGER = pa.schema(
    [
        *(
            SINGLE_PASS_RECORDS.field(name)
            for name in (
                *QUARANTINE.columns,
                "outcome",
                "sop_instance_uid",
                "modality",
                "has_pixel_data",
                "burned_in_risk",
                "pixels_examined",
                "pixel_text_boxes",
                "pixel_phi_boxes",
            )
        ),
        _f(
            "accounts_file",
            pa.bool_(),
            False,
            "its file's first metadata or quarantine record",
        ),
        _f("first_frame", pa.bool_(), False, "the first feature row of its instance"),
        _f("part", pa.string(), True, "the file the task wrote the row to, relative to its table"),
        _f("part_row", pa.int64(), True, "the row's 0-based place in that file"),
    ]
)

VOLUMES = TableSpec(
    "volumes",
    1,
    ("series_instance_uid",),
    pa.schema(
        [
            _f("series_instance_uid", pa.string(), False),
            _f("study_instance_uid", pa.string()),
            _f("patient_id", pa.string()),
            _f("frame_of_reference_uid", pa.string()),
            _f("modality", pa.string()),
            _f("status", pa.string(), False, "built, single_image, too_large or rejected"),
            _f("problems", pa.list_(pa.string()), True, "what the checks found; not fatal"),
            _f("n_instances", pa.int32()),
            _f("n_slices", pa.int32(), True, "after interpolating missing slices"),
            _f("dimensions", pa.list_(pa.int32()), True, "[slices, rows, columns]"),
            _f("spacing_mm", pa.list_(pa.float64()), True, "[slice, row, column]"),
            _f("orientation", pa.list_(pa.float64()), True, "ImageOrientationPatient"),
            _f("slice_normal", pa.list_(pa.float64())),
            _f("origin_mm", pa.list_(pa.float64()), True, "position of the first slice"),
            _f("missing_slices", pa.int32()),
            _f("gap_positions_mm", pa.list_(pa.float64()), True, "where along the normal"),
            _f("spacing_irregular", pa.bool_()),
            _f("interpolated_slices", pa.int32()),
            _f("intensity_unit", pa.string(), True, "HU, the Rescale Type, dose units or stored"),
            *(_f(name, pa.float64()) for name in FIRST_ORDER_COLUMNS),
            _f("region_rule", pa.string()),
            _f("region_threshold", pa.float64()),
            _f("region_voxels", pa.int64()),
            _f("region_volume_mm3", pa.float64(), True, "segmented region, in cubic mm"),
            _f("axial_png", pa.binary()),
            _f("coronal_png", pa.binary()),
            _f("sagittal_png", pa.binary()),
            _f("mip_png", pa.binary(), True, "maximum-intensity projection along the normal"),
            *_RUN_FIELDS,
        ]
    ),
)


def _roi_features() -> TableSpec:
    from medspark.radiomics.catalogue import feature_fields
    from medspark.radiomics.filters.columns import filter_fields

    return TableSpec(
        "roi_features",
        2,
        (
            "segmentation_sop_instance_uid",
            "series_instance_uid",
            "roi_number",
            "aggregation",
            "image_filter",
        ),
        pa.schema(
            [
                _f("segmentation_sop_instance_uid", pa.string(), True, "the SEG or RTSTRUCT"),
                _f("roi_number", pa.int32(), False, "segment or ROI number; 0 for otsu"),
                _f("roi_label", pa.string(), True, "segment label or ROI name, de-identified"),
                _f("roi_source", pa.string(), False, "seg, rtstruct or otsu"),
                _f("series_instance_uid", pa.string(), False, "the image series described"),
                _f("study_instance_uid", pa.string()),
                _f("patient_id", pa.string()),
                _f("modality", pa.string()),
                _f("aggregation", pa.string(), False, "IBSI aggregation; 3d for families without"),
                *filter_fields(),
                _f("voxel_count", pa.int64(), False, "voxels of the region after resampling"),
                _f("volume_mm3", pa.float64(), False, "voxel count x voxel volume"),
                _f("intensity_voxel_count", pa.int64(), False, "voxels after re-segmentation"),
                _f("grey_levels", pa.int32(), False, "number of discretised grey levels"),
                _f("resample_mm", pa.list_(pa.float64()), True, "[x, y, z]; null: image grid"),
                _f("interpolation", pa.string(), True, "nearest, linear or cubic (B-spline)"),
                _f("mask_threshold", pa.float64(), True, "partial volume a resampled voxel keeps"),
                _f("intensities_rounded", pa.bool_(), False, "rounded to integers (CT: HU)"),
                _f("resegment_low", pa.float64()),
                _f("resegment_high", pa.float64()),
                _f("resegment_outliers_sd", pa.float64(), True, "k of mean +- k SD"),
                _f("discretisation", pa.string(), False, "fixed_bin_number or fixed_bin_width"),
                _f("bins", pa.int32()),
                _f("bin_width", pa.float64()),
                _f("lower_bound", pa.float64(), True, "first bin's lower edge; null: ROI min"),
                _f("ivh_discretisation", pa.string(), False, "texture, none, fixed_bin_*"),
                _f("ivh_bins", pa.int32()),
                _f("ivh_bin_width", pa.float64()),
                _f("glcm_distance", pa.int32(), False),
                _f("problems", pa.list_(pa.string()), True, "what the series build noted"),
                _f("overlay_png", pa.binary(), True, "outline on the largest slice (3d row)"),
                *feature_fields(),
                *_RUN_FIELDS,
            ]
        ),
        arrow_sidecar=True,
    )


ROI_FEATURES = _roi_features()

AUDIT = TableSpec(
    "audit",
    1,
    ("run_id",),
    pa.schema(
        [
            _f("run_id", pa.string(), False),
            _f("job", pa.string(), False, "ingest, features, ..."),
            _f("started_at", pa.timestamp("us", tz="UTC"), False),
            _f("finished_at", pa.timestamp("us", tz="UTC"), False),
            _f("os_user", pa.string()),
            _f("input_root", pa.string()),
            _f("output_root", pa.string()),
            _f("counts_json", pa.string(), True, "the run summary's counts"),
            _f("deid_json", pa.string(), True, "profile, action table, options; never the key"),
            _f("config_source", pa.string()),
            _f("config_sha256", pa.string()),
            _f("medspark_version", pa.string()),
            _f("spark_version", pa.string()),
            _f("pydicom_version", pa.string()),
        ]
    ),
)

_PREDICTION_FIELDS = [
    _f("prediction", pa.string(), False, "the class with the highest mean score"),
    _f("confidence", pa.float64(), False, "the predicted class's probability"),
    _f("class_scores", pa.list_(pa.float64()), False, "every class's probability, class order"),
]


def _predictions(level: str, key: str, extra: list[pa.Field]) -> TableSpec:
    return TableSpec(
        f"predictions_{level}" if level else "predictions",
        2,
        (key,),
        pa.schema([*extra, *_PREDICTION_FIELDS, _f("model_id", pa.string(), False)]),
        open_prefix="probability_",
    )


PREDICTIONS = _predictions(
    "",
    "sop_instance_uid",
    [
        _f("sop_instance_uid", pa.string(), False),
        _f("frame", pa.int32(), False),
        _f("series_instance_uid", pa.string()),
        _f("study_instance_uid", pa.string()),
        _f("patient_id", pa.string()),
    ],
)
PREDICTIONS_STUDY = _predictions(
    "study",
    "study_instance_uid",
    [_f("study_instance_uid", pa.string()), _f("frames", pa.int64(), False)],
)
PREDICTIONS_PATIENT = _predictions(
    "patient", "patient_id", [_f("patient_id", pa.string()), _f("frames", pa.int64(), False)]
)
PREDICTION_LEVELS = {"study": PREDICTIONS_STUDY, "patient": PREDICTIONS_PATIENT}

EXPORTS = TableSpec(
    "exports",
    3,
    ("sop_instance_uid",),
    pa.schema(
        [
            _f("sop_instance_uid", pa.string()),
            _f("file", pa.string(), True, "path under DEST, named by pseudonyms and UIDs"),
            _f("file_size", pa.int64()),
            _f("sha256", pa.string()),
            _f("pixels_cleaned", pa.bool_(), True, "burned-in text redacted in the pixels"),
            _f("transfer_syntax_uid", pa.string(), True, "as written"),
            _f("pixel_bytes_before", pa.int64(), True, "pixel data bytes before re-encoding"),
            _f("pixel_bytes_after", pa.int64(), True, "pixel data bytes as written"),
            _f("reencode_note", pa.string(), True, "why the original encoding was kept"),
            _f("status", pa.string(), True, "exported or failed"),
            _f("reason", pa.string()),
            _f("answer", pa.string(), True, "what a PACS destination said of the instance"),
            _f("run_id", pa.string()),
            _f("exported_at", pa.timestamp("us", tz="UTC")),
        ]
    ),
    identifying=("file",),
)

SEEN = TableSpec(
    "seen",
    1,
    ("path", "batch"),
    pa.schema(
        [
            _f("path", pa.string(), False, "input file key, as listed"),
            _f("length", pa.int64(), False),
            _f("modificationTime", pa.int64()),
            _f("problem", pa.string(), True, "what the listing found odd, if anything"),
            _f("detail", pa.string()),
            _f("batch", pa.int32(), False, "the etl batch that processed it"),
        ]
    ),
    partitions=("batch",),
    place="_etl/seen",
)
PLAN = TableSpec(
    "plan", 1, ("path",), pa.schema([f for f in SEEN.schema if f.name != "batch"]), place="_etl"
)

NIFTI_EXPORTS = TableSpec(
    "exports_nifti",
    1,
    ("series_instance_uid", "kind"),
    pa.schema(
        [
            _f("series_instance_uid", pa.string()),
            _f("study_instance_uid", pa.string()),
            _f("patient_id", pa.string()),
            _f("modality", pa.string()),
            _f("kind", pa.string(), True, "image, labels or sidecar"),
            _f("file", pa.string(), True, "path under DEST"),
            _f("file_size", pa.int64()),
            _f("sha256", pa.string()),
            _f("shape", pa.list_(pa.int32()), True, "[i, j, k] = [columns, rows, slices]"),
            _f("spacing_mm", pa.list_(pa.float64()), True, "[column, row, slice] spacing"),
            _f("labels", pa.list_(pa.string()), True, "label 1, 2, ... names (label maps)"),
            _f("label_voxels", pa.list_(pa.int64()), True, "voxels of each label"),
            _f("status", pa.string(), True, "exported or skipped"),
            _f("reason", pa.string(), True, "why a series or region object was left out"),
            _f("detail", pa.string()),
            _f("run_id", pa.string()),
            _f("exported_at", pa.timestamp("us", tz="UTC")),
        ]
    ),
    identifying=("file",),
)

SHARDS = TableSpec(
    "shards",
    1,
    ("sop_instance_uid", "frame"),
    pa.schema(
        [
            _f("sop_instance_uid", pa.string(), False),
            _f("frame", pa.int32(), False),
            _f("series_instance_uid", pa.string()),
            _f("study_instance_uid", pa.string()),
            _f("patient_id", pa.string()),
            _f("modality", pa.string()),
            _f("height", pa.int32()),
            _f("width", pa.int32()),
            _f("tensor_npz", pa.binary(), False, "the preprocessed values, .npz key 'values'"),
            _f("label", pa.string(), True, "with --labels"),
            _f("split", pa.string(), False, "train, validation or test, by patient"),
        ]
    ),
    partitions=("split",),
)
