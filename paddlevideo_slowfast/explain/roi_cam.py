"""Grad-CAM per person box (RoI) of an AVA detector: each RoI's action logit explained at a backbone stage.

The detector's backbone runs once on the keyframe's clip; the RoI head scores every box; each RoI's chosen
action logit (before the sigmoid) is then differentiated on its own, so each box gets its own pair of maps.
HiResCAM by default: Grad-CAM's per-channel averages are the same for every box here (gradcam.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ..errors import ConfigError
from .gradcam import check_layer, pathway_names, stage_grad_cams


@dataclass
class RoiCam:
    """One RoI's action probabilities (sigmoid, column 0 reserved), the explained action, a map per pathway."""

    probabilities: np.ndarray        # (num_classes,)
    target: int                      # a column >= 1
    maps: List[np.ndarray]           # (T_p, h, w) per pathway, >= 0


def roi_grad_cams(model, slow: np.ndarray, fast: np.ndarray, rois: np.ndarray, target: Optional[int] = None,
                  layer: str = "s5", method: str = "hirescam") -> List[RoiCam]:
    """Maps of each of `rois` [R, 4] (pixels of the clip) of a FastRCNN on one clip (slow (C, T/alpha, H, W),
    fast (C, T, H, W)); `target` None explains each RoI's top-scoring action, else that column for every RoI.
    `method`: "hirescam" (default: per-RoI maps) or "gradcam" (the same map for boxes scored for one action)."""
    import paddle
    import paddle.nn.functional as F

    if getattr(model, "task", None) != "detection" or not hasattr(model, "roi_head"):
        raise ConfigError(f"RoI Grad-CAM explains AVA detectors, not {type(model).__name__}", key="MODEL.framework",
                          expected="FastRCNN")
    check_layer(layer, method)
    rois = np.asarray(rois, np.float32).reshape(-1, 4)
    if not len(rois):
        return []
    classes = int(model.num_classes)
    if target is not None and not 1 <= int(target) < classes:
        raise ConfigError(f"target action column {target} out of range", key="--target-class",
                          expected=f"1..{classes - 1} (column 0 is reserved) or an action name")
    chosen: List[int] = []

    def roi_scores(features):
        logits = model.roi_head.scores(features, paddle.to_tensor(rois),
                                       paddle.to_tensor(np.array([len(rois)], np.int32)))   # [R, classes]
        probabilities = F.sigmoid(logits).numpy()
        for row in probabilities:
            chosen.append(1 + int(np.argmax(row[1:])) if target is None else int(target))
        return probabilities, [logits[i, c] for i, c in enumerate(chosen)]

    model.eval()
    probabilities, maps = stage_grad_cams(model.backbone, slow, fast, layer, roi_scores, method)
    return [RoiCam(p, c, m) for p, c, m in zip(probabilities, chosen, maps)]


def roi_pathways(model) -> List[str]:
    """The pathways of a detector's backbone, in the order of each RoiCam's maps."""
    return pathway_names(model.backbone)
