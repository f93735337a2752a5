"""Non-local block (Wang et al. 2018) as PySlowFast places it in SlowFast R101+NL: attention over space-time."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import paddle
import paddle.nn.functional as F
from paddle import nn

from .conv3d_fast import permute
from .norm import Norm

INSTANTIATIONS = ("dot_product", "softmax")


@dataclass(frozen=True)
class NonLocalSpec:
    """Where and how one pathway of a stage gets non-local blocks (PySlowFast's NONLOCAL.* for that stage)."""

    after: Tuple[int, ...] = ()          # block indices after which a non-local block runs (LOCATION)
    group: int = 1                       # the clip is cut into `group` runs of T/group frames, each attended alone
    pool: Tuple[int, int, int] = (1, 2, 2)  # max-pool [t, h, w] of the keys and values (phi, g)
    instantiation: str = "dot_product"


class NonLocal(nn.Layer):
    """x + BN(conv_out(attention(theta(x), phi(x')) g(x'))), x' = maxpool(x); 1x1x1 convs with bias.

    `dot_product` divides the affinity theta^T phi by the number of key positions; `softmax` scales it by
    inner_channels**-0.5 and normalises each query's row. The BN starts with gamma 0 (`final_norm`), so the
    block is the identity at initialisation. Children `conv_theta`, `conv_phi`, `conv_g`, `conv_out`, `bn` are
    PySlowFast's names. `group` > 1 splits the T frames into `group` consecutive runs attended separately.
    """

    def __init__(self, channels: int, inner_channels: int, pool_size: Sequence[int] = (1, 1, 1),
                 instantiation: str = "softmax", *, group: int = 1, norm: Norm):
        super().__init__()
        if instantiation not in INSTANTIATIONS:
            raise ValueError(f"unknown non-local instantiation {instantiation!r}; expected one of {INSTANTIATIONS}")
        self.inner_channels, self.instantiation, self.group = inner_channels, instantiation, int(group)
        self.pool_size = [int(k) for k in pool_size] if any(int(k) > 1 for k in pool_size) else None
        self.conv_theta = nn.Conv3D(channels, inner_channels, kernel_size=1)
        self.conv_phi = nn.Conv3D(channels, inner_channels, kernel_size=1)
        self.conv_g = nn.Conv3D(channels, inner_channels, kernel_size=1)
        self.conv_out = nn.Conv3D(inner_channels, channels, kernel_size=1)
        self.bn = norm(channels)

    def matmul_macs(self, x: paddle.Tensor) -> int:
        """Multiply-adds of the two attention products on input `x` (fvcore's einsum count; the convs count apart)."""
        n, _, t, h, w = x.shape
        runs, frames = n * self.group, t // self.group
        kt, kh, kw = self.pool_size or (1, 1, 1)
        return 2 * runs * self.inner_channels * frames * h * w * (frames // kt) * (h // kh) * (w // kw)

    def final_norm(self) -> nn.Layer:
        """The BN closing the block: zero-initialised (PySlowFast's rule) so the block starts as the identity."""
        return self.bn

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self.group == 1:
            return self._attend(x)
        frames = x.shape[2]
        if frames > 0 and frames % self.group:
            raise ValueError(f"non-local group {self.group} does not divide the {frames} frames of its input")
        # [N, C, T, H, W] -> [N*group, C, T/group, H, W]: consecutive frames stay together, as PySlowFast folds time
        runs = _swap_ct(_swap_ct(x).reshape([-1, frames // self.group, 0, 0, 0]))
        return _swap_ct(_swap_ct(self._attend(runs)).reshape([-1, frames, 0, 0, 0]))

    def _attend(self, x: paddle.Tensor) -> paddle.Tensor:
        theta = self.conv_theta(x)                                  # [N, C', T, H, W]
        pooled = x if self.pool_size is None else F.max_pool3d(x, self.pool_size, stride=self.pool_size)
        query = theta.flatten(2)                                    # [N, C', THW]
        key = self.conv_phi(pooled).flatten(2)                      # [N, C', P]
        value = self.conv_g(pooled).flatten(2)                      # [N, C', P]
        affinity = _matmul(query, key, transpose_x=True)            # [N, THW, P]
        if self.instantiation == "softmax":
            affinity = F.softmax(affinity * self.inner_channels ** -0.5, axis=-1)
        else:
            affinity = affinity / paddle.shape(key)[-1].astype(affinity.dtype)  # P, read at run time in exports
        attended = _matmul(value, affinity, transpose_y=True)       # [N, C', THW]
        attended = paddle.reshape(attended, paddle.shape(theta))    # [N, C', T, H, W]
        return x + self.bn(self.conv_out(attended))


def _matmul(x: paddle.Tensor, y: paddle.Tensor, *, transpose_x: bool = False,
            transpose_y: bool = False) -> paddle.Tensor:
    """The batched product of 3-D tensors (op(x) @ op(y)), safe from the contraction of length 1 that Paddle
    Inference's oneDNN matmul (3.3.1, AVX-512 kernels) gets wrong: with a transposed operand it reads garbage, and
    the primitive it caches then spoils later products of the same shape. Length 1 (a tiny clip whose keys pool to
    one position) is an outer product, done as a broadcast multiply; an unknown length in a static program (an
    export with dynamic H, W) gets one zero appended, which adds nothing to the sums."""
    length = x.shape[1] if transpose_x else x.shape[-1]
    if length == 1:
        column = paddle.reshape(x, [0, -1, 1])                      # [N, M, 1] from [N, 1, M] or [N, M, 1]
        row = paddle.reshape(y, [0, 1, -1])                         # [N, 1, J] from [N, J, 1] or [N, 1, J]
        return column * row
    if length < 0:
        x = _append_zero(x, axis=1 if transpose_x else 2)
        y = _append_zero(y, axis=2 if transpose_y else 1)
    if paddle.in_dynamic_mode() or paddle.framework.in_pir_mode():
        return paddle.matmul(x, y, transpose_x=transpose_x, transpose_y=transpose_y)
    # a legacy (non-PIR) static program (`--legacy-format` export), where Paddle 3.3's paddle.matmul refuses
    return (x.transpose([0, 2, 1]) if transpose_x else x) @ (y.transpose([0, 2, 1]) if transpose_y else y)


def _append_zero(x: paddle.Tensor, axis: int) -> paddle.Tensor:
    """`x` with one slice of zeros appended along `axis`."""
    first = paddle.slice(x, axes=[axis], starts=[0], ends=[1])
    return paddle.concat([x, paddle.zeros_like(first)], axis=axis)


def _swap_ct(x: paddle.Tensor) -> paddle.Tensor:
    """[N, C, T, H, W] <-> [N, T, C, H, W], contiguous: in eager mode the next conv may run with stride kernels off."""
    return permute(x, [0, 2, 1, 3, 4]) if paddle.in_dynamic_mode() else x.transpose([0, 2, 1, 3, 4])
