"""BBoxHeadAVA: pool each RoI's features, one FC to per-action logits; multi-label sigmoid BCE on positive RoIs."""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from ...errors import ConfigError
from ...registry import HEADS
from .sampler import SamplingResult

POOL_TYPES = ("avg", "max")


@HEADS.register()
class BBoxHeadAVA(nn.Layer):
    """RoI features [R, C, T, S, S] -> logits [R, num_classes] (state keys `fc_cls.weight/bias` as PaddleVideo's).

    Time is pooled by `temporal_pool_type`, space by `spatial_pool_type`; dropout before or after the pooling.
    Class 0 is a reserved column (AVA's action ids start at 1): it gets a logit but enters neither loss nor stats.
    A RoI of zero area has its features zeroed, as PaddleVideo does (RoIAlign is undefined there), so it scores
    the bias alone. `in_channels` is derived from the backbone when left out; a stated one must agree.
    """

    def __init__(self, temporal_pool_type: str = "avg", spatial_pool_type: str = "max",
                 in_channels: Optional[int] = None, num_classes: int = 81, dropout_ratio: float = 0.0,
                 dropout_before_pool: bool = True, topk: Union[int, Sequence[int], None] = (3, 5),
                 multilabel: bool = True, backbone_channels: Optional[int] = None):
        super().__init__()
        where = "MODEL.head.bbox_head"
        for key, value in (("temporal_pool_type", temporal_pool_type), ("spatial_pool_type", spatial_pool_type)):
            if value not in POOL_TYPES:
                raise ConfigError(f"unknown pool type {value!r}", key=f"{where}.{key}",
                                  expected=f"one of: {', '.join(POOL_TYPES)}")
        if not multilabel:
            raise ConfigError("only multi-label AVA heads exist", key=f"{where}.multilabel", expected="true")
        if in_channels is None:
            in_channels = backbone_channels if backbone_channels is not None else 2048
        elif backbone_channels is not None and in_channels != backbone_channels:
            raise ConfigError(f"{where}.in_channels = {in_channels} disagrees with the backbone's res5 width "
                              f"{backbone_channels} (Slow + Fast channels)", key=f"{where}.in_channels",
                              expected=f"{backbone_channels}, or leave it out")
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk or ())
        if not all(isinstance(k, int) and 0 < k < num_classes for k in self.topk):
            raise ConfigError(f"topk {list(self.topk)} must be integers in [1, num_classes)", key=f"{where}.topk")
        self.temporal_pool_type, self.spatial_pool_type = temporal_pool_type, spatial_pool_type
        self.in_channels, self.num_classes = int(in_channels), int(num_classes)
        self.dropout_ratio, self.dropout_before_pool = float(dropout_ratio), bool(dropout_before_pool)
        self.multilabel = True
        self.dropout = nn.Dropout(self.dropout_ratio) if self.dropout_ratio > 0 else None
        self.fc_cls = nn.Linear(self.in_channels, self.num_classes,
                                weight_attr=nn.initializer.Normal(0.0, 0.01), bias_attr=nn.initializer.Constant(0.0))

    def forward(self, x: paddle.Tensor, rois: paddle.Tensor) -> paddle.Tensor:
        """Logits [R, num_classes] of RoI features `x` [R, C, T, S, S] of boxes `rois` [R, 4]."""
        area = (rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1])
        # RoIAlign gives NaN there; the mask at x's full shape: a static-graph where broadcasts with five adds of x's
        # size, 0.1 s of a 2.4 s R50 keyframe in Paddle Inference (docs/benchmarks.md, bench_detect)
        keep = paddle.ones_like(x) * (area != 0).astype(x.dtype).reshape([-1, 1, 1, 1, 1]) > 0  # legacy IR: no logical_and
        x = paddle.where(keep, x, paddle.zeros_like(x))
        if self.dropout is not None and self.dropout_before_pool:
            x = self.dropout(x)
        x = x.mean(axis=2) if self.temporal_pool_type == "avg" else x.max(axis=2)           # [R, C, S, S]
        # adaptive_max_pool2d: the same values as max over [2, 3], whose CPU backward is ~3000x slower
        x = x.mean(axis=[2, 3]) if self.spatial_pool_type == "avg" else F.adaptive_max_pool2d(x, 1).flatten(1)  # [R, C]
        if self.dropout is not None and not self.dropout_before_pool:
            x = self.dropout(x)
        return self.fc_cls(x)

    def get_targets(self, sampling_results: Sequence[SamplingResult], pos_weight: float = 1.0) -> np.ndarray:
        """Multi-hot targets [R, num_classes] in the order of the sampled RoIs: positives' labels, negatives 0.

        `pos_weight` is PaddleVideo's argument; its loss weights no RoI, and neither does this one.
        """
        labels = []
        for result in sampling_results:
            labels.append(np.asarray(result.pos_gt_labels, np.float32).reshape(-1, self.num_classes))
            labels.append(np.zeros((len(result.neg_bboxes), self.num_classes), np.float32))
        return np.concatenate(labels) if labels else np.zeros((0, self.num_classes), np.float32)

    def loss(self, cls_score: paddle.Tensor, labels: np.ndarray) -> Dict[str, paddle.Tensor]:
        """Mean BCE-with-logits over the RoIs with at least one action (classes 1..), with PaddleVideo's stats:
        recall/precision at sigmoid > 0.5 and of the top-k classes. No positive RoI: loss 0 (still backward-able),
        stats 0."""
        targets = np.asarray(labels, np.float32)[:, 1:]
        positive = np.flatnonzero(targets.sum(axis=1) > 0)
        if len(positive) == 0:
            zero = paddle.zeros([], "float32")
            return {"loss": cls_score.sum() * 0.0, **{k: zero for k in self.stat_names()}}
        scores = paddle.gather(cls_score, paddle.to_tensor(positive))[:, 1:]
        targets = targets[positive]
        losses = {"loss": F.binary_cross_entropy_with_logits(scores, paddle.to_tensor(targets), reduction="mean")}
        stats = multilabel_stats(scores.detach().numpy(), targets, self.topk)
        losses.update({k: paddle.to_tensor(np.float32(v)) for k, v in stats.items()})
        return losses

    def stat_names(self) -> Tuple[str, ...]:
        return ("recall@thr=0.5", "prec@thr=0.5", *(f"{s}@top{k}" for k in self.topk for s in ("recall", "prec")))


def recall_precision(predicted: np.ndarray, target: np.ndarray) -> Tuple[float, float]:
    """Mean over RoIs of |predicted & target| / |target| and / (|predicted| + 1e-6) (boolean [R, classes])."""
    correct = np.logical_and(predicted, target).sum(axis=1).astype(np.float32)
    recall = correct / target.sum(axis=1).astype(np.float32)
    precision = correct / (predicted.sum(axis=1).astype(np.float32) + 1e-6)
    return float(recall.mean()), float(precision.mean())


def multilabel_stats(logits: np.ndarray, targets: np.ndarray, topk: Sequence[int],
                     thr: float = 0.5) -> Dict[str, float]:
    """PaddleVideo's BBoxHeadAVA training stats from logits and multi-hot targets of the positive RoIs."""
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    truth = targets > 0.5
    stats = dict(zip((f"recall@thr={thr}", f"prec@thr={thr}"), recall_precision(probabilities > thr, truth)))
    for k in topk:
        top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        predicted = np.zeros_like(truth)
        np.put_along_axis(predicted, top, True, axis=1)
        stats[f"recall@top{k}"], stats[f"prec@top{k}"] = recall_precision(predicted, truth)
    return stats
