"""The command table, read by the `medspark` command line and by `spark-submit jobs/run.py`
alike: for each command its arguments, whether it runs Spark, whether it needs the pseudonym key,
whether it takes OUT's lock, the stages it runs and what it prints."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medspark import command_arguments as arguments
from medspark import layout
from medspark.capabilities import Capability
from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.errors import EXIT_OK, EXIT_QUARANTINED
from medspark.sources import Source
from medspark.spark.run import Run


@dataclass
class Context:
    """What a command's stages get: the session, the parsed arguments, settings and key."""

    spark: Any  # None for a command that runs without Spark
    args: argparse.Namespace
    settings: Settings
    key: PseudonymKey | None
    source: Source | None = None  # INPUT located, for a command that reads one
    missing: tuple[Capability, ...] | None = None  # capabilities used but not installed

    def run(self) -> Run:
        """The run a job of this command is given: OUT, INPUT if the command has one."""
        return Run(
            self.spark,
            self.settings,
            self.args.out,
            getattr(self.args, "input", None),
            self.key,
            source=self.source,
            missing=self.missing,
        )


@dataclass(frozen=True)
class Command:
    """One `medspark` command."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context], int | None]  # None: done, exit 0
    needs_key: Callable[[argparse.Namespace, Settings], bool] = lambda args, settings: False
    locks: bool = True
    # one-shot: writes the base tables (refuses an etl OUT); incremental: etl and compact
    # (refuse a one-shot OUT); derived: adds tables to either kind; reader: writes no table;
    # service: runs without Spark and without OUT (doctor, the DICOM network commands)
    kind: str = "derived"
    # fills in what the command implies before it runs (the demo: INPUT, profile, key)
    implied: Callable[[argparse.Namespace], None] | None = None

    @property
    def spark(self) -> bool:
        """Whether the command starts Spark (and takes the settings options)."""
        return self.kind != "service"


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
    result = run_ingest(context.run())
    counts = result.counts
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
    result = run_features(context.run())
    counts = result.counts
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
    result = run_single_pass(context.run())
    counts = result.counts
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
    result = run_radiomics(context.run())
    counts = result.counts
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
    result = train_and_evaluate(context.run(), args.labels, model_dir)
    print(f"model {result.model_id} ({settings.model.classifier}) saved to {model_dir}")
    print(result.table)
    print(f"evaluation: {layout.metrics(args.out)}")


def predict_stage(context: Context, model_dir: str, levels: tuple[str, ...]) -> None:
    from medspark.spark.jobs.classify import predict

    written = predict(context.run(), model_dir, levels)
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
    result = train_cnn(context.run(), args.labels, model_dir, processes=args.processes)
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

        counts = run_pacs_export(
            context.run(), args.to, args.transfer_syntax, args.lossy, args.ae_title
        ).counts
        print(f"export to {args.to}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return EXIT_QUARANTINED if counts.get("failed_instances") else EXIT_OK
    run, destination = context.run(), args.destination
    if args.format == "nifti":
        from medspark.spark.jobs.nifti_export import run_nifti_export

        result = run_nifti_export(run, destination, layout=args.layout)
    elif args.format == "shards":
        from medspark.spark.jobs.shard_export import run_shard_export

        result = run_shard_export(run, destination, labels=args.labels, shard_mb=args.shard_mb)
    else:
        from medspark.spark.jobs.export import run_export

        result = run_export(run, destination, syntax=args.transfer_syntax, lossy=args.lossy)
    counts = result.counts
    print(f"export to {args.destination}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return None


def _run_volumes(context: Context) -> None:
    from medspark.spark.jobs.volumes import run_volumes

    out = context.args.out
    result = run_volumes(context.run())
    statuses = result.counts["by_status"]
    _print_result(
        result,
        f"volumes {result.run_id}: " + ", ".join(f"{v} {k}" for k, v in sorted(statuses.items())),
        f"table: {out}/volumes",
    )


def _run_register(context: Context) -> None:
    from medspark.spark.jobs.registration import run_registration

    args = context.args
    written = run_registration(context.run(), args.fixed, args.moving)
    print(written.describe())


def _run_report(context: Context) -> None:
    report_stage(context, context.args.show_paths)


def _run_etl(context: Context) -> int:
    from medspark.spark.jobs.etl import run_etl

    result = run_etl(context.run())
    counts = result.counts
    batches = counts["batches"] + [{"batch": b} for b in counts["recovered_batches"]]
    print(
        f"etl {result.run_id}: {counts['new_or_changed']} new or changed files, "
        f"{counts['deferred']} still settling, {counts['quarantined']} quarantined, "
        f"batches {', '.join(str(b['batch']) for b in batches) or 'none'}"
        + (f" (recovered {counts['recovered_batches']})" if counts["recovered_batches"] else "")
        + f"\nsummary: {result.summary_uri}"
    )
    return EXIT_QUARANTINED if counts["quarantined"] else EXIT_OK


def _run_compact(context: Context) -> None:
    from medspark.spark.jobs.compaction import compact

    report = compact(context.run())
    for name, table in report["tables"].items():
        print(
            f"{name}: {table['rows']} rows, {table['files_before']} -> "
            f"{table['files_after']} Parquet files"
        )


def _run_doctor(context: Context) -> None:
    from medspark import capabilities

    for capability in capabilities.report():
        print(capability.line())


def _run_receive(context: Context) -> int:
    from medspark.pacs_commands import receive

    return receive(context.args)


def _run_pull(context: Context) -> int:
    from medspark.pacs_commands import pull

    return pull(context.args)


def demo_input() -> str:
    """The folder of real DICOM test files that pydicom installs (with its deliberate junk)."""
    import pydicom

    return str(Path(pydicom.__file__).parent / "data" / "test_files")


def _demo_implies(args: argparse.Namespace) -> None:
    """The pipeline over pydicom's test files, local profile, a throwaway key."""
    args.input, args.labels, args.model = demo_input(), None, None
    args.profile, args.conf, args.assignments, args.throwaway_key = "local", None, [], True


COMMANDS = (
    Command(
        "ingest",
        "DICOM tree -> metadata and quarantine tables",
        arguments.input_out,
        ingest_stage,
        _always,
        kind="one-shot",
    ),
    Command(
        "features",
        "OUT/metadata -> OUT/features",
        arguments.out_only,
        features_stage,
        _to_unseal_paths,
        kind="one-shot",
    ),
    Command(
        "train",
        "fit and evaluate a classifier on OUT/features",
        arguments.train,
        _run_train,
        _always,
    ),
    Command(
        "predict",
        "apply a saved model: OUT/predictions",
        arguments.predict,
        _run_predict,
    ),
    Command(
        "export",
        "de-identified DICOM files for sharing, from OUT/metadata",
        arguments.export,
        _run_export,
        _always,
    ),
    Command(
        "pipeline",
        "ingest, features and (with --labels) train and predict, one Spark app",
        arguments.pipeline,
        _run_pipeline,
        _always,
        kind="one-shot",
    ),
    Command(
        "etl",
        "scheduled incremental run: only new or changed files, exactly once",
        arguments.etl,
        _run_etl,
        _always,
        kind="incremental",
    ),
    Command(
        "compact",
        "rewrite an etl output's many small files into few (superseded rows go)",
        arguments.out_only,
        _run_compact,
        kind="incremental",
    ),
    Command(
        "volumes",
        "OUT/metadata series -> OUT/volumes (3D)",
        arguments.out_only,
        _run_volumes,
        _to_unseal_paths,
    ),
    Command(
        "radiomics",
        "IBSI features of the SEG / RTSTRUCT regions in OUT/metadata -> OUT/roi_features",
        arguments.out_only,
        radiomics_stage,
        _radiomics_key,
    ),
    Command(
        "register",
        "rigidly align two series (or two instances) and write a fusion PNG",
        arguments.register,
        _run_register,
        _to_unseal_paths,
    ),
    Command(
        "report",
        "OUT/report/index.html: one self-contained page",
        arguments.report,
        _run_report,
        locks=False,  # reads only: it may run beside a job that holds the lock
        kind="reader",
    ),
    Command(
        "demo",
        "run the pipeline on the DICOM files pydicom ships (no arguments)",
        arguments.demo,
        _run_pipeline,
        _always,
        kind="one-shot",
        implied=_demo_implies,
    ),
    Command(
        "doctor",
        "print what is installed and usable: Java, Spark, decoders, OCR, KMS jar…",
        arguments.nothing,
        _run_doctor,
        kind="service",
    ),
    Command(
        "receive",
        "a C-STORE SCP that lands what it is sent in LANDING, for `etl`",
        arguments.receive,
        _run_receive,
        kind="service",
    ),
    Command(
        "pull",
        "C-FIND studies on a PACS and retrieve them (C-GET or C-MOVE) into LANDING",
        arguments.pull,
        _run_pull,
        kind="service",
    ),
)
BY_NAME = {command.name: command for command in COMMANDS}
