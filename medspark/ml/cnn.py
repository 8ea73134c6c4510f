"""A small convolutional network over medspark's preprocessed arrays (no Spark): its input
preparation, augmentation, the training function each TorchDistributor process runs, inference
and ONNX export. PyTorch is the optional extra `medspark[deep]`.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from medspark.ml.learning_check import class_weights

INPUT_SIZE = 64
CALIBRATION_IMAGES = 512  # training images whose batch statistics evaluation uses


@dataclass(frozen=True)
class TrainingPlan:
    """What one training run needs: its data file, where to save, and the schedule, counted
    in optimiser steps (one step = one global batch, however many processes share it); the
    schedule's values come from the profile (`model.cnn`, config.CnnSettings)."""

    data_file: str  # .npz: train_x, train_y, validation_x, validation_y (float32, int64)
    weights_file: str
    classes: int
    steps: int
    evaluate_every: int
    patience: int  # steps without a better validation loss before stopping
    batch_size: int
    learning_rate: float
    seed: int
    warmup: float = 0.05  # share of the steps over which the learning rate rises
    flip: bool = False  # left-right flips: not for chest radiographs (the heart is on one side)


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def network_input(npz: bytes, size: int = INPUT_SIZE) -> np.ndarray:
    """A preprocessed array (tensor_npz) as the network takes it: one channel, `size` square,
    zero mean and unit variance per image."""
    with np.load(io.BytesIO(npz)) as arrays:
        values = arrays["values"].astype(np.float32)
    if values.ndim == 3:
        values = values.mean(axis=-1)
    values = cv2.resize(values, (size, size), interpolation=cv2.INTER_AREA)
    spread = float(values.std())
    return ((values - float(values.mean())) / (spread if spread > 0 else 1.0)).astype(np.float32)


def build_network(classes: int):
    """Three convolution blocks, global average pooling and a linear layer: ~25k weights."""
    from torch import nn

    def block(inputs: int, outputs: int) -> list:
        return [
            nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True),
            nn.Conv2d(outputs, outputs, 3, padding=1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]

    return nn.Sequential(
        *block(1, 16),
        *block(16, 32),
        *block(32, 48),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(48, classes),
    )


def _augment(batch, generator, flip: bool):
    """Radiograph-safe augmentation: rotation up to 8 degrees, shifts up to 6 %, zoom 0.9-1.1,
    contrast and brightness jitter; left-right flips only when the plan allows them."""
    import torch
    import torch.nn.functional as functional

    n = batch.shape[0]
    angle = (torch.rand(n, generator=generator) - 0.5) * (2 * np.pi * 8 / 180)
    scale = 0.9 + 0.2 * torch.rand(n, generator=generator)
    shift = (torch.rand(n, 2, generator=generator) - 0.5) * 0.12
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    if flip:
        mirrored = torch.rand(n, generator=generator) < 0.5
        theta[mirrored, 0, :] *= torch.tensor([-1.0, -1.0, 1.0])
    grid = functional.affine_grid(theta, list(batch.shape), align_corners=False)
    moved = functional.grid_sample(batch, grid, padding_mode="border", align_corners=False)
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.2
    offset = (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.2
    return moved * gain + offset


def calibrate_batch_norm(network, images, batch_size: int = 256) -> None:
    """Replace the batch-norm layers' running statistics by their exact averages over `images`
    (n, size, size) under the current weights, as evaluation needs them; training's moving
    averages lag far behind weights that change quickly over a few hundred steps."""
    import torch

    layers = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not layers or len(images) == 0:
        return
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average over the batches below
    was_training = network.training
    network.train()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            network(images[start : start + batch_size].unsqueeze(1))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    network.train(was_training)


def learning_rate_factor(step: int, steps: int, warmup: float) -> float:
    """Linear warm-up over the first `warmup` share of the steps, then cosine decay to zero."""
    rise = max(1, round(steps * warmup))
    if step < rise:
        return (step + 1) / rise
    return 0.5 * (1 + np.cos(np.pi * (step - rise) / max(1, steps - rise)))


def _batches(count: int, batch: int, generator, rank: int, world: int):
    """Endless per-process index batches: each pass a new shuffle shared by every process (the
    same generator seed), the process taking its own share of each global batch."""
    import torch

    while True:
        order = torch.randperm(count, generator=generator)
        for start in range(0, count - batch + 1 if count >= batch else 1, batch):
            global_batch = order[start : start + batch]
            yield global_batch[rank::world]


def train_process(plan: dict[str, Any]) -> dict[str, Any]:
    """One TorchDistributor process: DistributedDataParallel over gloo when there are several,
    class-weighted cross entropy, `steps` optimiser steps of one global batch each with warm-up
    and cosine decay; every `evaluate_every` steps the validation patients' loss under exactly
    calibrated batch statistics, stopping after `patience` steps without a better one; rank 0
    saves the best weights. Returns the validation curve (every rank computes the same one)."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    settings = TrainingPlan(**plan)
    torch.set_num_threads(1)
    torch.manual_seed(settings.seed)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    with np.load(settings.data_file) as data:
        train_x, train_y = torch.from_numpy(data["train_x"]), torch.from_numpy(data["train_y"])
        valid_x, valid_y = (
            torch.from_numpy(data["validation_x"]),
            torch.from_numpy(data["validation_y"]),
        )
    weights = torch.from_numpy(class_weights(train_y.numpy(), settings.classes)).float()
    network = build_network(settings.classes)
    model = DistributedDataParallel(network) if distributed else network
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: learning_rate_factor(step, settings.steps, settings.warmup)
    )
    loss_of = torch.nn.CrossEntropyLoss(weight=weights)
    shuffle = torch.Generator().manual_seed(settings.seed)
    augment = torch.Generator().manual_seed(settings.seed + 1 + rank)
    batches = _batches(len(train_y), settings.batch_size, shuffle, rank, world)
    calibration = train_x[torch.randperm(len(train_y), generator=shuffle)[:CALIBRATION_IMAGES]]
    curve, best, best_step = [], float("inf"), 0
    for step in range(1, settings.steps + 1):
        model.train()
        chosen = next(batches)
        optimiser.zero_grad()
        images = _augment(train_x[chosen].unsqueeze(1), augment, settings.flip)
        loss_of(model(images), train_y[chosen]).backward()
        optimiser.step()
        schedule.step()
        if step % settings.evaluate_every and step != settings.steps:
            continue
        calibrate_batch_norm(network, calibration)
        network.eval()
        with torch.no_grad():
            validation = float(loss_of(network(valid_x.unsqueeze(1)), valid_y))
        curve.append({"step": step, "validation_loss": round(validation, 5)})
        if validation < best - 1e-4:
            best, best_step = validation, step
            if rank == 0:
                torch.save(network.state_dict(), settings.weights_file)
        elif step - best_step >= settings.patience:
            break
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return {
        "curve": curve,
        "best_step": best_step,
        "best_validation_loss": round(best, 5),
        "steps_run": curve[-1]["step"] if curve else 0,
        "world_size": world,
        "plan": asdict(settings),
    }


def load_network(weights_file: str, classes: int):
    """The saved network, in evaluation mode, one thread."""
    import torch

    network = build_network(classes)
    network.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True))
    return network.eval()


def probabilities(network, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Softmax class probabilities of (n, size, size) inputs."""
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size]))
            out.append(torch.softmax(network(batch.unsqueeze(1)), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def export_onnx(network, path: str, size: int = INPUT_SIZE) -> None:
    """The network with its softmax as ONNX (opset 17), batch size free, for serving without
    PyTorch (onnxruntime)."""
    import torch

    wrapped = torch.nn.Sequential(network, torch.nn.Softmax(dim=1)).eval()
    example = torch.zeros(1, 1, size, size)
    with warnings.catch_warnings():  # the TorchScript exporter: no onnxscript dependency
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(torch, wrapped, example, path)


def _export(torch, wrapped, example, path: str) -> None:
    torch.onnx.export(
        wrapped,
        (example,),
        path,
        dynamo=False,
        opset_version=17,
        input_names=["image"],
        output_names=["probability"],
        dynamic_axes={"image": {0: "batch"}, "probability": {0: "batch"}},
    )
