"""Recognizer3D: backbone + head with PaddleVideo's train/val/test/infer step contract."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import paddle
from paddle import nn

from ..registry import RECOGNIZERS
from .builder import build_backbone, build_head
from .init import initialize


@RECOGNIZERS.register()
class Recognizer3D(nn.Layer):
    """Builds `backbone` and `head` from their config dicts; a batch is [slow, fast, labels...] as PaddleVideo's.

    forward(batch, mode) dispatches to train_step / val_step (dict: loss, top1, top5), test_step / infer_step
    (class scores: probabilities when the model is in eval mode). Weights start from PySlowFast's
    initialisation with seed `init_seed` (`MODEL.backbone.zero_init_final_bn` chooses the final-BN zeroing).
    """

    task = "recognition"
    train_metrics = ("top1", "top5")  # logged beside the loss while training
    validation_key = "top1"           # picks the `_best` checkpoint

    def __init__(self, backbone: Mapping[str, Any], head: Mapping[str, Any], runtime_cfg: Optional[Mapping] = None,
                 init_seed: int = 0):
        super().__init__()
        self.backbone = build_backbone(backbone)
        self.head_name = head.get("name") if isinstance(head, Mapping) else None
        self.head = build_head(head, self.backbone, backbone)
        self.runtime_cfg = runtime_cfg
        self.init_weights(init_seed)

    def init_weights(self, seed: int = 0) -> None:
        """PySlowFast's initialisation of every layer, reproducible from `seed`."""
        initialize(self, seed=seed, zero_init_final_bn=getattr(self.backbone, "zero_init_final_bn", True))

    def forward(self, data_batch: Sequence[paddle.Tensor], mode: str = "infer") -> Any:
        steps = {"train": self.train_step, "valid": self.val_step, "test": self.test_step, "infer": self.infer_step}
        if mode not in steps:
            raise ValueError(f"mode must be one of {', '.join(steps)}, got '{mode}'")
        return steps[mode](data_batch)

    def forward_net(self, clips: Sequence[paddle.Tensor]) -> paddle.Tensor:
        """[slow, fast] -> class scores [N, num_classes]."""
        return self.head(self.backbone(clips))

    def train_step(self, data_batch: Sequence[paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        return self.head.loss(self.forward_net(data_batch[0:2]), data_batch[2:])

    def parallel_train_step(self, net: nn.Layer, data_batch: Sequence[paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """train_step with the forward through `net` (this model inside paddle.DataParallel), which all-reduces."""
        return self.head.loss(net(data_batch[0:2], mode="test"), data_batch[2:])

    def val_step(self, data_batch: Sequence[paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        return self.head.loss(self.forward_net(data_batch[0:2]), data_batch[2:], valid_mode=True)

    def test_step(self, data_batch: Sequence[paddle.Tensor]) -> paddle.Tensor:
        return self.forward_net(data_batch[0:2])

    def infer_step(self, data_batch: Sequence[paddle.Tensor]) -> paddle.Tensor:
        return self.forward_net(data_batch[0:2])
