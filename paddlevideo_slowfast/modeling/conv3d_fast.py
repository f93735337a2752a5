"""Exact re-formulations of conv3d for Paddle's CPU eager mode, where conv3d is vol2col + one sgemm.

Paddle's eager CPU conv3d unfolds a whole clip into one column buffer and multiplies it by the weight.
For the Fast pathway's stem (8 outputs, 3x5x7x7 kernel, 32 frames at 224) that buffer is 1.2 GB per clip
for a GEMM with 8 rows: memory-bound, about half of a forward pass. `temporal_fold_conv3d` computes the
same sums as one conv2d over single frames with kt*O outputs (a per-frame column buffer that stays in
cache and a GEMM kt times taller) followed by a 0/1 matrix product that adds each tap's output at its
time shift. Same maths, float rounding aside; see docs/paddle_cpu_limits.md for the measurements.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn
from paddle.autograd import PyLayer

_SHIFT_CACHE: Dict[Tuple, paddle.Tensor] = {}


class _Permute(PyLayer):
    """transpose that copies with Paddle's dense transpose kernel, forward and backward.

    With stride kernels on (Paddle 3's default) `transpose` returns a view and the next op copies it
    with a generic strided kernel about 6x slower than the dense one; the flag is restored on exit.
    """

    @staticmethod
    def forward(ctx, x: paddle.Tensor, perm: Sequence[int]) -> paddle.Tensor:
        ctx.inverse = [int(i) for i in np.argsort(perm)]
        with _dense_views():
            return paddle.transpose(x, list(perm))

    @staticmethod
    def backward(ctx, grad: paddle.Tensor) -> paddle.Tensor:
        with _dense_views():
            return paddle.transpose(grad, ctx.inverse)


@contextmanager
def _dense_views() -> Iterator[None]:
    """View ops (transpose, slice) run their copying kernels in the block instead of returning strided views.

    The flag is process-wide: an op of another thread in the block only changes speed, not its result.
    """
    saved = paddle.get_flags(["FLAGS_use_stride_kernel"])["FLAGS_use_stride_kernel"]
    paddle.set_flags({"FLAGS_use_stride_kernel": False})
    try:
        yield
    finally:
        paddle.set_flags({"FLAGS_use_stride_kernel": saved})


def permute(x: paddle.Tensor, perm: Sequence[int]) -> paddle.Tensor:
    """A contiguous transpose of `x` (gradient included) without Paddle's slow strided copy."""
    return _Permute.apply(x, tuple(perm))


def shift_matrix(frames: int, kernel: int, stride: int, padding: int, *, dtype: str = "float32") -> paddle.Tensor:
    """S [T_out, frames*kernel] with S[t, t'*kernel + d] = 1 where t' = t*stride + d - padding is a frame.

    out[t] = sum_d tap_d[t*stride + d - padding] is then S @ taps with taps laid out [(t', d), ...];
    frames outside the clip (the zero padding) simply have no 1.
    """
    key = (frames, kernel, stride, padding, dtype, str(paddle.get_device()))
    if key not in _SHIFT_CACHE:
        out_frames = (frames + 2 * padding - kernel) // stride + 1
        s = np.zeros((out_frames, frames, kernel), dtype=dtype)
        for t in range(out_frames):
            for d in range(kernel):
                source = t * stride + d - padding
                if 0 <= source < frames:
                    s[t, source, d] = 1
        _SHIFT_CACHE[key] = paddle.to_tensor(s.reshape(out_frames, frames * kernel))
    return _SHIFT_CACHE[key]


def temporal_fold_conv3d(x: paddle.Tensor, weight: paddle.Tensor, bias: Optional[paddle.Tensor] = None, *,
                         stride: Sequence[int], padding: Sequence[int]) -> paddle.Tensor:
    """conv3d(x, weight, bias) (groups 1, no dilation) as a conv2d over frames plus a time-shift matmul.

    x [N, C, T, H, W], weight [O, C, kt, kh, kw] -> [N, O, T', H', W'] as F.conv3d with the same stride
    and padding (temporal ones included).
    """
    n, c, t, h, w = x.shape
    o, _, kt, kh, kw = weight.shape
    frames = permute(x, [0, 2, 1, 3, 4]).reshape([n * t, c, h, w])             # [N*T, C, H, W]
    taps = permute(weight, [2, 0, 1, 3, 4]).reshape([kt * o, c, kh, kw])      # channel d*O + o
    y = F.conv2d(frames, taps, stride=list(stride[1:]), padding=list(padding[1:]))  # [N*T, kt*O, H', W']
    ho, wo = y.shape[2:]
    y = y.reshape([n, t * kt, o * ho * wo])                                    # rows (t', d)
    out = paddle.matmul(shift_matrix(t, kt, stride[0], padding[0], dtype=str(x.dtype).split(".")[-1]), y)
    out = out.reshape([n, -1, o, ho, wo])                                      # [N, T', O, H', W']
    if bias is not None:  # a folded BN gives the conv a bias: added once per output, not per tap
        out = out + bias.reshape([1, 1, o, 1, 1])
    return permute(out, [0, 2, 1, 3, 4])                                       # [N, O, T', H', W']


class FastConv3D(nn.Conv3D):
    """nn.Conv3D (same parameters and state keys) with faster CPU eager paths: the oneDNN operator where
    `onednn` is set (paddlevideo_slowfast/ops, `use_onednn_conv3d` below), else `temporal_fold_conv3d` where
    `fast` is.

    Static graphs (to_static, export) and other devices take nn.Conv3D's own path, so exported programs and
    GPU runs are unchanged.
    """

    onednn = False  # set by use_onednn_conv3d

    def __init__(self, *args, fast: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fast = bool(fast) and _foldable(self)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self._takes_onednn(x):
            out = self._onednn_forward(x)
            if out is not None:
                return out
        if self._folds(x):
            return temporal_fold_conv3d(x, self.weight, self.bias, stride=_triple(self._stride),
                                        padding=_triple(self._padding))
        return super().forward(x)

    @paddle.jit.not_to_static
    def _takes_onednn(self, x: paddle.Tensor) -> bool:
        if not self.onednn:
            return False
        from ..ops.conv3d import takes_onednn

        return takes_onednn(self, x)

    @paddle.jit.not_to_static
    def _onednn_forward(self, x: paddle.Tensor) -> Optional[paddle.Tensor]:
        from ..ops.conv3d import onednn_forward

        return onednn_forward(self, x)

    @paddle.jit.not_to_static
    def _folds(self, x: paddle.Tensor) -> bool:
        return self.fast and paddle.in_dynamic_mode() and x.place.is_cpu_place()


def use_onednn_conv3d(model: nn.Layer) -> int:
    """Give the Conv3D layers of `model` (itself included) the oneDNN conv3d operator's path in CPU eager mode
    (paddlevideo_slowfast/ops); returns how many.

    A plain nn.Conv3D becomes a FastConv3D without its fold (the same parameters, state keys and isinstance
    checks; a class whose forward to_static converts as nn.Conv3D's), and `onednn` is set on each. Left as
    they are: layers oneDNN cannot run exactly (groups, channels-last, string or asymmetric padding, another
    padding mode), other Conv3D subclasses, and 1x1x1 kernels, which Paddle's own conv3d already runs as one
    GEMM without unfolding (oneDNN's was 0.7-1.2x its speed on SlowFast's, docs/paddle_cpu_limits.md).
    """
    count = 0
    for layer in [model] + list(model.sublayers()):
        if type(layer) not in (nn.Conv3D, FastConv3D) or not _onednn_supported(layer):
            continue
        if type(layer) is nn.Conv3D:
            layer.__class__ = FastConv3D
            layer.fast = False
        layer.onednn = True
        count += 1
    return count


def _onednn_supported(layer: nn.Conv3D) -> bool:
    padding = layer._padding
    return (layer._groups == 1 and layer._data_format == "NCDHW" and layer._padding_mode == "zeros"
            and not isinstance(padding, str) and len(_flat(padding)) in (1, 3)
            and any(k > 1 for k in layer.weight.shape[2:]))


def _foldable(layer: nn.Conv3D) -> bool:
    """Only what temporal_fold_conv3d computes exactly: groups 1, no dilation, NCDHW, zero padding."""
    padding = layer._padding
    return (layer._groups == 1 and layer._data_format == "NCDHW"
            and layer._padding_mode == "zeros" and all(d == 1 for d in _triple(layer._dilation))
            and not isinstance(padding, str) and len(_flat(padding)) == 3)


def _triple(value) -> Tuple[int, int, int]:
    flat = _flat(value)
    return tuple(flat) * 3 if len(flat) == 1 else tuple(flat)


def _flat(value) -> list:
    return [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
