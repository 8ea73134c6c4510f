"""The arguments of each `medspark` command, as argparse sees them."""

from __future__ import annotations

import argparse

from medspark.config import PROFILE_NAMES
from medspark.exports.compression import SYNTAX_NAMES

DEMO_OUTPUT = "medspark-output"
DEFAULT_AE_TITLE = "MEDSPARK"


def out_only(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="output root for the Parquet tables and run summaries")


def input_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="input root: a local folder or any Hadoop filesystem URI")
    out_only(parser)


def train(parser: argparse.ArgumentParser) -> None:
    out_only(parser)
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


def predict(parser: argparse.ArgumentParser) -> None:
    out_only(parser)
    parser.add_argument("--model", required=True)
    parser.add_argument(
        "--aggregate", default="", help="also per study and/or patient: study,patient"
    )


def export(parser: argparse.ArgumentParser) -> None:
    out_only(parser)
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


def pipeline(parser: argparse.ArgumentParser) -> None:
    input_out(parser)
    parser.add_argument("--labels", help="train, evaluate and predict with these labels")
    parser.add_argument("--model", help="model folder (default OUT/model)")


def etl(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="the landing folder PACS exports into")
    out_only(parser)
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


def register(parser: argparse.ArgumentParser) -> None:
    out_only(parser)
    parser.add_argument("--fixed", required=True, help="series or SOP instance UID (as stored)")
    parser.add_argument("--moving", required=True, help="series or SOP instance UID (as stored)")


def report(parser: argparse.ArgumentParser) -> None:
    out_only(parser)
    parser.add_argument(
        "--show-paths",
        action="store_true",
        help="name quarantined files by path and detail (operator's eyes only), not by hash",
    )


def demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=DEMO_OUTPUT)


def nothing(parser: argparse.ArgumentParser) -> None:
    """A command without arguments."""


def receive(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("landing", help="the landing folder `medspark etl` reads")
    parser.add_argument("--port", type=int, default=11112)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--ae-title", default=DEFAULT_AE_TITLE)


def pull(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="the PACS, as dimse://AE@host:port")
    parser.add_argument("landing", help="the landing folder `medspark etl` reads")
    parser.add_argument("--study-date", help="YYYYMMDD, or a range YYYYMMDD-YYYYMMDD")
    parser.add_argument("--modality", help="only studies with this modality (e.g. CT)")
    parser.add_argument("--method", choices=("get", "move"), default="get")
    parser.add_argument("--ae-title", default=DEFAULT_AE_TITLE, help="this end's AE title")
    parser.add_argument("--port", type=int, default=11113, help="move: where to receive")
    parser.add_argument("--host", default="127.0.0.1", help="move: address to receive on")


def options(parser: argparse.ArgumentParser) -> None:
    """The settings options every Spark command takes."""
    parser.add_argument("--profile", choices=PROFILE_NAMES, default="local")
    parser.add_argument("--conf", help="a YAML settings file (instead of a named profile)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="assignments",
        help="change one setting of the profile, e.g. features.tensor=true (repeatable)",
    )
    parser.add_argument(
        "--throwaway-key",
        action="store_true",
        help="pseudonymise with a random key that is not kept: pseudonyms cannot be linked later",
    )
