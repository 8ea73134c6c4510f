"""The run report: one self-contained HTML file with every image embedded as a data URI."""

from __future__ import annotations

import base64
import datetime as dt
import logging
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

import medspark
from medspark import layout
from medspark.dicom.reasons import DESCRIPTION
from medspark.report import figures
from medspark.report.gather import ReportData
from medspark.storage import write_text

log = logging.getLogger("medspark.report")

REASON_TEXT = {str(reason): text for reason, text in DESCRIPTION.items()}


def data_uri(png: bytes) -> str:
    """A PNG as an inline data: URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _human_bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(value)


def _other_models(data: ReportData) -> dict[str, Any]:
    """The CNN's evaluation beside the MLlib model's, when OUT holds both."""
    if "mllib" in data.evaluations and "cnn" in data.evaluations:
        return {"cnn": data.evaluations["cnn"]}
    return {}


def _metrics_rows(evaluation: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    model, baseline = evaluation["model"], evaluation.get("majority_baseline", {})
    rows = [(n, model.get(n), baseline.get(n)) for n in ("accuracy", "balanced_accuracy")]
    rows += [(n, model.get(n), baseline.get(n)) for n in ("roc_auc", "pr_auc")]
    for name in ("precision", "recall", "f1"):
        rows.append((f"macro {name}", model["macro"][name], baseline.get("macro", {}).get(name)))
    rows.append(("test frames", model["n"], baseline.get("n")))
    return rows


def render(data: ReportData) -> str:
    """The report page for gathered data, as an HTML string."""
    environment = Environment(
        loader=PackageLoader("medspark.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["number"] = lambda v: f"{v:,}" if isinstance(v, int | float) else "-"
    environment.filters["metric"] = lambda v: (
        "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
    )
    environment.filters["bytes"] = _human_bytes
    tiles = [
        {
            "image": data_uri(t.png),
            "overlay": data_uri(figures.overlay(t.png)),
            "modality": t.modality,
            "window": t.window,
            "frame": t.frame,
            "instance": t.instance,
        }
        for t in data.thumbnails
    ]
    redactions = [
        {
            "outlined": data_uri(outlined),
            "exported": data_uri(r.png),
            "modality": r.modality,
            "frame": r.frame,
            "instance": r.instance,
            "boxes": len(r.boxes),
        }
        for r in data.redacted_frames
        if (outlined := figures.redaction_outlines(r.png, r.boxes, r.rows, r.columns))
    ]
    plots: dict[str, str] = {}
    candidates = {
        "stages": figures.stage_times(data.stage_times),
        "distributions": figures.feature_distributions(
            data.distributions, data.distribution_grouping
        ),
    }
    cnn = data.evaluations.get("cnn") or data.refused_models.get("cnn") or {}
    candidates["cnn_curve"] = figures.validation_curve(cnn.get("validation_curve", []))
    evaluation = data.evaluation
    if evaluation is not None:
        candidates.update(
            roc=figures.roc_curve(evaluation, others=_other_models(data)),
            pr=figures.pr_curve(evaluation),
            confusion=figures.confusion_matrices(evaluation),
        )
    plots = {name: data_uri(png) for name, png in candidates.items() if png is not None}
    volumes = [
        {
            **{k: v for k, v in volume.items() if not k.endswith("_png")},
            "views": [
                (name, data_uri(volume[f"{name}_png"]))
                for name in ("axial", "coronal", "sagittal", "mip")
                if volume.get(f"{name}_png")
            ],
        }
        for volume in data.volumes
    ]
    regions = [
        {
            **{k: v for k, v in region.items() if k != "overlay_png"},
            "overlay": data_uri(region["overlay_png"]) if region.get("overlay_png") else None,
        }
        for region in data.regions
    ]
    template = environment.get_template("report.html.j2")
    return template.render(
        data=data,
        tiles=tiles,
        redactions=redactions,
        volumes=volumes,
        regions=regions,
        plots=plots,
        reasons=REASON_TEXT,
        metrics=_metrics_rows(evaluation) if evaluation else [],
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=medspark.__version__,
    )


def write_report(data: ReportData) -> str:
    """Write OUT/report/index.html and return its URI."""
    uri = layout.report_page(data.out_uri)
    write_text(uri, render(data))
    log.info("report written to %s", uri)
    return uri
