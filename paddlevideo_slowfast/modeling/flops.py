"""Parameter and multiply-add counts of a model on a given input: conv and FC multiply-adds (and the attention
products of non-local blocks, as fvcore counts einsums), one MAC = 1.

The published SlowFast numbers (27.8 GMAC for R50 4x16 at 224, 50.6 for 8x8, 36.3 at 256) were measured
with fvcore, which also charges 2 per element of each eval-mode affine BN; `fvcore=True` adds that term
(about 0.2 G for R50) so the two conventions can be compared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List

import paddle
from paddle import nn

_CONVS = (nn.Conv1D, nn.Conv2D, nn.Conv3D)
_NORMS = (nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D, nn.BatchNorm)


@dataclass
class Block:
    """One sublayer at the profiled depth: its output shapes, parameters and multiply-adds."""

    name: str
    output_shapes: List[List[int]] = field(default_factory=list)
    params: int = 0
    macs: int = 0          # conv + FC multiply-adds (+ non-local attention products)
    bn_elements: int = 0   # BN output elements (fvcore charges 2 each)

    def total(self, fvcore: bool = False) -> int:
        return self.macs + (2 * self.bn_elements if fvcore else 0)


def count_parameters(model: nn.Layer, trainable_only: bool = True) -> int:
    """Number of parameter elements (BN running statistics are buffers and never count)."""
    return sum(math.prod(p.shape) for p in model.parameters() if not (trainable_only and p.stop_gradient))


def layer_macs(layer: nn.Layer, output: paddle.Tensor) -> int:
    """Multiply-adds of one conv or FC call that produced `output` (0 for other layers)."""
    if isinstance(layer, _CONVS):
        weight = layer.weight.shape  # [out, in/groups, *kernel]: each output element costs in/groups * kernel
        return math.prod(output.shape) * math.prod(weight[1:])
    if isinstance(layer, nn.Linear):
        return math.prod(output.shape) * layer.weight.shape[0]
    return 0


def count_macs(model: nn.Layer, inputs: Any, *, fvcore: bool = False) -> int:
    """Conv + FC multiply-adds of `model(inputs)` for the whole batch (plus 2 per BN element with `fvcore`)."""
    return sum(block.total(fvcore) for block in profile(model, inputs, depth=0))


def profile(model: nn.Layer, inputs: Any, depth: int = 2) -> List[Block]:
    """Run `model(inputs)` once in eval mode without gradients and cost it per sublayer `depth` levels down.

    depth=2 on a Recognizer3D gives backbone.s1, backbone.s1_fuse, ..., head.projection in execution order.
    """
    blocks: Dict[str, Block] = {}
    handles = []

    def block_name(name: str) -> str:
        return ".".join(name.split(".")[:depth]) if depth else ""

    def cost_hook(name: str):
        def hook(layer, _inputs, output):
            block = blocks.setdefault(block_name(name), Block(block_name(name)))
            if isinstance(layer, _NORMS):
                block.bn_elements += math.prod(output.shape)
            else:
                block.macs += layer_macs(layer, output)
        return hook

    def matmul_hook(name: str):
        def hook(layer, inputs, _output):
            block = blocks.setdefault(block_name(name), Block(block_name(name)))
            block.macs += layer.matmul_macs(inputs[0])
        return hook

    def shape_hook(name: str):
        def hook(layer, _inputs, output):
            outs = output if isinstance(output, (list, tuple)) else [output]
            blocks.setdefault(name, Block(name)).output_shapes = [list(o.shape) for o in outs]
        return hook

    for name, layer in model.named_sublayers():
        if isinstance(layer, _CONVS + _NORMS + (nn.Linear,)):
            handles.append(layer.register_forward_post_hook(cost_hook(name)))
        elif callable(getattr(layer, "matmul_macs", None)):  # products outside any layer: non-local attention
            handles.append(layer.register_forward_post_hook(matmul_hook(name)))
        if depth and len(name.split(".")) == depth:
            handles.append(layer.register_forward_post_hook(shape_hook(name)))
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
        if was_training:
            model.train()
    sublayers = dict(model.named_sublayers())
    for name, block in blocks.items():
        if name in sublayers:
            block.params = count_parameters(sublayers[name], trainable_only=False)
    return list(blocks.values())
