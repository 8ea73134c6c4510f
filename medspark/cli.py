"""The `medspark` command line; jobs/*.py call the same functions under spark-submit."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from medspark.config import PROFILE_NAMES, Settings, load_settings, with_overrides
from medspark.dicom.keys import MissingKeyError, PseudonymKey, load_key
from medspark.logs import setup_logging
from medspark.ml.labels import LabelsError
from medspark.run_lock import RunLock, RunLockedError
from medspark.spark.catalog import InputNotFoundError
from medspark.spark.encryption import EncryptionUnavailableError
from medspark.spark.etl import IncompatibleOutputError
from medspark.spark.features import HashedPathsError
from medspark.spark.registration import UnknownImageError
from medspark.spark.session import SparkStartError
from medspark.storage import OutputNotWritableError, local_path, require_writable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SPARK = 3
EXIT_LOCKED = 4
EXIT_QUARANTINED = 5
DEMO_OUTPUT = "medspark-output"

log = logging.getLogger("medspark")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=PROFILE_NAMES, default="local")
    parser.add_argument("--conf", help="a YAML settings file (instead of a named profile)")
    parser.add_argument(
        "--throwaway-key",
        action="store_true",
        help="pseudonymise with a random key that is not kept: pseudonyms cannot be linked later",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medspark", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="DICOM tree -> metadata and quarantine tables")
    ingest.add_argument("input", help="input root: a local folder or any Hadoop filesystem URI")
    ingest.add_argument("out", help="output root for the Parquet tables and run summaries")
    _common(ingest)

    features = commands.add_parser("features", help="OUT/metadata -> OUT/features")
    features.add_argument("out", help="output root holding the metadata table")
    _common(features)

    train = commands.add_parser("train", help="fit and evaluate a classifier on OUT/features")
    train.add_argument("out")
    train.add_argument("--labels", required=True, help="CSV or Parquet: a key column and label")
    train.add_argument("--model", required=True, help="folder for the saved model")
    _common(train)

    predict = commands.add_parser("predict", help="apply a saved model: OUT/predictions")
    predict.add_argument("out")
    predict.add_argument("--model", required=True)
    predict.add_argument(
        "--aggregate", default="", help="also per study and/or patient: study,patient"
    )
    _common(predict)

    export = commands.add_parser(
        "export", help="de-identified DICOM files for sharing, from OUT/metadata"
    )
    export.add_argument("out")
    export.add_argument("destination", help="a local or mounted folder all workers can write")
    _common(export)

    pipeline = commands.add_parser(
        "pipeline", help="ingest, features and (with --labels) train and predict, one Spark app"
    )
    pipeline.add_argument("input")
    pipeline.add_argument("out")
    pipeline.add_argument("--labels", help="train, evaluate and predict with these labels")
    pipeline.add_argument("--model", help="model folder (default OUT/model)")
    _common(pipeline)

    etl = commands.add_parser(
        "etl", help="scheduled incremental run: only new or changed files, exactly once"
    )
    etl.add_argument("input", help="the landing folder PACS exports into")
    etl.add_argument("out")
    etl.add_argument(
        "--settle-seconds",
        type=float,
        help="leave files modified more recently than this for the next run (etl.settle_seconds)",
    )
    etl.add_argument(
        "--max-files",
        type=int,
        help="take at most this many (oldest first) per run, e.g. to back-fill in steps",
    )
    _common(etl)

    compact_cmd = commands.add_parser(
        "compact", help="rewrite an etl output's many small files into few (superseded rows go)"
    )
    compact_cmd.add_argument("out")
    _common(compact_cmd)

    volumes = commands.add_parser("volumes", help="OUT/metadata series -> OUT/volumes (3D)")
    volumes.add_argument("out")
    _common(volumes)

    radiomics = commands.add_parser(
        "radiomics",
        help="IBSI features of the SEG / RTSTRUCT regions in OUT/metadata -> OUT/roi_features",
    )
    radiomics.add_argument("out")
    _common(radiomics)

    register = commands.add_parser(
        "register", help="rigidly align two series (or two instances) and write a fusion PNG"
    )
    register.add_argument("out")
    register.add_argument("--fixed", required=True, help="series or SOP instance UID (as stored)")
    register.add_argument("--moving", required=True, help="series or SOP instance UID (as stored)")
    _common(register)

    report = commands.add_parser("report", help="OUT/report/index.html: one self-contained page")
    report.add_argument("out")
    report.add_argument(
        "--show-paths",
        action="store_true",
        help="name quarantined files by path and detail (operator's eyes only), not by hash",
    )
    _common(report)

    demo = commands.add_parser(
        "demo", help="run the pipeline on the DICOM files pydicom ships (no arguments)"
    )
    demo.add_argument("--out", default=DEMO_OUTPUT)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "profile", "local"), getattr(args, "conf", None))


def _key(settings: Settings, throwaway: bool) -> PseudonymKey | None:
    if not settings.deid.enabled:
        return None
    key = load_key(settings.deid.key_env, settings.deid.key_file, allow_throwaway=throwaway)
    if key.throwaway:
        log.warning(
            "using a throwaway pseudonym key: pseudonyms in this output cannot be linked to "
            "any other run. Set %s for real use.",
            settings.deid.key_env,
        )
    return key


class UsageError(ValueError):
    """The command line names locations that cannot work together."""


_ONE_SHOT_WRITERS = ("ingest", "features", "pipeline", "demo")


def _check_local_input(uri: str) -> None:
    path = local_path(uri)
    if path is not None and not Path(path).exists():
        raise InputNotFoundError(f"input does not exist: {uri}")


def _normalised(uri: str) -> str:
    path = local_path(uri)
    if path is not None:
        return os.path.realpath(path)
    return uri.rstrip("/")


def _within(inner: str, outer: str) -> bool:
    inner, outer = _normalised(inner), _normalised(outer)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def check_locations(args: argparse.Namespace) -> None:
    """Refuse empty or root locations, and an OUT or DEST that overlaps INPUT or OUT."""
    named = {
        "OUT": getattr(args, "out", None),
        "INPUT": getattr(args, "input", None),
        "DEST": getattr(args, "destination", None),
    }
    for name, value in named.items():
        if value is None:
            continue
        if not value.strip():
            raise UsageError(f"{name} is empty")
        path = local_path(value)
        if path is not None and os.path.realpath(path) == os.path.realpath(os.sep):
            raise UsageError(f"{name} is the filesystem root ({value})")
    out, source, destination = named["OUT"], named["INPUT"], named["DEST"]
    if source is not None and (_within(out, source) or _within(source, out)):
        raise UsageError(
            f"OUT ({out}) and INPUT ({source}) overlap: every run would read its own output. "
            "Choose an OUT outside INPUT."
        )
    if destination is not None and (_within(destination, out) or _within(out, destination)):
        raise UsageError(f"DEST ({destination}) and OUT ({out}) overlap: choose a separate DEST.")


def refuse_foreign_output(command: str, out_uri: str) -> None:
    """One-shot jobs refuse an `etl` OUT and `etl`/`compact` refuse a one-shot OUT (local OUTs
    here, before anything is written; `run_etl` checks remote ones)."""
    from medspark.spark.current import state_uri

    root = local_path(out_uri)
    if root is None:
        return
    incremental = Path(local_path(state_uri(out_uri)) or "").exists()
    one_shot = (Path(root) / "metadata").exists() and not incremental
    if command in _ONE_SHOT_WRITERS and incremental:
        raise IncompatibleOutputError(
            f"{out_uri} is an incremental output of `medspark etl`; `medspark {command}` would "
            "overwrite its batches. Give it its own OUT."
        )
    if command in ("etl", "compact") and one_shot:
        raise IncompatibleOutputError(
            f"{out_uri} holds tables from `medspark ingest`; give `medspark {command}` its own OUT."
        )


def _print_ingest(result, out_uri: str) -> None:
    counts = result.summary["counts"]
    print(
        f"ingest {result.run_id}: {counts['listed_files']} files -> "
        f"{counts['metadata']} metadata rows, {counts['quarantine']} quarantined "
        f"({counts['non_image_instances']} non-image instances)\n"
        f"tables: {out_uri}/metadata, {out_uri}/quarantine\nsummary: {result.summary_uri}"
    )


def _print_features(result, out_uri: str) -> None:
    counts = result.summary["counts"]
    print(
        f"features {result.run_id}: {counts['image_instances']} images -> "
        f"{counts['feature_rows']} feature rows, {counts['decode_quarantined']} not decodable, "
        f"{counts['non_image_instances_skipped']} non-image instances skipped, "
        f"{counts['held_back_burned_in']} held back (possible burned-in annotation); "
        f"burned-in text: {counts['frames_examined_for_text']} frames examined, "
        f"{counts['frames_with_text']} with text, {counts['frames_redacted']} redacted, "
        f"{counts['held_back_text_unchecked']} images held back unchecked\n"
        f"table: {out_uri}/features\nsummary: {result.summary_uri}"
    )


def run_command(args: argparse.Namespace, settings: Settings, throwaway: bool) -> int:
    """Validate, start Spark, run the command's stages; return the process exit code."""
    from medspark.spark.session import build_session

    command, out_uri = args.command, args.out
    input_uri = getattr(args, "input", None)
    labels = getattr(args, "labels", None)
    check_locations(args)
    if input_uri is not None:
        _check_local_input(input_uri)
    refuse_foreign_output(command, out_uri)
    require_writable(out_uri)
    hashed = settings.deid.hash_paths and command in (
        "features",
        "pipeline",
        "demo",
        "volumes",
        "register",
        "radiomics",
    )
    regions = command == "radiomics" and settings.deid.enabled
    needs_key = (
        input_uri is not None or labels is not None or command == "export" or hashed or regions
    )
    key = _key(settings, throwaway) if needs_key else None
    if command == "report":  # reads only: it may run beside a job that holds the lock
        spark = build_session(settings, f"medspark {command}")
        print(f"report: {_write_report(spark, out_uri, args.show_paths)}")
        return EXIT_OK
    with RunLock(out_uri):
        spark = build_session(settings, f"medspark {command}")
        if command in ("etl", "compact"):
            return _incremental(spark, args, settings, key)
        return _one_shot(spark, args, settings, key)


def _one_shot(spark, args: argparse.Namespace, settings: Settings, key: PseudonymKey | None) -> int:
    from medspark.spark.classify import predict, train_and_evaluate
    from medspark.spark.features import run_features
    from medspark.spark.ingest import run_ingest
    from medspark.spark.radiomics import holds_regions, run_radiomics

    command, out_uri = args.command, args.out
    input_uri = getattr(args, "input", None)
    labels = getattr(args, "labels", None)
    if command == "volumes":
        from medspark.spark.volumes import run_volumes

        result = run_volumes(spark, settings, out_uri, key)
        statuses = result.summary["counts"]["by_status"]
        print(
            f"volumes {result.run_id}: "
            + ", ".join(f"{v} {k}" for k, v in sorted(statuses.items()))
            + f"\ntable: {out_uri}/volumes\nsummary: {result.summary_uri}"
        )
        return EXIT_OK
    if command == "radiomics":
        _print_radiomics(run_radiomics(spark, settings, out_uri, key), out_uri)
        return EXIT_OK
    if command == "register":
        from medspark.spark.registration import run_registration

        written = run_registration(spark, settings, out_uri, args.fixed, args.moving, key)
        print(written.describe())
        return EXIT_OK
    if command == "export":
        from medspark.spark.export import run_export

        counts = run_export(spark, settings, out_uri, args.destination, key)
        print(f"export to {args.destination}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return EXIT_OK
    if input_uri is not None:
        _print_ingest(run_ingest(spark, settings, input_uri, out_uri, key), out_uri)
    if command in ("features", "pipeline", "demo"):
        _print_features(run_features(spark, settings, out_uri, key=key), out_uri)
    if command in ("pipeline", "demo") and holds_regions(spark, out_uri):
        _print_radiomics(run_radiomics(spark, settings, out_uri, key), out_uri)
    model_dir = getattr(args, "model", None) or f"{out_uri.rstrip('/')}/model"
    if labels is not None:
        result = train_and_evaluate(spark, settings, out_uri, labels, model_dir, key)
        print(f"model {result.model_id} ({settings.model.classifier}) saved to {model_dir}")
        print(result.table)
        print(f"evaluation: {out_uri}/evaluation/metrics.json")
    if command == "predict" or (command == "pipeline" and labels is not None):
        levels = tuple(x for x in (getattr(args, "aggregate", "") or "").split(",") if x)
        if command == "pipeline":
            levels = ("study", "patient")
        written = predict(spark, out_uri, model_dir, levels, settings.deid.encryption)
        print("predictions: " + ", ".join(f"{k} {v} rows" for k, v in written.items()))
    if command in ("pipeline", "demo"):
        print(f"report: {_write_report(spark, out_uri, show_paths=False)}")
    return EXIT_OK


def _print_radiomics(result, out_uri: str) -> None:
    counts = result.summary["counts"]
    print(
        f"radiomics {result.run_id}: {counts['regions']} regions described, "
        f"{counts['quarantined']} set aside"
        + (f" ({counts['quarantined_by_reason']})" if counts["quarantined"] else "")
        + f"\ntable: {out_uri}/roi_features\nsummary: {result.summary_uri}"
    )


def _incremental(spark, args: argparse.Namespace, settings: Settings, key) -> int:
    if args.command == "compact":
        from medspark.spark.compaction import compact

        report = compact(spark, settings, args.out)
        for name, table in report["tables"].items():
            print(
                f"{name}: {table['rows']} rows, {table['files_before']} -> "
                f"{table['files_after']} Parquet files"
            )
        return EXIT_OK
    from medspark.spark.etl import run_etl

    result = run_etl(spark, settings, args.input, args.out, key)
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


def _write_report(spark, out_uri: str, show_paths: bool) -> str:
    from medspark.report.gather import gather
    from medspark.report.page import write_report

    return write_report(gather(spark, out_uri, show_paths=show_paths))


def _one_line(error: ValidationError) -> str:
    """A validation error as one line: each wrong setting, what is wrong, and the value given."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']} "
        f"(given: {problem.get('input')!r})"
        for problem in error.errors()
    )


def demo_input() -> str:
    """The folder of real DICOM test files that pydicom installs (with its deliberate junk)."""
    import pydicom

    return str(Path(pydicom.__file__).parent / "data" / "test_files")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `medspark`; returns the exit code."""
    args = build_parser().parse_args(argv)
    setup_logging()
    try:
        if args.command == "demo":
            settings = load_settings("local")
            log.info("demo: the pipeline over pydicom's test files in %s", demo_input())
            args.input = demo_input()
            return run_command(args, settings, throwaway=True)
        settings = _settings(args)
        if args.command == "etl":
            settings = with_overrides(
                settings,
                "etl",
                settle_seconds=args.settle_seconds,
                max_files_per_run=args.max_files,
            )
        return run_command(args, settings, args.throwaway_key)
    except (
        InputNotFoundError,
        OutputNotWritableError,
        MissingKeyError,
        HashedPathsError,
        LabelsError,
        UnknownImageError,
        IncompatibleOutputError,
        UsageError,
        EncryptionUnavailableError,
    ) as exc:
        print(f"medspark: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:
        print(f"medspark: configuration error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, ValueError) as exc:
        print(f"medspark: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunLockedError as exc:
        print(f"medspark: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except SparkStartError as exc:
        print(f"medspark: {exc}", file=sys.stderr)
        return EXIT_SPARK


if __name__ == "__main__":
    sys.exit(main())
