"""The one clip Grad-CAM explains: the test pipeline's first view of a video, and the frames it shows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

import numpy as np

from ..data import Compose
from ..data.pack import PackOutput
from ..data.transforms import Image2Array, Normalization, as_frames

SEED = 0


@dataclass
class Clip:
    """Model inputs of one view and its frames as seen (scaled and cropped, before normalisation)."""

    slow: np.ndarray            # (C, T/alpha, H, W)
    fast: np.ndarray            # (C, T, H, W)
    frames: np.ndarray          # (T, H, W, 3) uint8 RGB
    frame_indices: np.ndarray   # (T,) source frame of each clip frame
    fps: float                  # of the source video


def explain_clip(pipeline: Compose, path: str) -> Clip:
    """The centre clip and centre crop (one temporal, one spatial view) of `path` through a test pipeline;
    the shown frames come from the same decoded frames through the transforms before Image2Array."""
    results: Dict[str, Any] = {"filename": str(path), "rng": np.random.default_rng(SEED), "temporal_sample_index": 0,
                               "temporal_num_clips": 1, "spatial_sample_index": 0, "spatial_num_clips": 1}
    for stage in pipeline.before:
        results = stage(results)
    shown = dict(results, imgs=np.array(as_frames(results["imgs"]), copy=True))
    for stage in pipeline.transforms:
        if isinstance(stage, (Image2Array, Normalization, PackOutput)):  # from here on: model inputs
            break
        shown = stage(shown)
    slow, fast = pipeline.transform(results)["imgs"]
    frames = np.clip(np.asarray(as_frames(shown["imgs"]), np.float32).round(), 0, 255).astype(np.uint8)
    return Clip(slow, fast, frames, np.asarray(results["frame_indices"]), float(results["fps"]))
