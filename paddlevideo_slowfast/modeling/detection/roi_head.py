"""AVARoIHead: assigns and samples RoIs for training, extracts and scores them, and lays out test detections."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import paddle
from paddle import nn

from ...errors import ConfigError
from ...registry import BBOX_ASSIGNERS, BBOX_SAMPLERS, HEADS, ROI_EXTRACTORS

Threshold = Union[float, Sequence[float]]


@HEADS.register()
class AVARoIHead(nn.Layer):
    """PaddleVideo's AVARoIHead: `bbox_roi_extractor` + `bbox_head` (the only weights: `bbox_head.fc_cls`),
    `assigner` and `sampler` for the training RoIs, `action_thr` for the detections a test keeps.

    `backbone_channels` and `backbone_stride` come from the backbone (the builder passes them), so the extractor's
    stride and the head's input width need not be restated. `pos_weight` is PaddleVideo's key (it weights nothing).
    """

    def __init__(self, assigner: Mapping[str, Any], sampler: Mapping[str, Any], pos_weight: float = 1.0,
                 action_thr: Threshold = 0.0, bbox_roi_extractor: Optional[Mapping[str, Any]] = None,
                 bbox_head: Optional[Mapping[str, Any]] = None, backbone_channels: Optional[int] = None,
                 backbone_stride: Optional[int] = None):
        super().__init__()
        for key, cfg in (("bbox_roi_extractor", bbox_roi_extractor), ("bbox_head", bbox_head)):
            if not isinstance(cfg, Mapping):
                raise ConfigError(f"AVARoIHead needs a {key}", key=f"MODEL.head.{key}",
                                  expected="a mapping with a name")
        self.bbox_assigner = BBOX_ASSIGNERS.build(assigner, where="MODEL.head.assigner")
        self.bbox_sampler = BBOX_SAMPLERS.build(sampler, where="MODEL.head.sampler")
        self.bbox_roi_extractor = ROI_EXTRACTORS.build(bbox_roi_extractor, where="MODEL.head.bbox_roi_extractor",
                                                       backbone_stride=backbone_stride)
        self.bbox_head = HEADS.build(bbox_head, where="MODEL.head.bbox_head", backbone_channels=backbone_channels)
        self.pos_weight, self.action_thr = pos_weight, action_thr

    @property
    def num_classes(self) -> int:
        return self.bbox_head.num_classes

    def scores(self, features: Sequence[paddle.Tensor], rois: paddle.Tensor, rois_num: paddle.Tensor) -> paddle.Tensor:
        """Logits [R, num_classes] of `rois` [R, 4] (pixels), `rois_num` [N] of them per clip."""
        return self.bbox_head(self.bbox_roi_extractor(features, rois, rois_num), rois)

    def train_step(self, features: Sequence[paddle.Tensor], proposals: Sequence[np.ndarray],
                   gt_bboxes: Sequence[np.ndarray], gt_labels: Sequence[np.ndarray]) -> Dict[str, paddle.Tensor]:
        """Loss and stats of one batch: per clip, proposals assigned to its ground truths and sampled."""
        results = [self.bbox_sampler.sample(self.bbox_assigner.assign(p, g, l), p, g, l)
                   for p, g, l in zip(proposals, gt_bboxes, gt_labels)]
        rois = np.concatenate([r.bboxes for r in results]).astype(np.float32)
        rois_num = paddle.to_tensor(np.array([len(r.bboxes) for r in results], np.int32))
        cls_score = self.scores(features, paddle.to_tensor(rois.reshape(-1, 4)), rois_num)
        losses = self.bbox_head.loss(cls_score, self.bbox_head.get_targets(results, self.pos_weight))
        if not any(len(r.pos_bboxes) for r in results):  # keep every weight in the graph (data-parallel needs it)
            losses["loss"] = losses["loss"] + paddle.add_n([x.mean() for x in features]) * 0.0
        return losses

    def detections(self, probabilities: np.ndarray, rois: np.ndarray, rois_num: Sequence[int],
                   img_shapes: np.ndarray) -> List[List[np.ndarray]]:
        """Per clip, PaddleVideo's `bbox2result` layout of its RoIs' probabilities (see `bbox2result`)."""
        ends = np.cumsum(rois_num)
        return [bbox2result(rois[end - n:end], probabilities[end - n:end], self.num_classes, img_shapes[i],
                            self.action_thr)
                for i, (n, end) in enumerate(zip(rois_num, ends))]


def bbox2result(bboxes: np.ndarray, scores: np.ndarray, num_classes: int, img_shape: Tuple[int, int],
                thr: Threshold = 0.01) -> List[np.ndarray]:
    """num_classes - 1 arrays [n, 5]: boxes normalised by `img_shape` (h, w) and the class probability, for the
    RoIs scoring above the class's threshold; class k (k >= 1) at position k - 1."""
    thresholds = [float(thr)] * num_classes if np.isscalar(thr) else [float(t) for t in thr]
    if len(thresholds) != num_classes:
        raise ConfigError(f"action_thr has {len(thresholds)} values for {num_classes} classes",
                          key="MODEL.head.action_thr", expected="a number or one per class")
    if len(bboxes) == 0:
        return [np.zeros((0, 5), np.float32) for _ in range(num_classes - 1)]
    height, width = (float(v) for v in np.asarray(img_shape).reshape(-1)[:2])
    boxes = np.asarray(bboxes, np.float32)[:, :4] / np.array([width, height, width, height], np.float32)
    out = []
    for k in range(1, num_classes):
        keep = scores[:, k] > thresholds[k]
        out.append(np.concatenate([boxes[keep], scores[keep, k:k + 1]], axis=1).astype(np.float32))
    return out

