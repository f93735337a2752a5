"""Residual stages: bottleneck blocks (Tx1x1, 1x3x3, 1x1x1) for every pathway of one resN stage."""
from __future__ import annotations

from typing import List, Optional, Sequence, Union

import paddle
import paddle.nn.functional as F
from paddle import nn

from .conv3d_fast import FastConv3D
from .nonlocal_block import NonLocal, NonLocalSpec
from .norm import Norm


class Bottleneck(nn.Layer):
    """The residual branch: Tx1x1 conv, 1x3x3 conv (spatial stride and dilation), 1x1x1 conv; BN after each.

    `fast_conv`: the Tx1x1 conv may take FastConv3D's CPU eager path (same maths).
    """

    def __init__(self, in_channels: int, out_channels: int, inner_channels: int, temporal_kernel: int,
                 stride: int, *, groups: int = 1, dilation: int = 1, norm: Norm, fast_conv: bool = False):
        super().__init__()
        self.a = FastConv3D(in_channels, inner_channels, kernel_size=[temporal_kernel, 1, 1],
                            padding=[temporal_kernel // 2, 0, 0], bias_attr=False,
                            fast=fast_conv and temporal_kernel > 1)
        self.a_bn = norm(inner_channels)
        self.b = nn.Conv3D(inner_channels, inner_channels, kernel_size=[1, 3, 3], stride=[1, stride, stride],
                           padding=[0, dilation, dilation], dilation=[1, dilation, dilation], groups=groups,
                           bias_attr=False)
        self.b_bn = norm(inner_channels)
        self.c = nn.Conv3D(inner_channels, out_channels, kernel_size=1, bias_attr=False)
        self.c_bn = norm(out_channels)

    def final_norm(self) -> nn.Layer:
        """The BN closing the branch: zero-initialised so each block starts as the identity."""
        return self.c_bn

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = F.relu(self.a_bn(self.a(x)))
        x = F.relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class ResBlock(nn.Layer):
    """relu(shortcut(x) + branch2(x)); the shortcut projects (`branch1`) when width or stride change."""

    def __init__(self, in_channels: int, out_channels: int, inner_channels: int, temporal_kernel: int,
                 stride: int, *, groups: int = 1, dilation: int = 1, norm: Norm, fast_conv: bool = False):
        super().__init__()
        self.has_projection = in_channels != out_channels or stride != 1
        if self.has_projection:
            self.branch1 = nn.Conv3D(in_channels, out_channels, kernel_size=1, stride=[1, stride, stride],
                                     bias_attr=False)
            self.branch1_bn = norm(out_channels)
        self.branch2 = Bottleneck(in_channels, out_channels, inner_channels, temporal_kernel, stride,
                                  groups=groups, dilation=dilation, norm=norm, fast_conv=fast_conv)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        shortcut = self.branch1_bn(self.branch1(x)) if self.has_projection else x
        return F.relu(shortcut + self.branch2(x))


class ResStage(nn.Layer):
    """`num_blocks` ResBlocks per pathway, named `pathway{p}_res{i}`; the first block takes the stride.

    Per pathway i: `temporal_kernels[i]` is one kernel for every block or a list with one per block (PySlowFast's
    NUM_BLOCK_TEMP_KERNEL gives the leading blocks the stage's kernel and the rest 1); `dilations[i]` dilates
    the 1x3x3 convs; `nonlocal_specs[i]` inserts a NonLocal `pathway{p}_nonlocal{b}` after each block b it lists;
    `fast_conv[i]` lets the Tx1x1 convs take FastConv3D's CPU eager path (same maths).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int], inner_channels: Sequence[int],
                 temporal_kernels: Sequence[Union[int, Sequence[int]]], strides: Sequence[int],
                 pathway_ids: Sequence[int], *, num_blocks: int, groups: int = 1, norm: Norm,
                 fast_conv: Optional[Sequence[bool]] = None, dilations: Optional[Sequence[int]] = None,
                 nonlocal_specs: Optional[Sequence[NonLocalSpec]] = None):
        super().__init__()
        self._names: List[List[str]] = []  # per pathway, the sublayers in forward order
        fast_conv = fast_conv or [False] * len(pathway_ids)
        dilations = dilations or [1] * len(pathway_ids)
        nonlocal_specs = nonlocal_specs or [NonLocalSpec()] * len(pathway_ids)
        for i, p in enumerate(pathway_ids):
            kernels = temporal_kernels[i]
            kernels = [kernels] * num_blocks if isinstance(kernels, int) else list(kernels)
            spec = nonlocal_specs[i]
            names = []
            for b in range(num_blocks):
                names.append(f"pathway{p}_res{b}")
                self.add_sublayer(names[-1], ResBlock(in_channels[i] if b == 0 else out_channels[i], out_channels[i],
                                                      inner_channels[i], kernels[b], strides[i] if b == 0 else 1,
                                                      groups=groups, dilation=dilations[i], norm=norm,
                                                      fast_conv=fast_conv[i]))
                if b in spec.after:
                    names.append(f"pathway{p}_nonlocal{b}")
                    self.add_sublayer(names[-1], NonLocal(out_channels[i], out_channels[i] // 2, spec.pool,
                                                          spec.instantiation, group=spec.group, norm=norm))
            self._names.append(names)

    def forward(self, xs: List[paddle.Tensor]) -> List[paddle.Tensor]:
        out = []
        for names, x in zip(self._names, xs):
            for name in names:
                x = getattr(self, name)(x)
            out.append(x)
        return out
