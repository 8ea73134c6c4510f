"""Classification metrics on held-out predictions, and the same for a majority-class baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm


def _curve_points(x: np.ndarray, y: np.ndarray, limit: int = 200) -> list[list[float]]:
    """At most `limit` points of a curve, evenly thinned, always keeping both ends."""
    if len(x) > limit:
        keep = np.unique(np.linspace(0, len(x) - 1, limit).round().astype(int))
        x, y = x[keep], y[keep]
    return [[float(a), float(b)] for a, b in zip(x, y, strict=True)]


def classification_metrics(
    truth: Sequence[int], predicted: Sequence[int], scores: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, per-class and macro precision/recall/F1, ROC and PR AUC
    (one-vs-rest when there are more than two classes), the confusion matrix and ROC points.

    `scores` holds one column of class probabilities per class, in the order of `classes`.
    """
    y = np.asarray(truth, dtype=int)
    p = np.asarray(predicted, dtype=int)
    labels = list(range(len(classes)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, p, labels=labels, zero_division=0
    )
    result: dict[str, Any] = {
        "n": len(y),
        "accuracy": float(skm.accuracy_score(y, p)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, p)),
        "per_class": {
            name: {
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "support": int(support[k]),
            }
            for k, name in enumerate(classes)
        },
        "macro": {
            "precision": float(np.mean(precision)),
            "recall": float(np.mean(recall)),
            "f1": float(np.mean(f1)),
        },
        "confusion_matrix": skm.confusion_matrix(y, p, labels=labels).tolist(),
        "classes": list(classes),
    }
    roc_auc, pr_auc, roc_points, pr_points = {}, {}, {}, {}
    for k, name in enumerate(classes):
        positive = (y == k).astype(int)
        if positive.min() == positive.max():
            continue  # a class absent (or alone) in the test set has no curve
        fpr, tpr, _ = skm.roc_curve(positive, scores[:, k])
        prec, rec, _ = skm.precision_recall_curve(positive, scores[:, k])
        roc_auc[name] = float(skm.roc_auc_score(positive, scores[:, k]))
        pr_auc[name] = float(skm.average_precision_score(positive, scores[:, k]))
        roc_points[name] = _curve_points(fpr, tpr)
        pr_points[name] = _curve_points(rec, prec)
    if len(classes) == 2 and classes[1] in roc_auc:
        result["roc_auc"] = roc_auc[classes[1]]
        result["pr_auc"] = pr_auc[classes[1]]
    elif roc_auc:
        result["roc_auc"] = float(np.mean(list(roc_auc.values())))
        result["pr_auc"] = float(np.mean(list(pr_auc.values())))
    result["roc_auc_per_class"] = roc_auc
    result["pr_auc_per_class"] = pr_auc
    result["roc_points"] = roc_points
    result["pr_points"] = pr_points
    return result


def majority_baseline(
    train_truth: Sequence[int], test_truth: Sequence[int], classes: Sequence[str]
) -> dict[str, Any]:
    """The metrics of always predicting the training set's most frequent class."""
    counts = np.bincount(np.asarray(train_truth, dtype=int), minlength=len(classes))
    majority = int(np.argmax(counts))
    y = np.asarray(test_truth, dtype=int)
    scores = np.zeros((len(y), len(classes)))
    scores[:, majority] = 1.0
    predicted = [majority] * len(y)
    baseline = classification_metrics(y.tolist(), predicted, scores, classes)
    baseline["majority_class"] = classes[majority]
    return baseline


def metrics_table(model: dict[str, Any], baseline: dict[str, Any]) -> str:
    """A plain-text table of the headline metrics, model beside baseline."""
    rows: list[tuple[str, Any, Any]] = [("metric", "model", "majority baseline")]
    for name in ("accuracy", "balanced_accuracy", "roc_auc", "pr_auc"):
        rows.append((name, model.get(name), baseline.get(name)))
    for name in ("precision", "recall", "f1"):
        rows.append((f"macro_{name}", model["macro"][name], baseline["macro"][name]))
    for cls, values in model["per_class"].items():
        rows.append((f"f1[{cls}]", values["f1"], baseline["per_class"][cls]["f1"]))
    rows.append(("n (test frames)", model["n"], baseline["n"]))

    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    width = max(len(r[0]) for r in rows)
    lines = [f"{r[0]:<{width}}  {cell(r[1]):>8}  {cell(r[2]):>17}" for r in rows]
    return "\n".join(lines)
