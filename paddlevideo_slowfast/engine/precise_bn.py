"""PreciseBN: before validation, recompute BN running statistics as the true mean over training batches."""
from __future__ import annotations

import itertools
from typing import Callable, Iterable


def recompute_bn_stats(model, batches: Iterable, num_iters: int, forward: Callable) -> int:
    """Set every BN layer's mean/variance to the average of per-batch statistics over `num_iters` batches.

    `forward(batch)` runs the model in train mode. Returns how many batches were used. A layer with a
    `running_stats()` method (multigrid's sub-batch BN) names the averages its training forward updates.
    """
    import paddle

    bn_types = (paddle.nn.BatchNorm1D, paddle.nn.BatchNorm2D, paddle.nn.BatchNorm3D, paddle.nn.BatchNorm)
    layers = [m for m in model.sublayers() if isinstance(m, bn_types)]
    if not layers or num_iters <= 0:
        return 0
    was_training = model.training
    model.train()
    momenta = [bn._momentum for bn in layers]
    stats = [bn.running_stats() if hasattr(bn, "running_stats") else (bn._mean, bn._variance) for bn in layers]
    means = [paddle.zeros_like(mean) for mean, _ in stats]
    variances = [paddle.zeros_like(variance) for _, variance in stats]
    used = 0
    with paddle.no_grad():
        for bn in layers:
            bn._momentum = 0.0  # the running stats become exactly this batch's stats
        for used, batch in enumerate(itertools.islice(batches, num_iters), start=1):
            forward(batch)
            for i, (mean, variance) in enumerate(stats):
                means[i] += (mean - means[i]) / used
                variances[i] += (variance - variances[i]) / used
        for i, (mean, variance) in enumerate(stats):
            layers[i]._momentum = momenta[i]
            if used:
                mean.set_value(means[i])
                variance.set_value(variances[i])
    if not was_training:
        model.eval()
    return used
