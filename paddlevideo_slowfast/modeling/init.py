"""PySlowFast's initialisation, seeded: Kaiming-normal (fan_out) convs, BN 1/0, zero final BN, FC N(0, 0.01)."""
from __future__ import annotations

import math

import numpy as np
import paddle
from paddle import nn

_CONVS = (nn.Conv1D, nn.Conv2D, nn.Conv3D)
_NORMS = (nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D, nn.BatchNorm)


def initialize(model: nn.Layer, *, seed: int = 0, zero_init_final_bn: bool = True, fc_std: float = 0.01) -> None:
    """Re-initialise every conv, BN and FC of `model` in place from a NumPy generator seeded with `seed`.

    `zero_init_final_bn` zeroes the scale of the last BN of each residual branch (any layer with a
    `final_norm()` method), so every block starts as the identity (Goyal et al. 2017).
    """
    rng = np.random.default_rng(seed)
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, _CONVS):
            shape = layer.weight.shape  # [out, in/groups, *kernel]: fan_out = out * kernel volume
            fan_out = shape[0] * math.prod(shape[2:])
            _fill(layer.weight, rng.standard_normal(shape, dtype=np.float32) * math.sqrt(2.0 / fan_out))
            if layer.bias is not None:
                _fill(layer.bias, 0.0)
        elif isinstance(layer, _NORMS):
            _fill(layer.weight, 1.0)
            _fill(layer.bias, 0.0)
            _fill(layer._mean, 0.0)
            _fill(layer._variance, 1.0)
        elif isinstance(layer, nn.Linear):
            _fill(layer.weight, rng.standard_normal(layer.weight.shape, dtype=np.float32) * fc_std)
            if layer.bias is not None:
                _fill(layer.bias, 0.0)
    if zero_init_final_bn:
        for layer in model.sublayers(include_self=True):
            if callable(getattr(layer, "final_norm", None)):
                _fill(layer.final_norm().weight, 0.0)


def _fill(param: paddle.Tensor, value) -> None:
    """Set a float32 parameter or buffer to an array or a constant."""
    param.set_value(np.broadcast_to(np.asarray(value, dtype=np.float32), param.shape).copy())
