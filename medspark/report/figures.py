"""The report's pictures as PNG bytes: matplotlib plots (Agg) and thumbnail overlays."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

_COLOURS = plt.get_cmap("tab10").colors  # type: ignore[attr-defined]  # a ListedColormap


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def feature_distributions(
    distributions: Mapping[str, Mapping[str, Sequence[float]]], grouping: str
) -> bytes | None:
    """Overlaid density histograms of each feature, one colour per group."""
    features = [name for name, groups in distributions.items() if any(groups.values())]
    if not features:
        return None
    columns = min(3, len(features))
    rows = -(-len(features) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False)
    for ax in axes.flat[len(features) :]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, features, strict=False):
        groups = distributions[name]
        values = np.concatenate([np.asarray(v, dtype=float) for v in groups.values() if v])
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            ax.set_visible(False)
            continue
        low, high = np.percentile(finite, [0.5, 99.5])
        edges = np.linspace(low, high if high > low else low + 1.0, 31)
        for k, (group, group_values) in enumerate(sorted(groups.items())):
            data = np.asarray(group_values, dtype=float)
            data = data[np.isfinite(data)]
            if data.size:
                ax.hist(
                    np.clip(data, edges[0], edges[-1]),
                    bins=edges,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.45,
                    color=_COLOURS[k % len(_COLOURS)],
                    label=f"{group} (n={data.size})",
                )
        ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, title=grouping, title_fontsize=7)
    figure.tight_layout()
    return _png(figure)


def _curves(
    evaluation: Mapping[str, Any],
    points_key: str,
    auc_key: str,
    xlabel: str,
    ylabel: str,
    others: Mapping[str, Mapping[str, Any]] | None = None,
) -> bytes | None:
    model = evaluation["model"]
    baseline = evaluation.get("majority_baseline", {})
    if not model.get(points_key):
        return None
    figure, ax = plt.subplots(figsize=(4.6, 4.0))
    classes = list(model[points_key])
    if len(model.get("classes", [])) == 2:
        classes = classes[-1:]
    for k, name in enumerate(classes):
        xy = np.asarray(model[points_key][name])
        auc = model.get(auc_key, {}).get(name)
        prefix = "mllib" if others else "model"
        label = f"{prefix}: {name}" + (f" (AUC {auc:.3f})" if auc is not None else "")
        ax.plot(xy[:, 0], xy[:, 1], color=_COLOURS[k % len(_COLOURS)], label=label, lw=2)
        base = baseline.get(points_key, {}).get(name)
        if base:
            bxy = np.asarray(base)
            base_auc = baseline.get(auc_key, {}).get(name)
            ax.plot(
                bxy[:, 0],
                bxy[:, 1],
                color=_COLOURS[k % len(_COLOURS)],
                ls="--",
                lw=1,
                label=f"majority baseline: {name}"
                + (f" (AUC {base_auc:.3f})" if base_auc is not None else ""),
            )
    for offset, (name, other) in enumerate((others or {}).items(), start=len(classes) + 1):
        for cls in classes:
            xy = other["model"].get(points_key, {}).get(cls)
            if xy:
                auc = other["model"].get(auc_key, {}).get(cls)
                ax.plot(*np.asarray(xy).T, color=_COLOURS[offset % len(_COLOURS)], lw=2,
                        label=f"{name}: {cls}" + (f" (AUC {auc:.3f})" if auc else ""))  # fmt: skip
    if points_key == "roc_points":
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="lower right" if points_key == "roc_points" else "lower left")
    figure.tight_layout()
    return _png(figure)


def roc_curve(
    evaluation: Mapping[str, Any], others: Mapping[str, Mapping[str, Any]] | None = None
) -> bytes | None:
    """ROC curves of the model, dashed for the majority baseline, with other models' (the CNN
    beside the MLlib classifier) on the same axes."""
    return _curves(
        evaluation,
        "roc_points",
        "roc_auc_per_class",
        "false positive rate",
        "true positive rate",
        others,
    )


def pr_curve(evaluation: Mapping[str, Any]) -> bytes | None:
    """Precision-recall curves of the model, dashed for the majority baseline."""
    return _curves(evaluation, "pr_points", "pr_auc_per_class", "recall", "precision")


def confusion_matrices(evaluation: Mapping[str, Any]) -> bytes:
    """Confusion matrices of the model and the majority baseline, side by side."""
    panels = [("model", evaluation["model"])]
    if "majority_baseline" in evaluation:
        panels.append(("majority baseline", evaluation["majority_baseline"]))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (title, metrics) in zip(axes.flat, panels, strict=True):
        matrix = np.asarray(metrics["confusion_matrix"])
        classes = metrics["classes"]
        ax.imshow(matrix, cmap="Blues")
        for (i, j), value in np.ndenumerate(matrix):
            colour = "white" if value > matrix.max() / 2 else "black"
            ax.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=10)
        ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return _png(figure)


def stage_times(times: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Horizontal bars of seconds per job stage."""
    if not times:
        return None
    labels = [f"{t['job']}: {t['stage']}" for t in times]
    seconds = [float(t["seconds"]) for t in times]
    figure, ax = plt.subplots(figsize=(6.5, 0.35 * len(times) + 0.9))
    ax.barh(range(len(times)), seconds, color=_COLOURS[0])
    ax.set_yticks(range(len(times)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    figure.tight_layout()
    return _png(figure)


def validation_curve(curve: Sequence[Mapping[str, Any]]) -> bytes | None:
    """The CNN's validation loss against optimiser steps, its kept (lowest) point marked."""
    if not curve:
        return None
    steps = [int(point["step"]) for point in curve]
    losses = [float(point["validation_loss"]) for point in curve]
    kept = losses.index(min(losses))
    figure, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.plot(steps, losses, color=_COLOURS[0], marker=".", linewidth=1)
    ax.plot([steps[kept]], [losses[kept]], "o", color=_COLOURS[1], label="kept")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("validation loss")
    ax.set_title("CNN training", fontsize=9)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return _png(figure)


def overlay(thumbnail_png: bytes) -> bytes:
    """The thumbnail with an edge-strength heat map (inferno) and the Otsu mask outline on top."""
    grey = cv2.imdecode(np.frombuffer(thumbnail_png, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise ValueError("thumbnail is not a decodable PNG")
    blurred = cv2.GaussianBlur(grey, (3, 3), 0)
    magnitude = cv2.magnitude(
        cv2.Sobel(blurred, cv2.CV_32F, 1, 0), cv2.Sobel(blurred, cv2.CV_32F, 0, 1)
    )
    scale = float(np.percentile(magnitude, 99)) or 1.0
    heat = (plt.get_cmap("inferno")(np.clip(magnitude / scale, 0, 1))[..., :3] * 255).astype(
        np.uint8
    )
    base = np.repeat(grey[..., None], 3, axis=2)
    blended = cv2.addWeighted(base, 0.45, heat, 0.55, 0)
    _, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(blended, contours, -1, (0, 255, 255), 1)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(blended, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode the overlay")
    return encoded.tobytes()


REDACTION_BGR = (0, 140, 255)


def redaction_outlines(
    thumbnail_png: bytes, boxes: list[list[int]], rows: int, columns: int
) -> bytes | None:
    """The (redacted) thumbnail with the boxes that were filled outlined, scaled from the stored
    frame's `rows` x `columns`; None when the thumbnail is not the whole frame (cropped or
    padded by preprocessing), where outlines would be drawn in the wrong place."""
    grey = cv2.imdecode(np.frombuffer(thumbnail_png, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None or rows <= 0 or columns <= 0:
        return None
    height, width = grey.shape
    if abs(height / width - rows / columns) > 0.02 * rows / columns + 1 / min(height, width):
        return None
    scale_y, scale_x = height / rows, width / columns
    picture = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    for x0, y0, x1, y1 in boxes:
        top_left = (int(np.floor(x0 * scale_x)), int(np.floor(y0 * scale_y)))
        bottom_right = (max(int(np.ceil(x1 * scale_x)) - 1, top_left[0]),
                        max(int(np.ceil(y1 * scale_y)) - 1, top_left[1]))  # fmt: skip
        cv2.rectangle(picture, top_left, bottom_right, REDACTION_BGR, 1)
    ok, encoded = cv2.imencode(".png", picture)
    return encoded.tobytes() if ok else None
