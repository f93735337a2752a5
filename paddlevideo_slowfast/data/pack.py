"""`PackOutput`: split one clip into SlowFast's two pathway inputs.

The Fast pathway gets every frame; the Slow pathway `T // alpha` of them (`alpha` in the paper: the frame-rate
ratio Fast/Slow), evenly spaced from the first to the last: np.linspace(0, T - 1, T // alpha) truncated to ints.
T=32, alpha=8 -> [0, 10, 20, 31]; T=32, alpha=4 -> [0, 4, 8, 13, 17, 22, 26, 31].
"""
from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

from ..errors import ConfigError
from ..registry import PIPELINES


def slow_indices(num_fast: int, alpha: int) -> np.ndarray:
    """Fast-frame indices the Slow pathway keeps."""
    return np.linspace(0, num_fast - 1, num_fast // alpha).astype(np.int64)


def pack_pathways(frames: np.ndarray, alpha: int) -> List[np.ndarray]:
    """(T, H, W, C) -> [slow (C, T // alpha, H, W), fast (C, T, H, W)], float32 and contiguous."""
    fast = np.ascontiguousarray(frames.transpose(3, 0, 1, 2), dtype=np.float32)
    slow = np.ascontiguousarray(fast[:, slow_indices(fast.shape[1], alpha)])
    return [slow, fast]


@PIPELINES.register()
class PackOutput:
    """`imgs` (T, H, W, C) becomes [slow, fast] in (C, T, H, W) layout; `alpha` as the model's."""

    spatial = False

    def __init__(self, alpha: int):
        if int(alpha) < 1:
            raise ConfigError(f"PackOutput alpha must be >= 1, got {alpha}", key="PackOutput.alpha")
        self.alpha = int(alpha)

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        frames = results["imgs"]
        if frames.shape[0] < self.alpha:
            raise ConfigError(f"PackOutput: {frames.shape[0]} frames cannot feed a Slow pathway at alpha {self.alpha}",
                              key="PackOutput.alpha", expected="alpha <= the clip's num_frames")
        results["imgs"] = pack_pathways(frames, self.alpha)
        return results
