"""The CNN recipe's parts: batch statistics calibrated exactly before evaluation (the moving
averages of a few hundred steps lag far behind the weights), the learning-rate schedule in
steps, and global batches shared by the processes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from medspark.ml import cnn
from tests.conftest import needs


@pytest.fixture
def torch():
    needs(cnn.torch_available(), "PyTorch (scripts/install.sh --deep)")
    import torch

    return torch


def test_calibrated_statistics_are_the_exact_averages_over_the_images(torch):
    network = cnn.build_network(2)
    images = torch.from_numpy(np.random.default_rng(0).normal(3.0, 2.0, (300, 64, 64)))
    images = images.float()
    cnn.calibrate_batch_norm(network, images, batch_size=100)
    first_conv, first_norm = network[0], network[1]
    with torch.no_grad():
        responses = first_conv(images.unsqueeze(1))
    expected = responses.mean(dim=(0, 2, 3))
    assert torch.allclose(first_norm.running_mean, expected, atol=1e-4)
    assert first_norm.momentum == 0.1 and network.training  # both as they were


def test_the_learning_rate_warms_up_then_decays_to_zero():
    factors = [cnn.learning_rate_factor(step, 600, 0.05) for step in range(600)]
    assert factors[0] == pytest.approx(1 / 30) and factors[29] == pytest.approx(1.0)
    assert max(factors) == pytest.approx(1.0) and factors[-1] < 0.001
    assert all(a >= b for a, b in itertools.pairwise(factors[30:]))


def test_every_process_takes_its_share_of_the_same_global_batch(torch):
    shares = []
    for rank in (0, 1):
        generator = torch.Generator().manual_seed(5)
        batches = cnn._batches(10, 4, generator, rank, 2)
        shares.append([next(batches).tolist() for _ in range(5)])
    for first, second in zip(*shares, strict=True):
        assert len(first) == len(second) == 2 and not set(first) & set(second)
