"""SlowFastHead: average-pool each pathway, concatenate, dropout, FC; class probabilities outside training."""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence

import paddle
import paddle.distributed as dist
import paddle.nn.functional as F
from paddle import nn

from ..errors import ConfigError
from ..registry import HEADS, LOSSES

POOLS = ("fixed", "adaptive")


@HEADS.register()
class SlowFastHead(nn.Layer):
    """Classifier over the res5 features of every pathway (state keys `projection.*` as PaddleVideo's).

    pool 'fixed' (PaddleVideo/PySlowFast): an average pool whose kernel covers the res5 map of the training
    clip (num_frames/alpha x crop/32 x crop/32 for Slow) at stride 1; a larger test crop then gives a grid of
    positions (2x2 at 256), each is classified and the softmax scores are averaged. pool 'adaptive': one
    global average at any size (PaddleVideo's `multigrid_short: true` is the same).
    The input widths come from the backbone (`in_channels`, `temporal_divisors`, `output_stride`, passed by
    the builder); PaddleVideo's restated `width_per_group`, `alpha`, `beta` are used only when they are not.
    """

    def __init__(self, num_classes: int = 400, num_frames: int = 32, crop_size: int = 224,
                 dropout_rate: float = 0.5, pool: str = "fixed", in_channels: Optional[Sequence[int]] = None,
                 temporal_divisors: Optional[Sequence[int]] = None, output_stride: int = 32,
                 width_per_group: int = 64, alpha: int = 8, beta: int = 8,
                 pool_size_ratio: Sequence[Sequence[int]] = ((1, 1, 1), (1, 1, 1)), multigrid_short: bool = False,
                 loss_cfg: Optional[Mapping] = None, ls_eps: float = 0.0):
        super().__init__()
        if pool not in POOLS:
            raise ConfigError(f"unknown pool '{pool}'", key="MODEL.head.pool", expected=f"one of: {', '.join(POOLS)}")
        if in_channels is None:
            in_channels = [width_per_group * 32, width_per_group * 32 // beta]
        if temporal_divisors is None:
            temporal_divisors = [alpha, 1][: len(in_channels)]
        self.num_classes, self.ls_eps = num_classes, ls_eps
        self.num_frames, self.crop_size = num_frames, crop_size
        self.adaptive = pool == "adaptive" or bool(multigrid_short)
        self.pool_sizes: List[List[int]] = [
            [num_frames // div // ratio[0], crop_size // output_stride // ratio[1],
             crop_size // output_stride // ratio[2]]
            for div, ratio in zip(temporal_divisors, pool_size_ratio)]
        if not self.adaptive and any(k < 1 for size in self.pool_sizes for k in size):
            raise ConfigError(f"pooling window {self.pool_sizes} is empty", key="MODEL.head.crop_size",
                              expected=f"num_frames >= alpha and crop_size >= {output_stride}")
        self.dropout = nn.Dropout(p=dropout_rate)
        self.projection = nn.Linear(sum(in_channels), num_classes)
        self.loss_func = LOSSES.build(dict(loss_cfg or {"name": "CrossEntropyLoss"}), where="MODEL.head.loss_cfg")

    def position_logits(self, features: Sequence[paddle.Tensor]) -> paddle.Tensor:
        """[N, C_p, T_p, H, W] per pathway -> logits [N, t, h, w, num_classes], one row per pooling position
        (Grad-CAM's class score is their mean)."""
        if self.adaptive:
            pooled = [F.adaptive_avg_pool3d(x, output_size=1) for x in features]
        else:
            self._check_window(features)
            pooled = [F.avg_pool3d(x, kernel_size=k, stride=1) for x, k in zip(features, self.pool_sizes)]
        x = paddle.concat(pooled, axis=1).transpose([0, 2, 3, 4, 1])  # [N, t, h, w, C]: one row per position
        return self.projection(self.dropout(x))                       # [N, t, h, w, classes]

    def forward(self, features: Sequence[paddle.Tensor]) -> paddle.Tensor:
        """[N, C_p, T_p, H, W] per pathway -> [N, num_classes]: logits in training, probabilities otherwise."""
        x = self.position_logits(features)
        if self.training:
            return x.mean(axis=[1, 2, 3])  # a training clip gives one position
        return F.softmax(x, axis=-1).mean(axis=[1, 2, 3])

    def _check_window(self, features: Sequence[paddle.Tensor]) -> None:
        """A clip smaller than the training one leaves no room for the fixed window: say so plainly."""
        if not paddle.in_dynamic_mode():
            return  # sizes are tensors while tracing; an exported program checks nothing here
        for x, window in zip(features, self.pool_sizes):
            if any(0 < size < k for size, k in zip(x.shape[2:], window)):  # sizes are -1 when unknown (static)
                raise ValueError(f"res5 features {list(x.shape[2:])} are smaller than the pooling window {window} "
                                 f"of the training clip (num_frames {self.num_frames}, crop_size {self.crop_size}); "
                                 "use a clip at least that large or MODEL.head.pool: adaptive")

    def loss(self, scores: paddle.Tensor, labels: Sequence[paddle.Tensor],
             valid_mode: bool = False) -> Dict[str, paddle.Tensor]:
        """PaddleVideo's loss dict {loss, top1, top5}; labels are [label] or mix-up's [label_a, label_b, lam]."""
        # outside training the head returns probabilities: take their log instead of a second softmax
        probabilities = not self.training
        if len(labels) == 3:
            label_a, label_b, lam = labels
            lam = lam[0]
            out_a = self._loss_one(scores, label_a, valid_mode, probabilities)
            out_b = self._loss_one(scores, label_b, valid_mode, probabilities)
            return {k: lam * out_a[k] + (1 - lam) * out_b[k] for k in out_a}
        if len(labels) != 1:
            raise ValueError(f"expected [labels] or [labels_a, labels_b, lam], got {len(labels)} label tensors")
        return self._loss_one(scores, labels[0], valid_mode, probabilities)

    def _loss_one(self, scores: paddle.Tensor, labels: paddle.Tensor, valid_mode: bool,
                  probabilities: bool) -> Dict[str, paddle.Tensor]:
        labels = labels.reshape([-1, 1]).astype("int64")
        if self.ls_eps and not valid_mode:
            soft = F.label_smooth(F.one_hot(labels.reshape([-1]), self.num_classes), epsilon=self.ls_eps)
            loss = self.loss_func(scores, soft, soft_label=True, use_softmax=not probabilities)
        else:
            loss = self.loss_func(scores, labels, use_softmax=not probabilities)
        top1 = paddle.metric.accuracy(input=scores, label=labels, k=1)
        top5 = paddle.metric.accuracy(input=scores, label=labels, k=min(5, self.num_classes))
        if valid_mode and dist.get_world_size() > 1:
            for metric in (top1, top5):
                dist.all_reduce(metric)
            top1, top5 = top1 / dist.get_world_size(), top5 / dist.get_world_size()
        return {"loss": loss, "top1": top1, "top5": top5}
