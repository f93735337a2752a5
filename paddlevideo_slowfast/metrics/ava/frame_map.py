"""AVA frame-mAP (the ActivityNet AVA protocol): per-class Pascal VOC AP of the detections at each keyframe, at IoU 0.5.

The rules, as the official evaluator (`get_ava_performance.py` with the TF object-detection Pascal evaluator) applies
them:
- only the label map's classes count: ground truth and detections of other action ids are ignored;
- keyframes of the excluded-timestamps file are removed from ground truth and detections alike;
- every ground-truth row is one instance of its class, so a person box with three actions is three instances;
- within a keyframe and class, detections in descending score each look up the ground-truth box they overlap most;
  they are a true positive when that IoU is >= the threshold and the box is not taken yet, otherwise a false
  positive (they never fall back to their second-best box);
- detections with x2 <= x1 or y2 <= y1 are dropped; detections at keyframes without ground truth are false positives;
- AP is VOC's all-point interpolated area under the precision-recall curve; a class with ground truth and no
  detection has AP 0; a class without ground truth has no AP (NaN) and is left out of the mean.
What the official code leaves to the order of its sorts and heaps is fixed here: detections of equal score are one
step of the curve (precision and recall are read after the whole tie, so the order of the input never matters); a
detection overlapping two boxes exactly equally takes the one earlier in the ground truth; the optional per-keyframe
cap (`max_per_frame`: the official script's 50, PaddleVideo's none) keeps the best scores, earlier rows on a tie.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Collection, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np

from ...errors import SlowFastError
from .table import BoxTable

LabelMap = Union[Mapping[int, str], Iterable[int]]


@dataclass(frozen=True)
class ClassAP:
    """One class's numbers: AP (NaN without ground truth), instances, detections and true positives."""

    name: str
    ap: float
    gt: int
    detections: int
    tp: int

    @property
    def recall(self) -> float:
        """Recall at the lowest score (NaN without ground truth)."""
        return self.tp / self.gt if self.gt else math.nan


@dataclass(frozen=True)
class FrameMAP:
    """Frame-mAP over the classes with ground truth, each class's numbers, and what the rules set aside."""

    mean_ap: float
    per_class: Dict[int, ClassAP]
    iou: float
    frames: int                                      # evaluated keyframes with ground truth
    missed_frames: Tuple[Tuple[str, int], ...]       # of those, the ones without any detection
    dropped: Dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The official result's name, e.g. `mAP@0.5IOU`."""
        return f"mAP@{self.iou}IOU"


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each row of `a` [N, 4] with the same row of `b` (x1, y1, x2, y2), in the official operation order so
    boundary cases (IoU exactly 0.5) fall the same way."""
    heights = np.maximum(0.0, np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]))
    widths = np.maximum(0.0, np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]))
    inter = heights * widths
    area_a = (a[:, 3] - a[:, 1]) * (a[:, 2] - a[:, 0])
    area_b = (b[:, 3] - b[:, 1]) * (b[:, 2] - b[:, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (area_a + area_b - inter)


def voc_ap(scores: np.ndarray, tp: np.ndarray, num_gt: int) -> float:
    """Pascal VOC (2010+) AP of detections with `scores` and true-positive flags `tp` against `num_gt` instances;
    NaN without ground truth, 0 without detections. Equal scores form one step of the curve."""
    if num_gt <= 0:
        return math.nan
    if not len(scores):
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranked = np.asarray(scores, dtype=np.float64)[order]
    hits = np.cumsum(np.asarray(tp, dtype=bool)[order])
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))  # last row of each run of equal scores
    precision = hits[ends] / (ends + 1.0)
    recall = hits[ends] / float(num_gt)
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope: precision never rises with recall
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def _class_map(label_map: LabelMap) -> Dict[int, str]:
    if isinstance(label_map, Mapping):
        classes = {int(k): str(v) for k, v in label_map.items()}
    else:
        classes = {int(k): f"class_{int(k)}" for k in label_map}
    if not classes:
        raise SlowFastError("frame_map: the label map holds no class")
    return dict(sorted(classes.items()))


def _frame_codes(*keys: Tuple[np.ndarray, np.ndarray]) -> List[np.ndarray]:
    """One int64 per keyframe for each (video_ids, timestamps) pair, in one code space shared by all of them."""
    videos = np.concatenate([v for v, _ in keys]).astype(str)
    stamps = np.concatenate([t for _, t in keys]).astype(np.int64)
    _, inverse = np.unique(videos, return_inverse=True)
    low = int(stamps.min()) if len(stamps) else 0
    span = int(stamps.max()) - low + 1 if len(stamps) else 1
    codes = inverse.reshape(-1).astype(np.int64) * span + (stamps - low)
    return np.split(codes, np.cumsum([len(v) for v, _ in keys])[:-1])


def _cap_per_frame(frames: np.ndarray, scores: np.ndarray, limit: int) -> np.ndarray:
    """Bool mask keeping each keyframe's `limit` best-scored rows (earlier rows first on a tie)."""
    order = np.lexsort((np.arange(len(scores)), -scores, frames))
    sorted_frames = frames[order]
    first = np.searchsorted(sorted_frames, sorted_frames, side="left")
    keep = np.zeros(len(scores), dtype=bool)
    keep[order[np.arange(len(order)) - first < limit]] = True
    return keep


def _true_positives(gt_groups: np.ndarray, gt_boxes: np.ndarray, det_groups: np.ndarray, det_scores: np.ndarray,
                    det_boxes: np.ndarray, threshold: float) -> np.ndarray:
    """Bool [D]: the greedy matching of each (keyframe, class) group, all groups at once.

    A group is one keyframe and class; each detection is paired with every ground-truth box of its group, keeps
    the best-overlapping one (first on a tie), and is a true positive when it reaches `threshold` and is the
    highest-scored detection (earlier row on a tie) to pick that box."""
    tp = np.zeros(len(det_groups), dtype=bool)
    if not len(det_groups) or not len(gt_groups):
        return tp
    gt_order = np.argsort(gt_groups, kind="stable")
    sorted_groups = gt_groups[gt_order]
    starts = np.searchsorted(sorted_groups, det_groups, side="left")
    counts = np.searchsorted(sorted_groups, det_groups, side="right") - starts
    has_gt = np.flatnonzero(counts)
    if not len(has_gt):
        return tp
    counts = counts[has_gt]
    seg_start = np.cumsum(counts) - counts
    det_of_pair = np.repeat(np.arange(len(has_gt)), counts)                       # [P] position in has_gt
    gt_of_pair = gt_order[starts[has_gt][det_of_pair] + np.arange(counts.sum()) - seg_start[det_of_pair]]
    overlap = pair_iou(det_boxes[has_gt][det_of_pair], gt_boxes[gt_of_pair])        # [P]
    best = np.maximum.reduceat(overlap, seg_start)                                  # [D'] per detection
    ties = np.flatnonzero(overlap == best[det_of_pair])
    _, first = np.unique(det_of_pair[ties], return_index=True)
    best_gt = gt_of_pair[ties[first]]                                                # [D'] ground-truth row
    candidates = np.flatnonzero(best >= threshold)
    if not len(candidates):
        return tp
    # each taken box goes to its best-scored candidate: order candidates by score, then row, and keep the first
    rows = has_gt[candidates]
    order = np.lexsort((rows, -det_scores[rows]))
    _, winner = np.unique(best_gt[candidates][order], return_index=True)
    tp[rows[order][winner]] = True
    return tp


def frame_map(gt: Union[BoxTable, Iterable], detections: BoxTable, label_map: LabelMap,
              excluded: Collection[Tuple[str, int]] = (), iou: float = 0.5,
              max_per_frame: Optional[int] = None) -> FrameMAP:
    """AVA frame-mAP of `detections` against `gt` (a BoxTable or `AVABox` records) over `label_map`'s classes
    ({id: name} or ids), leaving out the `excluded` (video_id, timestamp) keyframes; see the module for the rules."""
    gt = gt if isinstance(gt, BoxTable) else BoxTable.from_records(list(gt))
    classes = _class_map(label_map)
    class_ids = np.fromiter(classes, dtype=np.int64)
    excluded = sorted({(str(v), int(t)) for v, t in excluded})
    dropped: Dict[str, int] = {}
    gt_frames, det_frames, excluded_frames = _frame_codes(
        (gt.video_id, gt.timestamp), (detections.video_id, detections.timestamp),
        (np.array([v for v, _ in excluded], dtype=str), np.array([t for _, t in excluded], dtype=np.int64)))

    in_map, gone = np.isin(gt.action_id, class_ids), np.isin(gt_frames, excluded_frames)
    dropped["gt_other_class"] = int((~in_map).sum())
    dropped["gt_excluded"] = int((in_map & gone).sum())
    gt, gt_frames = gt.select(in_map & ~gone), gt_frames[in_map & ~gone]
    inverted = np.flatnonzero((gt.boxes[:, 2] < gt.boxes[:, 0]) | (gt.boxes[:, 3] < gt.boxes[:, 1]))
    if len(inverted):
        i = int(inverted[0])
        raise SlowFastError(f"ground truth {gt.video_id[i]},{gt.timestamp[i]}: box {gt.boxes[i].tolist()} has "
                            f"x2 < x1 or y2 < y1 ({len(inverted)} such rows)")

    # the official order: other classes, then the cap, then excluded keyframes, then empty boxes
    in_map = np.isin(detections.action_id, class_ids)
    dropped["det_other_class"] = int((~in_map).sum())
    detections, det_frames = detections.select(in_map), det_frames[in_map]
    if max_per_frame:
        keep = _cap_per_frame(det_frames, detections.score, int(max_per_frame))
        dropped["det_over_cap"] = int((~keep).sum())
        detections, det_frames = detections.select(keep), det_frames[keep]
    gone = np.isin(det_frames, excluded_frames)
    dropped["det_excluded"] = int(gone.sum())
    boxes = detections.boxes
    valid = ~gone & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    dropped["det_empty_box"] = int((~gone & ~valid).sum())
    detections, det_frames = detections.select(valid), det_frames[valid]

    num_classes = len(class_ids)
    gt_cls = np.searchsorted(class_ids, gt.action_id)
    det_cls = np.searchsorted(class_ids, detections.action_id)
    tp = _true_positives(gt_frames * num_classes + gt_cls, gt.boxes, det_frames * num_classes + det_cls,
                         detections.score, detections.boxes, iou)

    per_class: Dict[int, ClassAP] = {}
    for pos, (class_id, name) in enumerate(classes.items()):
        mine = det_cls == pos
        num_gt = int((gt_cls == pos).sum())
        per_class[class_id] = ClassAP(name, voc_ap(detections.score[mine], tp[mine], num_gt), num_gt,
                                      int(mine.sum()), int(tp[mine].sum()))
    aps = [c.ap for c in per_class.values() if not math.isnan(c.ap)]
    gt_frame_ids, first_row = np.unique(gt_frames, return_index=True)
    missed = ~np.isin(gt_frame_ids, det_frames)
    missed_keys = tuple(sorted((str(gt.video_id[i]), int(gt.timestamp[i])) for i in first_row[missed]))
    return FrameMAP(float(np.mean(aps)) if aps else math.nan, per_class, float(iou), len(gt_frame_ids),
                    missed_keys, dropped)
