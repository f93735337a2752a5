"""Classification losses, registered under PaddleVideo's names."""
from __future__ import annotations

from typing import Any

import paddle
import paddle.nn.functional as F
from paddle import nn

from ..registry import LOSSES


@LOSSES.register()
class CrossEntropyLoss(nn.Layer):
    """`loss_weight` * cross-entropy; extra keyword arguments go to F.cross_entropy (soft_label, use_softmax)."""

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, scores: paddle.Tensor, labels: paddle.Tensor, **kwargs: Any) -> paddle.Tensor:
        return F.cross_entropy(scores, labels, **kwargs) * self.loss_weight
