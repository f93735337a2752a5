"""Models for benchmarks and export checks that behave like trained ones without training."""
from __future__ import annotations

import numpy as np


def trained_like_bn(model, seed: int = 1) -> None:
    """Give every BatchNorm3D trained-like statistics and affine terms, in place.

    A fresh BN (mean 0, variance 1, scale 1, shift 0) folds into its conv as a no-op, so folding and parity
    checks on a fresh model would prove nothing.
    """
    import paddle

    rng = np.random.default_rng(seed)
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm3D):
            c = layer._mean.shape[0]
            layer._mean.set_value((rng.standard_normal(c) * 0.05).astype(np.float32))
            layer._variance.set_value((rng.random(c) * 0.5 + 0.75).astype(np.float32))
            layer.weight.set_value((rng.random(c) * 0.4 + 0.3).astype(np.float32))
            layer.bias.set_value((rng.standard_normal(c) * 0.05).astype(np.float32))
