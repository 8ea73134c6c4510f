"""The refusal of models that learned nothing, on scores with a known answer, and the line
that recommends one model over the other."""

from __future__ import annotations

import numpy as np
import pytest

from medspark.ml.learning_check import (
    chance_auc_bound,
    prior_scores,
    recommendation,
    why_not_learned,
)

CLASSES = ("normal", "pneumonia")


def _scores(positive: np.ndarray) -> np.ndarray:
    return np.stack([1 - positive, positive], axis=1)


def _truth(n: int = 200, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, n)


def test_a_model_that_separates_the_classes_is_kept():
    truth = _truth()
    scores = _scores(np.where(truth == 1, 0.8, 0.2))
    assert why_not_learned(truth, scores, truth, CLASSES) is None


def test_one_class_for_every_frame_is_refused_even_when_it_ranks_well():
    truth = _truth()
    scores = _scores(np.where(truth == 1, 0.99, 0.6))  # perfect ranking, all above 0.5
    reason = why_not_learned(truth, scores, truth, CLASSES)
    assert reason == "it predicts pneumonia for all 200 validation frames"


def test_a_ranking_within_chance_is_refused():
    truth = _truth()
    noise = np.random.default_rng(1).random(len(truth))
    reason = why_not_learned(truth, _scores(noise), truth, CLASSES)
    assert reason is not None and reason.startswith("its validation ROC AUC")
    assert "within chance" in reason


def test_confident_wrong_answers_lose_to_the_class_shares():
    """A ranking above chance but so badly calibrated that predicting the training class
    shares scores a lower loss."""
    truth = _truth(400)
    rng = np.random.default_rng(2)
    right = rng.random(len(truth)) < 0.75
    positive = np.where(right == (truth == 1), 0.999, 0.001)
    reason = why_not_learned(truth, _scores(positive), truth, CLASSES)
    assert reason is not None and "no better than predicting the class shares" in reason


def test_the_class_share_prediction_is_uniform_under_balanced_weights():
    training = np.array([0] * 10 + [1] * 90)
    assert np.allclose(prior_scores(training, 2, 3), 0.5)


def test_the_chance_bound_narrows_with_more_frames():
    assert chance_auc_bound(_truth(50), 2) > chance_auc_bound(_truth(5000), 2) > 0.5
    assert chance_auc_bound(np.zeros(10, dtype=np.int64), 2) == 1.0


@pytest.mark.parametrize(
    ("cnn", "mllib", "expected"),
    [
        (0.95, 0.97, "the MLlib model scored higher on the held-out patients than the CNN"),
        (0.99, 0.96, "the CNN scored higher on the held-out patients than the MLlib model"),
        (0.970, 0.968, "scored alike"),
    ],
)
def test_the_recommendation_names_the_better_model(cnn, mllib, expected):
    assert expected in recommendation(cnn, mllib)
    assert recommendation(cnn, None) is None
