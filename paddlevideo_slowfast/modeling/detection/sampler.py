"""RandomSampler: the RoIs one clip trains on, drawn from its assigned proposals (ground truths added first)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import paddle

from ...registry import BBOX_SAMPLERS
from .assigner import AssignResult
from .boxes import as_boxes


@dataclass(frozen=True)
class SamplingResult:
    """The sampled positive and negative RoIs of one clip; `bboxes` is positives then negatives."""

    pos_inds: np.ndarray             # indices into the (ground truths +) proposals, ascending
    neg_inds: np.ndarray
    pos_bboxes: np.ndarray           # [p, 4]
    neg_bboxes: np.ndarray           # [q, 4]
    pos_is_gt: np.ndarray            # [p] 1 where the RoI is a ground-truth box
    pos_assigned_gt_inds: np.ndarray  # [p] 0-based ground-truth index of each positive
    pos_gt_bboxes: np.ndarray        # [p, 4]
    pos_gt_labels: Optional[np.ndarray]  # [p, num_classes] multi-hot
    num_gts: int

    @property
    def bboxes(self) -> np.ndarray:
        return np.concatenate([self.pos_bboxes, self.neg_bboxes])


@BBOX_SAMPLERS.register()
class RandomSampler:
    """Up to `num` RoIs a clip, at most `num * pos_fraction` positives, the rest negatives, drawn at random
    (Paddle's generator, so `paddle.seed` fixes it) when there are more than wanted; indices come back sorted.

    `add_gt_as_proposals` puts the ground-truth boxes before the proposals as positives of themselves.
    `neg_pos_ub` >= 0 caps negatives at that multiple of the positives (mmdet's meaning; -1, PaddleVideo's value,
    leaves them uncapped).
    """

    def __init__(self, num: int, pos_fraction: float, neg_pos_ub: float = -1, add_gt_as_proposals: bool = True):
        self.num, self.pos_fraction = int(num), float(pos_fraction)
        self.neg_pos_ub, self.add_gt_as_proposals = neg_pos_ub, bool(add_gt_as_proposals)

    def sample(self, assign_result: AssignResult, bboxes: np.ndarray, gt_bboxes: np.ndarray,
               gt_labels: Optional[np.ndarray] = None) -> SamplingResult:
        """Sample from `bboxes` [n, 4+] (proposals) given their assignment to `gt_bboxes` [g, 4]."""
        bboxes, gt_bboxes = as_boxes(bboxes), as_boxes(gt_bboxes)
        gt_flags = np.zeros(len(bboxes), np.int64)
        if self.add_gt_as_proposals and len(gt_bboxes):
            if gt_labels is None:
                raise ValueError("gt_labels must be given when add_gt_as_proposals is true")
            bboxes = np.concatenate([gt_bboxes, bboxes])
            assign_result = assign_result.with_gts_first(gt_labels)
            gt_flags = np.concatenate([np.ones(len(gt_bboxes), np.int64), gt_flags])
        pos = _choose(np.flatnonzero(assign_result.gt_inds > 0), int(self.num * self.pos_fraction))
        wanted_neg = self.num - len(pos)
        if self.neg_pos_ub >= 0:
            wanted_neg = min(wanted_neg, int(self.neg_pos_ub * max(1, len(pos))))
        neg = _choose(np.flatnonzero(assign_result.gt_inds == 0), wanted_neg)
        assigned = assign_result.gt_inds[pos] - 1
        labels = assign_result.labels[pos] if assign_result.labels is not None else None
        return SamplingResult(pos_inds=pos, neg_inds=neg, pos_bboxes=bboxes[pos], neg_bboxes=bboxes[neg],
                              pos_is_gt=gt_flags[pos], pos_assigned_gt_inds=assigned,
                              pos_gt_bboxes=gt_bboxes[assigned] if len(gt_bboxes) else np.zeros((0, 4), np.float32),
                              pos_gt_labels=labels, num_gts=len(gt_bboxes))


def _choose(candidates: np.ndarray, wanted: int) -> np.ndarray:
    """All `candidates` when they are at most `wanted`, else `wanted` of them at random; sorted either way."""
    if len(candidates) > max(wanted, 0):
        candidates = candidates[paddle.randperm(len(candidates)).numpy()[:max(wanted, 0)]]
    return np.sort(candidates)
