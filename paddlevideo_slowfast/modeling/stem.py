"""Stem of each pathway: a T x 7 x 7 conv at spatial stride 2, BN, ReLU, then a 1 x 3 x 3 max pool at stride 2."""
from __future__ import annotations

from typing import List, Optional, Sequence

import paddle
import paddle.nn.functional as F
from paddle import nn

from .conv3d_fast import FastConv3D
from .norm import Norm


class PathwayStem(nn.Layer):
    """conv1 + pool1 of one pathway (PaddleVideo's ResNetBasicStem: state keys `_conv`, `_bn`)."""

    def __init__(self, in_channels: int, out_channels: int, temporal_kernel: int, *, norm: Norm,
                 spatial_kernel: int = 7, fast_conv: bool = False):
        super().__init__()
        self.out_channels = out_channels
        self._conv = FastConv3D(in_channels, out_channels,
                                kernel_size=[temporal_kernel, spatial_kernel, spatial_kernel],
                                stride=[1, 2, 2],
                                padding=[temporal_kernel // 2, spatial_kernel // 2, spatial_kernel // 2],
                                bias_attr=False, fast=fast_conv)
        self._bn = norm(out_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        # [N, C, T, H, W] -> [N, out, T, H/4, W/4]
        x = F.relu(self._bn(self._conv(x)))
        return F.max_pool3d(x, kernel_size=[1, 3, 3], stride=[1, 2, 2], padding=[0, 1, 1])


class MultiPathwayStem(nn.Layer):
    """One PathwayStem per pathway, named `pathway{p}_stem` as in PaddleVideo's checkpoints.

    `fast_conv[i]`: pathway i's conv may take FastConv3D's CPU eager path (same maths).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int],
                 temporal_kernels: Sequence[int], pathway_ids: Sequence[int], *, norm: Norm,
                 fast_conv: Optional[Sequence[bool]] = None):
        super().__init__()
        self._names = [f"pathway{p}_stem" for p in pathway_ids]
        fast_conv = fast_conv or [False] * len(self._names)
        for name, c_in, c_out, kt, fast in zip(self._names, in_channels, out_channels, temporal_kernels, fast_conv):
            self.add_sublayer(name, PathwayStem(c_in, c_out, kt, norm=norm, fast_conv=fast))

    def forward(self, xs: List[paddle.Tensor]) -> List[paddle.Tensor]:
        return [getattr(self, name)(x) for name, x in zip(self._names, xs)]
