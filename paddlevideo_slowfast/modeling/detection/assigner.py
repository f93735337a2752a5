"""MaxIoUAssignerAVA: each proposal gets the ground-truth person it overlaps best, or background, by IoU."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional

import numpy as np

from ...errors import ConfigError
from ...registry import BBOX_ASSIGNERS
from .boxes import box_iou


@dataclass(frozen=True)
class AssignResult:
    """Per proposal: `gt_inds` 0 background, -1 ignored, k > 0 the k-th ground truth (1-based), its IoU, and the
    assigned multi-hot `labels` [n, num_classes] (zeros for background and ignored)."""

    num_gts: int
    gt_inds: np.ndarray        # [n] int64
    max_overlaps: np.ndarray   # [n] float32
    labels: Optional[np.ndarray] = None

    def with_gts_first(self, gt_labels: Optional[np.ndarray]) -> "AssignResult":
        """The result after the ground-truth boxes are put before the proposals, each assigned to itself."""
        own = np.arange(1, self.num_gts + 1, dtype=np.int64)
        labels = self.labels
        if labels is not None and gt_labels is not None:
            labels = np.concatenate([np.asarray(gt_labels, dtype=np.float32), labels])
        return replace(self, gt_inds=np.concatenate([own, self.gt_inds]),
                       max_overlaps=np.concatenate([np.ones(self.num_gts, np.float32), self.max_overlaps]),
                       labels=labels)


@BBOX_ASSIGNERS.register()
class MaxIoUAssignerAVA:
    """PaddleVideo's (mmdet's) max-IoU assignment with AVA's multi-label targets.

    A proposal whose best IoU is >= `pos_iou_thr` takes that ground truth; below `neg_iou_thr` it is background;
    in between it is ignored. With `match_low_quality`, each ground truth whose best IoU is >= `min_pos_iou` also
    takes its best proposals (all of them tied at that IoU when `gt_max_assign_all`), later ground truths winning;
    a ground truth that overlaps no proposal takes none (PaddleVideo's, with min_pos_iou 0, takes every proposal).
    `ignore_iof_thr`, `ignore_wrt_candidates`, `gpu_assign_thr`, `iou_calculator` are PaddleVideo's keys; it
    ignores them, so only their no-op values are accepted here.
    """

    def __init__(self, pos_iou_thr: float, neg_iou_thr: float, min_pos_iou: float = 0.0,
                 gt_max_assign_all: bool = True, ignore_iof_thr: float = -1, ignore_wrt_candidates: bool = True,
                 match_low_quality: bool = True, gpu_assign_thr: float = -1,
                 iou_calculator: Optional[Mapping[str, Any]] = None):
        if ignore_iof_thr > 0:
            raise ConfigError(f"ignore_iof_thr {ignore_iof_thr} is not supported (PaddleVideo ignores it too)",
                              key="MODEL.head.assigner.ignore_iof_thr", expected="-1 (no ignored regions)")
        calculator = dict(iou_calculator or {"type": "BboxOverlaps2D"})
        if calculator.get("type", calculator.get("name")) != "BboxOverlaps2D":
            raise ConfigError(f"unsupported iou_calculator {calculator}", key="MODEL.head.assigner.iou_calculator",
                              expected="{type: BboxOverlaps2D}")
        self.pos_iou_thr, self.neg_iou_thr, self.min_pos_iou = pos_iou_thr, neg_iou_thr, min_pos_iou
        self.gt_max_assign_all, self.match_low_quality = gt_max_assign_all, match_low_quality

    def assign(self, bboxes: np.ndarray, gt_bboxes: np.ndarray,
               gt_labels: Optional[np.ndarray] = None) -> AssignResult:
        """Assign proposals `bboxes` [n, 4+] to `gt_bboxes` [g, 4] with multi-hot `gt_labels` [g, num_classes]."""
        return self.assign_wrt_overlaps(box_iou(gt_bboxes, bboxes), gt_labels)  # IoU [g, n]

    def assign_wrt_overlaps(self, overlaps: np.ndarray, gt_labels: Optional[np.ndarray] = None) -> AssignResult:
        """Assignment from the IoU matrix [num_gts, num_proposals]."""
        num_gts, num_boxes = overlaps.shape
        labels = None
        if gt_labels is not None:
            gt_labels = np.asarray(gt_labels, dtype=np.float32)
            gt_labels = gt_labels.reshape(num_gts, gt_labels.shape[-1])
            labels = np.zeros((num_boxes, gt_labels.shape[1]), np.float32)
        if num_gts == 0 or num_boxes == 0:  # nothing to match: every proposal is background
            return AssignResult(num_gts, np.zeros(num_boxes, np.int64), np.zeros(num_boxes, np.float32), labels)
        max_overlaps = overlaps.max(axis=0)
        argmax = overlaps.argmax(axis=0)
        gt_inds = np.full(num_boxes, -1, np.int64)
        gt_inds[max_overlaps < self.neg_iou_thr] = 0
        positive = max_overlaps >= self.pos_iou_thr
        gt_inds[positive] = argmax[positive] + 1
        if self.match_low_quality:
            gt_max = overlaps.max(axis=1)
            for i in range(num_gts):
                if gt_max[i] < self.min_pos_iou or gt_max[i] <= 0:  # overlapping nothing, it matches nothing
                    continue
                if self.gt_max_assign_all:
                    gt_inds[overlaps[i] == gt_max[i]] = i + 1
                else:
                    gt_inds[overlaps[i].argmax()] = i + 1
        if labels is not None:
            assigned = gt_inds > 0
            labels[assigned] = gt_labels[gt_inds[assigned] - 1]
        return AssignResult(num_gts, gt_inds, max_overlaps.astype(np.float32), labels)
