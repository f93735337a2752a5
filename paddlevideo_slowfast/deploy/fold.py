"""Fold each BatchNorm that directly follows a convolution into that convolution's weight and bias, for export.

Paddle Inference's oneDNN passes fuse conv2d+BN but not conv3d+BN, so a SlowFast program keeps ~70 BN ops
unless they are folded before `paddle.jit.save`. The pairs are found by tracing one forward pass, so the
fold needs no knowledge of layer names and leaves a BN alone when its input is anything but a conv output.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import paddle
from paddle import nn

CONVS = (nn.Conv1D, nn.Conv2D, nn.Conv3D)
NORMS = (nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D, nn.BatchNorm)


def conv_bn_pairs(model: nn.Layer, inputs: Sequence[paddle.Tensor], mode: str = "infer") -> List[Tuple[str, str]]:
    """(conv name, bn name) for every BN whose input is exactly the output of one conv in a traced forward."""
    names = {id(layer): name for name, layer in model.named_sublayers()}
    produced: Dict[int, Tuple[str, paddle.Tensor]] = {}  # id(output) -> (conv name, output kept alive)
    consumers: Dict[str, List[str]] = {}                 # conv name -> BN names fed by it
    uses: Dict[str, int] = {}                            # conv name -> how many times it ran
    hooks = []

    def after_conv(layer, _inputs, output):
        name = names[id(layer)]
        uses[name] = uses.get(name, 0) + 1
        produced[id(output)] = (name, output)

    def before_norm(layer, layer_inputs):
        source = produced.get(id(layer_inputs[0]))
        if source is not None:
            consumers.setdefault(source[0], []).append(names[id(layer)])

    for layer in model.sublayers():
        if isinstance(layer, CONVS):
            hooks.append(layer.register_forward_post_hook(after_conv))
        elif isinstance(layer, NORMS):
            hooks.append(layer.register_forward_pre_hook(before_norm))
    try:
        with paddle.no_grad():
            model(list(inputs), mode=mode)
    finally:
        for hook in hooks:
            hook.remove()
    # a conv shared by several BNs, or run more than once, cannot take one BN's statistics
    return [(conv, bns[0]) for conv, bns in consumers.items() if len(bns) == 1 and uses[conv] == 1]


def fold_batchnorm(model: nn.Layer, inputs: Sequence[paddle.Tensor], mode: str = "infer") -> int:
    """Fold conv->BN pairs of an eval-mode `model` in place (BN becomes Identity); returns the number folded."""
    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode: BN must use its running statistics")
    pairs = conv_bn_pairs(model, inputs, mode)
    layers = dict(model.named_sublayers())
    for conv_name, bn_name in pairs:
        _fold_into(layers[conv_name], layers[bn_name])
        parent_name, _, attr = bn_name.rpartition(".")
        parent = layers[parent_name] if parent_name else model
        setattr(parent, attr, nn.Identity())
    return len(pairs)


def _fold_into(conv: nn.Layer, bn: nn.Layer) -> None:
    """w' = w * gamma / sqrt(var + eps) per output channel; b' = beta + (b - mean) * gamma / sqrt(var + eps)."""
    gamma = bn.weight.numpy().astype(np.float64)
    beta = bn.bias.numpy().astype(np.float64)
    mean = bn._mean.numpy().astype(np.float64)
    var = bn._variance.numpy().astype(np.float64)
    scale = gamma / np.sqrt(var + bn._epsilon)
    weight = conv.weight.numpy().astype(np.float64)
    conv.weight.set_value((weight * scale.reshape([-1] + [1] * (weight.ndim - 1))).astype(np.float32))
    old_bias = conv.bias.numpy().astype(np.float64) if conv.bias is not None else np.zeros_like(mean)
    bias = (beta + (old_bias - mean) * scale).astype(np.float32)
    if conv.bias is None:
        conv.bias = conv.create_parameter(shape=[bias.size], dtype="float32", is_bias=True)
    conv.bias.set_value(bias)
