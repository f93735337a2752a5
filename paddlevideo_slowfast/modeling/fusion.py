"""Fast->Slow lateral connections (paper sec. 3.3), behind one builder; each concatenates onto the Slow channels.

The Fast features {alpha*T, S^2, C_f} are brought to Slow's T frames by:
  time_strided_conv    conv (k x 1 x 1, 2*C_f out, temporal stride alpha) + BN + ReLU; PaddleVideo's FuseFastToSlow
  time_to_channel      reshape to {T, S^2, alpha*C_f}: the alpha frames of each slot packed into channels
  time_strided_sample  every alpha-th frame: {T, S^2, C_f}
"""
from __future__ import annotations

from typing import Callable, Dict, List

import paddle
import paddle.nn.functional as F
from paddle import nn

from ..errors import ConfigError
from .norm import Norm


class Lateral(nn.Layer):
    """[slow, fast] -> [concat(slow, lateral(fast)), fast]; `out_channels` is what the lateral adds to Slow."""

    out_channels: int

    def lateral(self, fast: paddle.Tensor) -> paddle.Tensor:
        raise NotImplementedError

    def forward(self, xs: List[paddle.Tensor]) -> List[paddle.Tensor]:
        slow, fast = xs
        return [paddle.concat([slow, self.lateral(fast)], axis=1), fast]


class FuseFastToSlow(Lateral):
    """Time-strided convolution (the paper's default); state keys `_conv_f2s`, `_bn` as PaddleVideo's."""

    def __init__(self, fast_channels: int, *, alpha: int, kernel_size: int = 5, channel_ratio: int = 2,
                 bn_relu: bool = True, norm: Norm):
        super().__init__()
        self.out_channels = fast_channels * channel_ratio
        self.bn_relu = bool(bn_relu)
        self._conv_f2s = nn.Conv3D(fast_channels, self.out_channels, kernel_size=[kernel_size, 1, 1],
                                   stride=[alpha, 1, 1], padding=[kernel_size // 2, 0, 0], bias_attr=False)
        self._bn = norm(self.out_channels)

    def lateral(self, fast: paddle.Tensor) -> paddle.Tensor:
        lateral = self._conv_f2s(fast)
        return F.relu(self._bn(lateral)) if self.bn_relu else lateral


class TimeToChannel(Lateral):
    """Packs each run of alpha Fast frames into channels: [N, C, alpha*T, H, W] -> [N, alpha*C, T, H, W]."""

    def __init__(self, fast_channels: int, *, alpha: int, **_conv_options):
        super().__init__()
        self.alpha = alpha
        self.out_channels = fast_channels * alpha

    def lateral(self, fast: paddle.Tensor) -> paddle.Tensor:
        _, c, t, h, w = fast.shape
        x = fast.reshape([0, c, t // self.alpha, self.alpha, h * w])   # [N, C, T, alpha, HW]
        x = x.transpose([0, 1, 3, 2, 4])                                # [N, C, alpha, T, HW]
        return x.reshape([0, c * self.alpha, t // self.alpha, h, w])


class TimeStridedSample(Lateral):
    """Keeps every alpha-th Fast frame: [N, C, alpha*T, H, W] -> [N, C, T, H, W]."""

    def __init__(self, fast_channels: int, *, alpha: int, **_conv_options):
        super().__init__()
        self.alpha = alpha
        self.out_channels = fast_channels

    def lateral(self, fast: paddle.Tensor) -> paddle.Tensor:
        return fast[:, :, ::self.alpha]


FUSIONS: Dict[str, Callable[..., Lateral]] = {
    "time_strided_conv": FuseFastToSlow,
    "time_to_channel": TimeToChannel,
    "time_strided_sample": TimeStridedSample,
}


def build_fusion(kind: str, fast_channels: int, *, alpha: int, kernel_size: int = 5, channel_ratio: int = 2,
                 bn_relu: bool = True, norm: Norm) -> Lateral:
    """The lateral named `kind`; its `out_channels` is what it adds to the Slow pathway's width.

    The conv options (kernel_size, channel_ratio, bn_relu, norm) only matter to time_strided_conv.
    """
    if kind not in FUSIONS:
        raise ConfigError(f"unknown fusion '{kind}'", key="MODEL.backbone.fusion",
                          expected=f"one of: {', '.join(FUSIONS)}")
    return FUSIONS[kind](fast_channels, alpha=alpha, kernel_size=kernel_size, channel_ratio=channel_ratio,
                         bn_relu=bn_relu, norm=norm)
