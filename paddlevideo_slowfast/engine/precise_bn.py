"""PreciseBN: before validation, recompute BN running statistics as the true mean over training batches."""
from __future__ import annotations

import itertools
from typing import Callable, Iterable


def recompute_bn_stats(model, batches: Iterable, num_iters: int, forward: Callable) -> int:
    """Set every BN layer's mean/variance to the average of per-batch statistics over `num_iters` batches.

    `forward(batch)` runs the model in train mode. Returns how many batches were used.
    """
    import paddle

    bn_types = (paddle.nn.BatchNorm1D, paddle.nn.BatchNorm2D, paddle.nn.BatchNorm3D, paddle.nn.BatchNorm)
    layers = [m for m in model.sublayers() if isinstance(m, bn_types)]
    if not layers or num_iters <= 0:
        return 0
    was_training = model.training
    model.train()
    momenta = [bn._momentum for bn in layers]
    means = [paddle.zeros_like(bn._mean) for bn in layers]
    variances = [paddle.zeros_like(bn._variance) for bn in layers]
    used = 0
    with paddle.no_grad():
        for bn in layers:
            bn._momentum = 0.0  # the running stats become exactly this batch's stats
        for used, batch in enumerate(itertools.islice(batches, num_iters), start=1):
            forward(batch)
            for i, bn in enumerate(layers):
                means[i] += (bn._mean - means[i]) / used
                variances[i] += (bn._variance - variances[i]) / used
        for i, bn in enumerate(layers):
            bn._momentum = momenta[i]
            if used:
                bn._mean.set_value(means[i])
                bn._variance.set_value(variances[i])
    if not was_training:
        model.eval()
    return used
