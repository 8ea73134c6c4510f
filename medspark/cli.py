"""The `medspark` command line; `spark-submit jobs/run.py COMMAND …` runs the same."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

import medspark
from medspark import capabilities, layout, sources
from medspark import command_arguments as arguments
from medspark.commands import BY_NAME, COMMANDS, Command, Context
from medspark.config import Settings, load_settings, with_assignments, with_overrides
from medspark.dicom.keys import PseudonymKey, load_key
from medspark.errors import (
    EXIT_ENVIRONMENT,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_QUARANTINED,
    EXIT_USAGE,
    MedsparkError,
    UsageError,
)
from medspark.exports.senders import sender_for
from medspark.logs import setup_logging
from medspark.run_lock import RunLock
from medspark.schemas import METADATA
from medspark.sources import Source
from medspark.spark.output.current import IncompatibleOutputError
from medspark.storage import check_reachable, local_path, require_writable

EXIT_SPARK = EXIT_ENVIRONMENT
__all__ = ["EXIT_LOCKED", "EXIT_OK", "EXIT_QUARANTINED", "EXIT_SPARK", "EXIT_USAGE", "main"]

log = logging.getLogger("medspark")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medspark", description=__doc__)
    parser.add_argument("--version", action="version", version=f"medspark {medspark.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help)
        command.arguments(sub)
        if command.spark and command.implied is None:
            arguments.options(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "profile", "local"), getattr(args, "conf", None))
    return with_assignments(settings, getattr(args, "assignments", []))


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


def _normalised(uri: str) -> str:
    path = local_path(uri)
    if path is not None:
        return os.path.realpath(path)
    return uri.rstrip("/")


def _within(inner: str, outer: str) -> bool:
    """Whether one normalised location is, or lies inside, another."""
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def check_locations(args: argparse.Namespace, source: Source | None = None) -> None:
    """Refuse empty or root locations, and an OUT or DEST that overlaps INPUT (`source`, the
    command's INPUT located) or OUT."""
    given = {
        "OUT": getattr(args, "out", None),
        "INPUT": source.uri if source is not None else None,
        "DEST": getattr(args, "destination", None),
    }
    forms: dict[str, str] = {}
    for name, value in given.items():
        if value is None:
            continue
        if not value.strip():
            raise UsageError(f"{name} is empty")
        forms[name] = source.normalised() if name == "INPUT" and source else _normalised(value)
        if forms[name] == os.path.realpath(os.sep):
            raise UsageError(f"{name} is the filesystem root ({value})")
    if args.command == "export":
        _check_export_target(args)
    out, input_form, destination = forms.get("OUT"), forms.get("INPUT"), forms.get("DEST")
    if out is None:
        return
    if input_form is not None and (_within(out, input_form) or _within(input_form, out)):
        raise UsageError(
            f"OUT ({given['OUT']}) and INPUT ({given['INPUT']}) overlap: every run would read "
            "its own output. Choose an OUT outside INPUT."
        )
    if destination is not None and (_within(destination, out) or _within(out, destination)):
        raise UsageError(
            f"DEST ({given['DEST']}) and OUT ({given['OUT']}) overlap: choose a separate DEST."
        )


def _check_export_target(args: argparse.Namespace) -> None:
    """Export goes to DEST or, with --to, to a PACS: exactly one, and only DICOM to a PACS."""
    if (args.destination is None) == (args.to is None):
        raise UsageError("export needs DEST (a folder) or --to (a PACS), and only one of them")
    if args.to is not None:
        if args.format != "dicom":
            raise UsageError(f"--to sends DICOM instances; --format {args.format} needs DEST")
        sender_for(args.to)


def refuse_foreign_output(command: Command, out_uri: str) -> None:
    """One-shot writers refuse an `etl` OUT and `etl`/`compact` refuse a one-shot OUT (local OUTs
    here, before anything is written; `run_etl` checks remote ones)."""
    root = local_path(out_uri)
    if root is None:
        return
    incremental = Path(local_path(layout.etl_state(out_uri)) or "").exists()
    one_shot = (Path(root) / METADATA.place).exists() and not incremental
    if command.kind == "one-shot" and incremental:
        raise IncompatibleOutputError(
            f"{out_uri} is an incremental output of `medspark etl`; `medspark {command.name}` "
            "would overwrite its batches. Give it its own OUT."
        )
    if command.kind == "incremental" and one_shot:
        raise IncompatibleOutputError(
            f"{out_uri} holds tables from `medspark ingest`; give `medspark {command.name}` its "
            "own OUT."
        )


def run_command(args: argparse.Namespace, settings: Settings, throwaway: bool) -> int:
    """Validate, start Spark, run the command's stages; return the process exit code."""
    from medspark.spark.session import build_session

    command = BY_NAME[args.command]
    out_uri = args.out
    input_uri = getattr(args, "input", None)
    source = sources.locate(input_uri) if input_uri is not None else None
    check_locations(args, source)
    if source is not None:
        source.check("INPUT")
    if out_uri:
        check_reachable(out_uri, "OUT")
    refuse_foreign_output(command, out_uri)
    missing = tuple(capabilities.missing_for(settings))
    for capability in missing:
        print(f"medspark: {capability.name} unavailable ({capability.detail}): "
              f"{capability.effect}; install: {capability.install}", file=sys.stderr)  # fmt: skip
    key = _key(settings, throwaway) if command.needs_key(args, settings) else None
    require_writable(out_uri)
    with RunLock(out_uri) if command.locks else contextlib.nullcontext():
        spark = build_session(settings, f"medspark {command.name}")
        code = command.run(Context(spark, args, settings, key, source, missing))
        if out_uri and command.kind in ("one-shot", "derived"):
            _commit_table_logs(spark, out_uri)
    return EXIT_OK if code is None else code


def _commit_table_logs(spark, out_uri: str) -> None:
    """Every table the command left under OUT gets a Delta log listing its files (an etl
    OUT's own tables commit theirs with each batch)."""
    from medspark.spark.output.current import TABLES
    from medspark.spark.output.delta_log import sync_tables
    from medspark.spark.output.filesystem import path_exists

    incremental = path_exists(spark, layout.etl_state(out_uri))
    committed = sync_tables(spark, out_uri, [t.name for t in TABLES] if incremental else [])
    if committed:
        log.info("Delta logs committed: %s", ", ".join(committed))


def _one_line(error: ValidationError) -> str:
    """A validation error as one line: each wrong setting, what is wrong, and the value given."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']} "
        f"(given: {problem.get('input')!r})"
        for problem in error.errors()
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `medspark`; returns the exit code."""
    args = build_parser().parse_args(argv)
    setup_logging()
    command = BY_NAME[args.command]
    try:
        if not command.spark:
            code = command.run(Context(None, args, load_settings("local"), None))
            return EXIT_OK if code is None else code
        if command.implied is not None:
            command.implied(args)
        settings = _settings(args)
        if args.command == "etl":
            settings = with_overrides(
                settings,
                "etl",
                settle_seconds=args.settle_seconds,
                max_files_per_run=args.max_files,
            )
        return run_command(args, settings, args.throwaway_key)
    except MedsparkError as exc:
        print(f"medspark: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except ValidationError as exc:
        print(f"medspark: configuration error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
