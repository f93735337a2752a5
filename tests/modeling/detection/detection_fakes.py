"""Shared by the detection tests (imported as `detection_fakes`): a tiny FastRCNN config and PaddleVideo-layout AVA
batches for it."""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

TINY_CLASSES = 6  # column 0 reserved, actions 1..5
TINY_MODEL: Dict[str, Any] = {
    "framework": "FastRCNN",
    "backbone": {"name": "ResNetSlowFast", "depth": 10, "width_per_group": 8, "alpha": 4, "beta": 4,
                 "fusion_kernel_sz": 5, "fuse_bn_relu": 0, "use_pool_af_s2": 0,
                 "spatial_strides": [[1, 1], [2, 2], [2, 2], [1, 1]]},
    "head": {"name": "AVARoIHead",
             "bbox_roi_extractor": {"name": "SingleRoIExtractor3D", "roi_layer_type": "RoIAlign", "output_size": 4,
                                    "with_temporal_pool": True},
             "bbox_head": {"name": "BBoxHeadAVA", "num_classes": TINY_CLASSES, "multilabel": True,
                           "dropout_ratio": 0.5, "topk": [1, 2]},
             "assigner": {"name": "MaxIoUAssignerAVA", "pos_iou_thr": 0.9, "neg_iou_thr": 0.9, "min_pos_iou": 0.9},
             "sampler": {"name": "RandomSampler", "num": 8, "pos_fraction": 1, "neg_pos_ub": -1,
                         "add_gt_as_proposals": True},
             "pos_weight": 1.0, "action_thr": 0.0},
}


def tiny_model_cfg(**head_overrides: Any) -> Dict[str, Any]:
    """The tiny MODEL config (depth 10, width 8, res5 at stride 1 like AVA's), with MODEL.head keys replaced."""
    cfg = copy.deepcopy(TINY_MODEL)
    cfg["head"].update(copy.deepcopy(head_overrides))
    return cfg


def ava_batch(proposals: Sequence[np.ndarray], gt_bboxes: Sequence[np.ndarray], gt_labels: Sequence[np.ndarray],
              *, size: int = 64, frames: int = 8, alpha: int = 4, pad: int = 8, num_classes: int = TINY_CLASSES,
              seed: int = 0, img_shapes: Optional[Sequence[Sequence[int]]] = None) -> List:
    """PaddleVideo's 14-entry AVA batch (stacked, zero-padded to `pad` rows) of random clips and the given boxes."""
    import paddle

    rng = np.random.default_rng(seed)
    n = len(proposals)

    def padded(arrays: Sequence[np.ndarray], width: Optional[int]) -> np.ndarray:
        out = np.zeros((n, pad) + ((width,) if width else ()), np.float32)
        for i, a in enumerate(arrays):
            out[i, :len(a)] = a
        return out

    scores = [np.ones(len(p), np.float32) for p in proposals]
    entity = [np.arange(len(g), dtype=np.float32) for g in gt_bboxes]
    shapes = np.array(img_shapes if img_shapes is not None else [[size, size]] * n, np.int64)
    lengths = [np.array([len(a) for a in arrays], np.int64)
               for arrays in (proposals, gt_bboxes, gt_labels, scores, entity)]
    entries = [rng.normal(size=(n, 3, frames // alpha, size, size)), rng.normal(size=(n, 3, frames, size, size)),
               padded(proposals, 4), padded(gt_bboxes, 4), padded(gt_labels, num_classes), padded(scores, None),
               padded(entity, None), shapes, np.arange(n), *lengths]
    return [paddle.to_tensor(np.asarray(e, np.float32) if i < 2 else e) for i, e in enumerate(entries)]


def multi_hot(actions: Sequence[Sequence[int]], num_classes: int = TINY_CLASSES) -> np.ndarray:
    out = np.zeros((len(actions), num_classes), np.float32)
    for row, ids in enumerate(actions):
        out[row, list(ids)] = 1.0
    return out

