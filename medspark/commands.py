"""The command table: for each `medspark` command its arguments, whether it needs the pseudonym
key, whether it takes OUT's lock, the stages it runs and what it prints."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medspark import layout
from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.errors import EXIT_OK, EXIT_QUARANTINED
from medspark.exports.compression import SYNTAX_NAMES


@dataclass
class Context:
    """What a command's stages get: the session, the parsed arguments, settings and key."""

    spark: Any
    args: argparse.Namespace
    settings: Settings
    key: PseudonymKey | None


@dataclass(frozen=True)
class Command:
    """One `medspark` command."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context], int | None]  # None: done, exit 0
    needs_key: Callable[[argparse.Namespace, Settings], bool]
    locks: bool = True
    # one-shot: writes the base tables (refuses an etl OUT); incremental: etl and compact
    # (refuse a one-shot OUT); derived: adds tables to either kind; reader: writes no table
    kind: str = "derived"


def _out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="output root for the Parquet tables and run summaries")


def _input_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="input root: a local folder or any Hadoop filesystem URI")
    _out(parser)


def _never(args: argparse.Namespace, settings: Settings) -> bool:
    return False


def _always(args: argparse.Namespace, settings: Settings) -> bool:
    return True


def _to_unseal_paths(args: argparse.Namespace, settings: Settings) -> bool:
    """Jobs that reopen files need the key when the metadata holds sealed paths."""
    return settings.deid.hash_paths


def _radiomics_key(args: argparse.Namespace, settings: Settings) -> bool:
    return settings.deid.hash_paths or settings.deid.enabled


def _print_result(result: Any, line: str, tables: str) -> None:
    print(f"{line}\n{tables}\nsummary: {result.summary_uri}")


def ingest_stage(context: Context) -> None:
    from medspark.spark.jobs.ingest import run_ingest

    out = context.args.out
    result = run_ingest(context.spark, context.settings, context.args.input, out, context.key)
    counts = result.summary["counts"]
    _print_result(
        result,
        f"ingest {result.run_id}: {counts['listed_files']} files -> "
        f"{counts['metadata']} metadata rows, {counts['quarantine']} quarantined "
        f"({counts['non_image_instances']} non-image instances)",
        f"tables: {out}/metadata, {out}/quarantine",
    )


def features_stage(context: Context) -> None:
    from medspark.spark.jobs.features import run_features

    out = context.args.out
    result = run_features(context.spark, context.settings, out, key=context.key)
    counts = result.summary["counts"]
    _print_result(
        result,
        f"features {result.run_id}: {counts['image_instances']} images -> "
        f"{counts['feature_rows']} feature rows, {counts['decode_quarantined']} not decodable, "
        f"{counts['non_image_instances_skipped']} non-image instances skipped, "
        f"{counts['held_back_burned_in']} held back (possible burned-in annotation); "
        f"burned-in text: {counts['frames_examined_for_text']} frames examined, "
        f"{counts['frames_with_text']} with text, {counts['frames_redacted']} redacted, "
        f"{counts['held_back_text_unchecked']} images held back unchecked",
        f"table: {out}/features",
    )


def single_pass_stage(context: Context) -> None:
    from medspark.spark.jobs.pipeline import run_single_pass

    args = context.args
    result = run_single_pass(context.spark, context.settings, args.input, args.out, context.key)
    counts = result.summary["counts"]
    decode = counts["decode_quarantined"]
    held_back = counts["held_back_text_unchecked"]
    _print_result(
        result,
        f"pipeline {result.run_id}: {counts['listed_files']} files read once -> "
        f"{counts['metadata']} metadata rows, {counts['quarantine'] - decode - held_back} "
        "quarantined "
        f"({counts['non_image_instances']} non-image instances); "
        f"{counts['image_instances']} images -> {counts['feature_rows']} feature rows, "
        f"{decode} not decodable, {counts['held_back_burned_in']} held back (possible burned-in "
        f"annotation); burned-in text: {counts['frames_examined_for_text']} frames examined, "
        f"{counts['frames_redacted']} redacted, {counts['held_back_text_unchecked']} images held "
        "back unchecked",
        f"tables: {args.out}/metadata, {args.out}/quarantine, {args.out}/features",
    )


def radiomics_stage(context: Context, only_if_regions: bool = False) -> None:
    from medspark.spark.jobs.radiomics import holds_regions, run_radiomics

    out = context.args.out
    if only_if_regions and not holds_regions(context.spark, out):
        return
    result = run_radiomics(context.spark, context.settings, out, context.key)
    counts = result.summary["counts"]
    _print_result(
        result,
        f"radiomics {result.run_id}: {counts['regions']} regions described, "
        f"{counts['quarantined']} set aside"
        + (f" ({counts['quarantined_by_reason']})" if counts["quarantined"] else ""),
        f"table: {out}/roi_features",
    )


def train_stage(context: Context, model_dir: str) -> None:
    from medspark.spark.jobs.classify import train_and_evaluate

    args, settings = context.args, context.settings
    result = train_and_evaluate(
        context.spark, settings, args.out, args.labels, model_dir, context.key
    )
    print(f"model {result.model_id} ({settings.model.classifier}) saved to {model_dir}")
    print(result.table)
    print(f"evaluation: {layout.metrics(args.out)}")


def predict_stage(context: Context, model_dir: str, levels: tuple[str, ...]) -> None:
    from medspark.spark.jobs.classify import predict

    encryption = context.settings.deid.encryption
    written = predict(context.spark, context.args.out, model_dir, levels, encryption)
    print("predictions: " + ", ".join(f"{k} {v} rows" for k, v in written.items()))


def report_stage(context: Context, show_paths: bool = False) -> None:
    from medspark.report.gather import gather
    from medspark.report.page import write_report

    page = write_report(gather(context.spark, context.args.out, show_paths=show_paths))
    print(f"report: {page}")


def _run_pipeline(context: Context) -> None:
    args = context.args
    single_pass_stage(context)
    radiomics_stage(context, only_if_regions=True)
    if getattr(args, "labels", None) is not None:
        model_dir = args.model or layout.default_model(args.out)
        train_stage(context, model_dir)
        predict_stage(context, model_dir, ("study", "patient"))
    report_stage(context)


def _run_train(context: Context) -> None:
    if context.args.kind == "cnn":
        cnn_stage(context, context.args.model)
    else:
        train_stage(context, context.args.model)


def cnn_stage(context: Context, model_dir: str) -> None:
    from medspark.spark.jobs.cnn import train_cnn

    args = context.args
    result = train_cnn(
        context.spark, context.settings, args.out, args.labels, model_dir, context.key,
        processes=args.processes,
    )  # fmt: skip
    print(f"model {result['model_id']} (cnn, {result['seconds']} s) saved to {model_dir}")
    print(result["table"])
    auc = result["model"].get("roc_auc")
    if result["mllib_auc"] is not None and auc is not None:
        patients = result["split"]["test_patients"]
        print(f"held-out ROC AUC on the same {patients} patients: cnn {auc:.4f}, "
              f"mllib {result['mllib_auc']:.4f}")  # fmt: skip
    if result.get("recommendation"):
        print(f"recommendation: {result['recommendation']}")
    print(f"evaluation: {layout.metrics(args.out, 'cnn')}")


def _run_predict(context: Context) -> None:
    levels = tuple(x for x in (context.args.aggregate or "").split(",") if x)
    predict_stage(context, context.args.model, levels)


def _run_export(context: Context) -> int | None:
    args = context.args
    if args.to:
        from medspark.spark.jobs.export import run_pacs_export

        counts = run_pacs_export(context.spark, context.settings, args.out, args.to, context.key,
                                 args.transfer_syntax, args.lossy, args.ae_title)  # fmt: skip
        print(f"export to {args.to}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return EXIT_QUARANTINED if counts.get("failed_instances") else EXIT_OK
    common = (context.spark, context.settings, args.out, args.destination, context.key)
    if args.format == "nifti":
        from medspark.spark.jobs.nifti_export import run_nifti_export

        counts = run_nifti_export(*common, layout=args.layout)
    elif args.format == "shards":
        from medspark.spark.jobs.shard_export import run_shard_export

        counts = run_shard_export(*common, labels=args.labels, shard_mb=args.shard_mb)
    else:
        from medspark.spark.jobs.export import run_export

        counts = run_export(*common, syntax=args.transfer_syntax, lossy=args.lossy)
    print(f"export to {args.destination}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return None


def _run_volumes(context: Context) -> None:
    from medspark.spark.jobs.volumes import run_volumes

    out = context.args.out
    result = run_volumes(context.spark, context.settings, out, context.key)
    statuses = result.summary["counts"]["by_status"]
    _print_result(
        result,
        f"volumes {result.run_id}: " + ", ".join(f"{v} {k}" for k, v in sorted(statuses.items())),
        f"table: {out}/volumes",
    )


def _run_register(context: Context) -> None:
    from medspark.spark.jobs.registration import run_registration

    args = context.args
    written = run_registration(
        context.spark, context.settings, args.out, args.fixed, args.moving, context.key
    )
    print(written.describe())


def _run_report(context: Context) -> None:
    report_stage(context, context.args.show_paths)


def _run_etl(context: Context) -> int:
    from medspark.spark.jobs.etl import run_etl

    args = context.args
    result = run_etl(context.spark, context.settings, args.input, args.out, context.key)
    counts = result.summary["counts"]
    batches = counts["batches"] + [{"batch": b} for b in counts["recovered_batches"]]
    print(
        f"etl {result.run_id}: {counts['new_or_changed']} new or changed files, "
        f"{counts['deferred']} still settling, {counts['quarantined']} quarantined, "
        f"batches {', '.join(str(b['batch']) for b in batches) or 'none'}"
        + (f" (recovered {counts['recovered_batches']})" if counts["recovered_batches"] else "")
        + f"\nsummary: {result.summary_uri}"
    )
    return EXIT_QUARANTINED if result.quarantined else EXIT_OK


def _run_compact(context: Context) -> None:
    from medspark.spark.jobs.compaction import compact

    report = compact(context.spark, context.settings, context.args.out)
    for name, table in report["tables"].items():
        print(
            f"{name}: {table['rows']} rows, {table['files_before']} -> "
            f"{table['files_after']} Parquet files"
        )


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    _out(parser)
    parser.add_argument("--labels", required=True, help="CSV or Parquet: a key column and label")
    parser.add_argument("--model", required=True, help="folder for the saved model")
    parser.add_argument(
        "--kind",
        choices=("mllib", "cnn"),
        default="mllib",
        help="the MLlib classifier on the feature columns (default), or a CNN on the "
        "preprocessed arrays (PyTorch, TorchDistributor; needs features.tensor)",
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="cnn: TorchDistributor processes (local mode)"
    )


def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    _out(parser)
    parser.add_argument("--model", required=True)
    parser.add_argument(
        "--aggregate", default="", help="also per study and/or patient: study,patient"
    )


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    _out(parser)
    parser.add_argument(
        "destination", nargs="?", help="a local or mounted folder all workers can write"
    )
    parser.add_argument(
        "--to",
        help="send to a PACS instead of DEST: dicomweb+http(s)://host/root (STOW-RS) or "
        "dimse://AE@host:port (C-STORE); DICOM format only",
    )
    parser.add_argument("--ae-title", default="MEDSPARK", help="--to dimse: this end's AE title")
    parser.add_argument(
        "--format",
        choices=("dicom", "nifti", "shards"),
        default="dicom",
        help="de-identified DICOM files (default), NIfTI volumes with label maps, or Parquet "
        "training shards of the preprocessed arrays",
    )
    parser.add_argument(
        "--transfer-syntax",
        choices=SYNTAX_NAMES,
        help="DICOM: re-encode the pixel data (each frame decoded again and compared first)",
    )
    parser.add_argument("--lossy", action="store_true", help="allow the lossy syntaxes")
    parser.add_argument(
        "--layout", choices=("folders", "nnunet"), default="folders", help="NIfTI: file layout"
    )
    parser.add_argument("--labels", help="shards: a labels file (as for train)")
    parser.add_argument("--shard-mb", type=int, default=256, help="shards: target shard size")


def _pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    _input_out(parser)
    parser.add_argument("--labels", help="train, evaluate and predict with these labels")
    parser.add_argument("--model", help="model folder (default OUT/model)")


def _etl_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="the landing folder PACS exports into")
    _out(parser)
    parser.add_argument(
        "--settle-seconds",
        type=float,
        help="leave files modified more recently than this for the next run (etl.settle_seconds)",
    )
    parser.add_argument(
        "--max-files",
        type=int,
        help="take at most this many (oldest first) per run, e.g. to back-fill in steps",
    )


def _register_arguments(parser: argparse.ArgumentParser) -> None:
    _out(parser)
    parser.add_argument("--fixed", required=True, help="series or SOP instance UID (as stored)")
    parser.add_argument("--moving", required=True, help="series or SOP instance UID (as stored)")


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    _out(parser)
    parser.add_argument(
        "--show-paths",
        action="store_true",
        help="name quarantined files by path and detail (operator's eyes only), not by hash",
    )


COMMANDS = (
    Command(
        "ingest",
        "DICOM tree -> metadata and quarantine tables",
        _input_out,
        ingest_stage,
        _always,
        kind="one-shot",
    ),
    Command(
        "features",
        "OUT/metadata -> OUT/features",
        _out,
        features_stage,
        _to_unseal_paths,
        kind="one-shot",
    ),
    Command(
        "train",
        "fit and evaluate a classifier on OUT/features",
        _train_arguments,
        _run_train,
        _always,
    ),
    Command(
        "predict", "apply a saved model: OUT/predictions", _predict_arguments, _run_predict, _never
    ),
    Command(
        "export",
        "de-identified DICOM files for sharing, from OUT/metadata",
        _export_arguments,
        _run_export,
        _always,
    ),
    Command(
        "pipeline",
        "ingest, features and (with --labels) train and predict, one Spark app",
        _pipeline_arguments,
        _run_pipeline,
        _always,
        kind="one-shot",
    ),
    Command(
        "etl",
        "scheduled incremental run: only new or changed files, exactly once",
        _etl_arguments,
        _run_etl,
        _always,
        kind="incremental",
    ),
    Command(
        "compact",
        "rewrite an etl output's many small files into few (superseded rows go)",
        _out,
        _run_compact,
        _never,
        kind="incremental",
    ),
    Command(
        "volumes", "OUT/metadata series -> OUT/volumes (3D)", _out, _run_volumes, _to_unseal_paths
    ),
    Command(
        "radiomics",
        "IBSI features of the SEG / RTSTRUCT regions in OUT/metadata -> OUT/roi_features",
        _out,
        radiomics_stage,
        _radiomics_key,
    ),
    Command(
        "register",
        "rigidly align two series (or two instances) and write a fusion PNG",
        _register_arguments,
        _run_register,
        _to_unseal_paths,
    ),
    Command(
        "report",
        "OUT/report/index.html: one self-contained page",
        _report_arguments,
        _run_report,
        _never,
        locks=False,  # reads only: it may run beside a job that holds the lock
        kind="reader",
    ),
)
BY_NAME = {command.name: command for command in COMMANDS}
