"""BatchNorm3D factory with PaddleVideo's settings: eps 1e-5, momentum 0.9, no weight decay on scale/shift."""
from __future__ import annotations

from dataclasses import dataclass

import paddle
from paddle import nn


@dataclass(frozen=True)
class Norm:
    """Makes the BatchNorm3D layers of a model; one instance carries the BN options of the whole backbone."""

    eps: float = 1e-5
    momentum: float = 0.9       # Paddle convention: running = momentum * running + (1 - momentum) * batch
    weight_decay: float = 0.0   # PaddleVideo and PySlowFast exempt BN scale/shift from L2

    def __call__(self, channels: int) -> nn.BatchNorm3D:
        """A BatchNorm3D over `channels` (state keys weight, bias, _mean, _variance as PaddleVideo)."""
        return nn.BatchNorm3D(channels, momentum=self.momentum, epsilon=self.eps,
                              weight_attr=self._attr(), bias_attr=self._attr())

    def _attr(self) -> paddle.ParamAttr:
        return paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(self.weight_decay))
