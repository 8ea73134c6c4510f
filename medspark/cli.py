"""The `medspark` command line; jobs/*.py call the same functions under spark-submit."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from medspark.config import PROFILE_NAMES, Settings, load_settings
from medspark.dicom.keys import MissingKeyError, PseudonymKey, load_key
from medspark.logs import setup_logging
from medspark.spark.catalog import InputNotFoundError
from medspark.spark.features import HashedPathsError
from medspark.spark.session import SparkStartError
from medspark.storage import OutputNotWritableError, local_path, require_writable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SPARK = 3
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

    pipeline = commands.add_parser("pipeline", help="ingest then features, in one Spark app")
    pipeline.add_argument("input")
    pipeline.add_argument("out")
    _common(pipeline)

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


def _check_local_input(uri: str) -> None:
    path = local_path(uri)
    if path is not None and not Path(path).exists():
        raise InputNotFoundError(f"input does not exist: {uri}")


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
        f"{counts['non_image_instances_skipped']} non-image instances skipped\n"
        f"table: {out_uri}/features\nsummary: {result.summary_uri}"
    )


def run_command(
    command: str, input_uri: str | None, out_uri: str, settings: Settings, throwaway: bool
) -> int:
    """Validate, start Spark, run ingest, features or both; return the process exit code."""
    from medspark.spark.features import run_features
    from medspark.spark.ingest import run_ingest
    from medspark.spark.session import build_session

    if input_uri is not None:
        _check_local_input(input_uri)
    require_writable(out_uri)
    key = _key(settings, throwaway) if input_uri is not None else None
    spark = build_session(settings, f"medspark {command}")
    if input_uri is not None:
        _print_ingest(run_ingest(spark, settings, input_uri, out_uri, key), out_uri)
    if command in ("features", "pipeline"):
        _print_features(run_features(spark, settings, out_uri), out_uri)
    return EXIT_OK


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
            return run_command("pipeline", demo_input(), args.out, settings, throwaway=True)
        settings = _settings(args)
        input_uri = getattr(args, "input", None)
        return run_command(args.command, input_uri, args.out, settings, args.throwaway_key)
    except (InputNotFoundError, OutputNotWritableError, MissingKeyError, HashedPathsError) as exc:
        print(f"medspark: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, ValueError) as exc:
        print(f"medspark: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SparkStartError as exc:
        print(f"medspark: {exc}", file=sys.stderr)
        return EXIT_SPARK


if __name__ == "__main__":
    sys.exit(main())
