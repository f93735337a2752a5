"""The detector's batch: PaddleVideo's 14-entry AVA list, stacked by the default collate; unpadded per clip here.

 0 slow [N, 3, T/alpha, H, W]   1 fast [N, 3, T, H, W]   2 proposals [N, P, 4] pixels   3 gt_bboxes [N, P, 4]
 4 gt_labels [N, P, num_classes] multi-hot   5 scores [N, P]   6 entity_ids [N, P]   7 img_shape [N, 2] (H, W)
 8 idx [N]   9..13 the true row counts of entries 2..6 (the rest of each is zero padding).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Sequence

import numpy as np

SLOW, FAST, PROPOSALS, GT_BBOXES, GT_LABELS, SCORES, ENTITY_IDS, IMG_SHAPE, IDX = range(9)
LENGTH_OF = {PROPOSALS: 9, GT_BBOXES: 10, GT_LABELS: 11, SCORES: 12, ENTITY_IDS: 13}
BATCH_ENTRIES = 14


@dataclass(frozen=True)
class Clip:
    """One clip's unpadded boxes (pixels of the transformed clip) and its (H, W)."""

    proposals: np.ndarray   # [p, 4]
    gt_bboxes: np.ndarray   # [g, 4]
    gt_labels: np.ndarray   # [g, num_classes]
    img_shape: np.ndarray   # [2] (H, W)


def as_numpy(value: Any) -> np.ndarray:
    """A Paddle tensor or array-like as a numpy array."""
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def unpad(batch: Sequence[Any]) -> List[Clip]:
    """The clips of a batch with their padding rows dropped (entries 9..13 give the true counts)."""
    if len(batch) != BATCH_ENTRIES:
        raise ValueError(f"an AVA batch has {BATCH_ENTRIES} entries (PaddleVideo's AVADataset layout), "
                         f"got {len(batch)}")
    arrays = {entry: as_numpy(batch[entry]) for entry in (PROPOSALS, GT_BBOXES, GT_LABELS)}
    lengths = {entry: as_numpy(batch[LENGTH_OF[entry]]).reshape(-1).astype(np.int64) for entry in arrays}
    shapes = as_numpy(batch[IMG_SHAPE]).reshape(-1, 2)
    return [Clip(*(arrays[e][i, :lengths[e][i]].astype(np.float32) for e in (PROPOSALS, GT_BBOXES, GT_LABELS)),
                 img_shape=shapes[i])
            for i in range(len(shapes))]
