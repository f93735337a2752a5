"""Grad-CAM (Selvaraju et al. 2017) on each SlowFast pathway separately, as PySlowFast's visualisation does.

For a score y (a recognizer's class logit averaged over its pooling positions, or one RoI's action logit of a
detector) and a stage's output A_p of pathway p ([C, T_p, h, w]): weights w_c = mean over (t, y, x) of dy/dA_c,
map = ReLU(sum_c w_c A_c), one (T_p, h, w) map per pathway. `stage_grad_cams` does this for any scores computed
from the backbone's features (one forward, one backward per score); `grad_cam` is it for a recognizer.
`upsample_cam` brings a map to the clip's frames in time and space.

`method="hirescam"` (HiResCAM, Draelos & Carin 2020) keeps the gradient per position instead of averaging it per
channel: map = ReLU(sum_c dy/dA_c * A_c). A detector needs it to tell its RoIs apart: its RoI head averages
RoIAlign samples whose weights sum to one, so each channel's gradient summed over positions is the same for every
box, and Grad-CAM's maps of two boxes scored for the same action are identical wherever the boxes are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..errors import ConfigError

LAYERS = ("s2", "s3", "s4", "s5")   # the backbone's res stages; s5 is the last (Grad-CAM's usual choice)
PATHWAY_NAMES = ("slow", "fast")
METHODS = ("gradcam", "hirescam")   # gradient averaged per channel (Grad-CAM), or kept per position (HiResCAM)


@dataclass
class GradCam:
    """One clip's class probabilities, the explained class, and the raw map of each pathway the backbone runs."""

    probabilities: np.ndarray        # (num_classes,), as the model's eval output
    target: int
    pathways: List[str]              # "slow", "fast" (one of them for a single-pathway backbone)
    maps: List[np.ndarray]           # (T_p, h, w) per pathway, >= 0


Scores = Callable[[Sequence[Any]], Tuple[Any, Sequence[Any]]]


def check_layer(layer: str, method: str = "gradcam") -> None:
    """A ConfigError naming --layer (--cam) unless `layer` is one of the backbone's res stages (a known method)."""
    if layer not in LAYERS:
        raise ConfigError(f"unknown layer '{layer}'", key="--layer", expected=", ".join(LAYERS))
    if method not in METHODS:
        raise ConfigError(f"unknown method '{method}'", key="--cam", expected=", ".join(METHODS))


def stage_grad_cams(backbone, slow: np.ndarray, fast: np.ndarray, layer: str, scores: Scores,
                    method: str = "gradcam") -> Tuple[Any, List[List[np.ndarray]]]:
    """Grad-CAM (or HiResCAM) maps per pathway ((T_p, h, w), >= 0) at stage `layer` of `backbone` on one clip,
    for each scalar score that `scores(features)` computes from the backbone's output; `scores` returns (whatever
    it wants reported, [score tensors]). The stage's own outputs are the activations (a forward-post hook)."""
    import paddle

    check_layer(layer, method)
    captured: List[Sequence] = []

    def keep(_layer, _inputs, outputs):
        captured.append(outputs)   # the stage's [slow, fast] outputs, unchanged

    handle = getattr(backbone, layer).register_forward_post_hook(keep)
    try:
        with paddle.set_grad_enabled(True):
            clips = [paddle.to_tensor(np.asarray(c, np.float32)[None]) for c in (slow, fast)]
            report, targets = scores(backbone(clips))
            activations = list(captured[-1])
            grads = [paddle.grad(y, activations, allow_unused=True, retain_graph=i < len(targets) - 1)
                     for i, y in enumerate(targets)]
    finally:
        handle.remove()
    values = [a.numpy()[0] for a in activations]                             # [C, T_p, h, w] per pathway
    maps = []
    for per_score in grads:
        cams = []
        for a, g in zip(values, per_score):
            g = np.zeros_like(a) if g is None else g.numpy()[0]
            if method == "hirescam":
                cams.append(np.maximum((g * a).sum(axis=0), 0.0))            # [T_p, h, w]
                continue
            weights = g.mean(axis=(1, 2, 3))                                 # [C]
            cams.append(np.maximum(np.tensordot(weights, a, axes=1), 0.0))   # [T_p, h, w]
        maps.append(cams)
    return report, maps


def pathway_names(backbone) -> List[str]:
    """The pathways a backbone runs, by name ("slow", "fast")."""
    return [PATHWAY_NAMES[p] for p in getattr(backbone, "PATHWAYS", (0, 1))]


def grad_cam(model, slow: np.ndarray, fast: np.ndarray, target: Optional[int] = None,
             layer: str = "s5", method: str = "gradcam") -> GradCam:
    """Grad-CAM of `model` (a Recognizer3D with a SlowFastHead) on one clip (slow (C, T/alpha, H, W), fast
    (C, T, H, W), normalised as the model's pipeline makes them); `target` None explains the top class."""
    import paddle.nn.functional as F

    backbone, head = getattr(model, "backbone", None), getattr(model, "head", None)
    if getattr(model, "task", None) != "recognition" or not hasattr(head, "position_logits"):
        raise ConfigError(f"Grad-CAM explains recognition models with a SlowFastHead, not {type(model).__name__}",
                          key="MODEL", expected="a recognizer (detectors: explain.detection)")
    check_layer(layer, method)
    chosen: List[int] = []

    def class_score(features):
        logits = head.position_logits(features)                              # [1, t, h, w, classes]
        probabilities = F.softmax(logits, axis=-1).mean(axis=[1, 2, 3])[0].numpy()
        index = int(np.argmax(probabilities)) if target is None else int(target)
        if not 0 <= index < probabilities.shape[0]:
            raise ConfigError(f"target class {index} out of range", key="--target-class",
                              expected=f"0..{probabilities.shape[0] - 1} or a class name")
        chosen.append(index)
        return probabilities, [logits.mean(axis=[1, 2, 3])[0, index]]

    model.eval()
    probabilities, maps = stage_grad_cams(backbone, slow, fast, layer, class_score, method)
    return GradCam(probabilities, chosen[0], pathway_names(backbone), maps[0])


def frame_positions(pathway: str, num_frames: int, alpha: int) -> np.ndarray:
    """Which of the clip's `num_frames` (Fast) frames a pathway's input holds: all, or the Slow ones."""
    from ..data import slow_indices

    return slow_indices(num_frames, alpha) if pathway == "slow" else np.arange(num_frames)


def upsample_cam(cam: np.ndarray, positions: np.ndarray, num_frames: int, size: Tuple[int, int]) -> np.ndarray:
    """(T_p, h, w) map -> (num_frames, H, W): bilinear in space, linear in time between the frames `positions`
    (one per map step; a map with another step count is spread evenly over them)."""
    height, width = size
    positions = np.asarray(positions, np.float64)
    if len(positions) != cam.shape[0]:
        positions = np.linspace(positions[0], positions[-1], cam.shape[0])
    spatial = np.stack([cv2.resize(np.ascontiguousarray(m, np.float32), (width, height),
                                   interpolation=cv2.INTER_LINEAR) for m in cam])   # [T_p, H, W]
    if cam.shape[0] == 1:
        return np.repeat(spatial, num_frames, axis=0)
    frames = np.arange(num_frames, dtype=np.float64)
    # row f: linear weights of the map steps at frame f (np.interp of each step's indicator)
    weights = np.stack([np.interp(frames, positions, np.eye(cam.shape[0])[j]) for j in range(cam.shape[0])], 1)
    return np.maximum(np.tensordot(weights, spatial, axes=1), 0.0).astype(np.float32)   # [T, H, W]
