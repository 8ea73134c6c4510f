"""Whether a trained model learned anything, judged on its own validation patients before it
is kept: a model that predicts one class, ranks no better than chance or scores worse than
predicting the class shares is refused with the reason."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

CHANCE_ERRORS = 2.0  # a ranking must beat 0.5 by this many standard errors of a chance AUC


def weighted_log_loss(truth: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """Class-weighted cross entropy (as the network is trained with) of probabilities."""
    picked = np.clip(scores[np.arange(len(truth)), truth], 1e-12, 1.0)
    frame_weights = weights[truth]
    return float(-(frame_weights * np.log(picked)).sum() / frame_weights.sum())


def class_weights(training_truth: Sequence[int] | np.ndarray, classes: int) -> np.ndarray:
    """n / (classes x n_class) per class, as training weighs them."""
    counts = np.maximum(np.bincount(np.asarray(training_truth), minlength=classes), 1)
    return counts.sum() / (classes * counts)


def prior_scores(training_truth: Sequence[int] | np.ndarray, classes: int, rows: int) -> np.ndarray:
    """The best constant prediction under the weighted loss: each class's weighted share."""
    counts = np.bincount(np.asarray(training_truth), minlength=classes).astype(float)
    shares = counts * class_weights(training_truth, classes)
    return np.tile(shares / shares.sum(), (rows, 1))


def chance_auc_bound(truth: np.ndarray, classes: int) -> float:
    """The ROC AUC a chance ranking stays under (0.5 plus CHANCE_ERRORS standard errors of the
    Mann-Whitney statistic for the smallest class against the rest)."""
    counts = np.bincount(truth, minlength=classes)
    small = int(counts[counts > 0].min()) if (counts > 0).any() else 0
    rest = len(truth) - small
    if small == 0 or rest == 0:
        return 1.0
    return 0.5 + CHANCE_ERRORS * math.sqrt((small + rest + 1) / (12 * small * rest))


def _auc(truth: np.ndarray, scores: np.ndarray, classes: int) -> float:
    if classes == 2:
        return float(roc_auc_score(truth, scores[:, 1]))
    return float(roc_auc_score(truth, scores, multi_class="ovr", labels=list(range(classes))))


def why_not_learned(
    validation_truth: Sequence[int] | np.ndarray,
    validation_scores: np.ndarray,
    training_truth: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
) -> str | None:
    """None when the model learned something on its validation frames; else the reason, one
    sentence naming the numbers."""
    truth = np.asarray(validation_truth, dtype=np.int64)
    scores = np.asarray(validation_scores, dtype=np.float64)
    classes = len(class_names)
    frames = len(truth)
    predicted = np.unique(scores.argmax(axis=1))
    if len(predicted) == 1:
        return f"it predicts {class_names[int(predicted[0])]} for all {frames} validation frames"
    if len(np.unique(truth)) < 2:
        return None
    auc = _auc(truth, scores, classes)
    bound = chance_auc_bound(truth, classes)
    if auc <= bound:
        return (
            f"its validation ROC AUC {auc:.3f} is within chance (at most {bound:.3f} "
            f"on {frames} frames)"
        )
    weights = class_weights(training_truth, classes)
    loss = weighted_log_loss(truth, scores, weights)
    prior = weighted_log_loss(truth, prior_scores(training_truth, classes, frames), weights)
    if loss >= prior:
        return (
            f"its validation loss {loss:.3f} is no better than predicting the class shares "
            f"({prior:.3f})"
        )
    return None


def recommendation(cnn_auc: float | None, mllib_auc: float | None) -> str | None:
    """Which model to use, by held-out ROC AUC on the same patients, as one line."""
    if cnn_auc is None or mllib_auc is None:
        return None
    if abs(cnn_auc - mllib_auc) < 0.005:
        return (
            f"the CNN and the MLlib model scored alike on the held-out patients (ROC AUC "
            f"{cnn_auc:.3f} and {mllib_auc:.3f}): the MLlib model is the cheaper to run"
        )
    better, worse = ("CNN", "MLlib model") if cnn_auc > mllib_auc else ("MLlib model", "CNN")
    high, low = max(cnn_auc, mllib_auc), min(cnn_auc, mllib_auc)
    return (
        f"the {better} scored higher on the held-out patients than the {worse} "
        f"(ROC AUC {high:.3f} against {low:.3f})"
    )
