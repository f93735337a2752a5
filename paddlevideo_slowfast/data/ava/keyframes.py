"""AVA rows grouped into keyframes as PaddleVideo groups them, and the person proposals each keyframe keeps.

A keyframe ("video_id,%04d") holds one box per distinct person box (first appearance first; rows with an equal
box merge into one multi-hot label row, the first row's person id kept), exactly PaddleVideo's `parse_img_record`.
Proposals follow PaddleVideo's `prepare_train`: with scores, the threshold is min(person_det_score_thr, best score)
(so the best proposals are kept even below it), then the first `num_max_proposals`.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .annotations import AVAAnnotations, proposal_key

WHOLE_FRAME = np.array([[0.0, 0.0, 1.0, 1.0]], np.float32)


class Keyframe(NamedTuple):
    """Ground truth of one keyframe: boxes [n, 4] normalised (float64), labels [n, num_classes] multi-hot
    float32 (column 0 unused), person ids [n] int64."""

    video_id: str
    timestamp: int
    gt_bboxes: np.ndarray
    gt_labels: np.ndarray
    entity_ids: np.ndarray


def label_columns(num_classes: int, custom_classes: Optional[Sequence[int]]) -> Dict[int, int]:
    """AVA action id -> column of the multi-hot label: the id itself, or 1 + its position in `custom_classes`."""
    if custom_classes is None:
        return {k: k for k in range(1, num_classes)}
    return {int(c): i + 1 for i, c in enumerate(custom_classes)}


def group_keyframes(ann: AVAAnnotations, num_classes: int,
                    custom_classes: Optional[Sequence[int]] = None) -> Tuple[List[Keyframe], List[str], int]:
    """(keyframes in first-appearance order, "file:line: why" of rows whose action has no column, rows left out
    because their action is not one of `custom_classes`)."""
    columns = label_columns(num_classes, custom_classes)
    rows: "OrderedDict[str, list]" = OrderedDict()
    problems: List[str] = []
    not_custom = 0
    for record, line in zip(ann.records, ann.lines or [0] * len(ann.records)):
        if record.action_id not in columns:
            if custom_classes is None:
                problems.append(f"{ann.path}:{line}: action_id {record.action_id} outside 1..{num_classes - 1} "
                                f"(num_classes {num_classes})")
            else:
                not_custom += 1
            continue
        rows.setdefault(proposal_key(record.video_id, record.timestamp), []).append(record)
    keyframes = []
    for records in rows.values():
        boxes: List[Tuple[float, ...]] = []
        labels: List[np.ndarray] = []
        persons: List[int] = []
        for record in records:
            if record.box in boxes:
                labels[boxes.index(record.box)][columns[record.action_id]] = 1.0
                continue
            boxes.append(record.box)
            label = np.zeros(num_classes, np.float32)
            label[columns[record.action_id]] = 1.0
            labels.append(label)
            persons.append(record.person_id)
        first = records[0]
        keyframes.append(Keyframe(first.video_id, first.timestamp, np.array(boxes, np.float64), np.stack(labels),
                                  np.array(persons, np.int64)))
    return keyframes, problems, not_custom


def select_proposals(proposals: Optional[np.ndarray], score_thr: float,
                     max_proposals: int) -> Tuple[np.ndarray, np.ndarray, str]:
    """(boxes [n, 4] normalised in the file's dtype, scores [n] float32, status) of one keyframe.

    status: "ok"; "below" when no score reached `score_thr` (the best ones are kept, as PaddleVideo does);
    "missing" when the keyframe has no proposals at all (the whole frame [0, 0, 1, 1] with score 1 stands in).
    """
    if proposals is None or len(proposals) == 0:
        return WHOLE_FRAME.copy(), np.ones(1, np.float32), "missing"
    status = "ok"
    if proposals.shape[1] == 5:
        best = float(proposals[:, 4].max())
        if best < score_thr:
            status = "below"
        proposals = proposals[proposals[:, 4] >= min(score_thr, best)]
        proposals = proposals[:max_proposals]
        return proposals[:, :4], proposals[:, 4].astype(np.float32), status
    proposals = proposals[:max_proposals]
    return proposals, np.ones(len(proposals), np.float32), status
