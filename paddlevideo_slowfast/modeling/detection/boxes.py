"""Box geometry for the detector's training targets, in numpy: boxes are [n, 4] (x1, y1, x2, y2) in pixels."""
from __future__ import annotations

import numpy as np


def as_boxes(boxes) -> np.ndarray:
    """[n, 4] float32 from any [n, k >= 4] array (a 5th score column is dropped), a 1-D box or an empty array."""
    array = np.asarray(boxes, dtype=np.float32)
    if array.size == 0:
        return np.zeros((0, 4), np.float32)
    return array.reshape(-1, array.shape[-1])[:, :4]


def box_area(boxes: np.ndarray) -> np.ndarray:
    """(x2 - x1) * (y2 - y1) of each box, no +1 (PaddleVideo's and mmdet's continuous convention)."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Intersection over union [m, n] of every pair; 0 where boxes do not overlap (degenerate boxes included)."""
    boxes1, boxes2 = as_boxes(boxes1), as_boxes(boxes2)
    low = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])    # [m, n, 2]
    high = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    inter = np.clip(high - low, 0, None).prod(axis=2)             # [m, n]
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter > 0, inter / union, 0.0).astype(np.float32)
