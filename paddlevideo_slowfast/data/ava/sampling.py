"""`SampleAVAFrames`: the frame numbers of the clip around one AVA keyframe (PaddleVideo's indices).

Frame numbers are 1-based on the annotation's frame grid (`fps`, 30 for AVA: `img_00001.jpg` is the first frame
of the cut that starts at `timestamp_start`). The keyframe of second t is frame `fps * (t - timestamp_start) + 1`;
the clip is `clip_len` frames `frame_interval` apart, `clip_len // 2` of them before it, each moved by a random
skip in [floor(-frame_interval / 2), (frame_interval + 1) // 2) in training (none in evaluation: PaddleVideo draws one
there too, which makes its test scores vary run to run). Numbers are clamped to the shot: [1, shot_end - 1]
(PaddleVideo's upper bound; its lower bound 0 names a frame no extraction writes). The decoder clamps them again
to the frames that exist.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from ...errors import ConfigError
from ...registry import PIPELINES
from ..rng import stage_rng


def keyframe_number(timestamp: int, timestamp_start: int, fps: int) -> int:
    """1-based frame number of the keyframe of second `timestamp`."""
    return int(fps) * (int(timestamp) - int(timestamp_start)) + 1


def ava_clip_numbers(center: int, clip_len: int, frame_interval: int, shot: Sequence[int],
                     skips: Optional[np.ndarray] = None) -> np.ndarray:
    """`clip_len` frame numbers `frame_interval` apart around `center`, plus `skips`, clamped to the shot."""
    start = center - (clip_len // 2) * frame_interval
    numbers = start + np.arange(clip_len, dtype=np.int64) * frame_interval
    if skips is not None:
        numbers = numbers + skips
    return np.clip(numbers, max(int(shot[0]), 1), int(shot[1]) - 1)


@PIPELINES.register()
class SampleAVAFrames:
    """`frame_inds` of the clip centred on `results['timestamp']` (see the module docstring)."""

    def __init__(self, clip_len: int = 32, frame_interval: int = 2, test_mode: bool = False):
        if int(clip_len) < 1 or int(frame_interval) < 1:
            raise ConfigError(f"SampleAVAFrames needs clip_len and frame_interval >= 1, got {clip_len} and "
                              f"{frame_interval}", key="SampleAVAFrames.clip_len")
        self.clip_len, self.frame_interval, self.test_mode = int(clip_len), int(frame_interval), bool(test_mode)

    def skips(self, results: Dict[str, Any]) -> Optional[np.ndarray]:
        """Random per-frame skips in training; none in evaluation."""
        if self.test_mode or results.get("test_mode"):
            return None
        low, high = (-self.frame_interval) // 2, (self.frame_interval + 1) // 2
        return stage_rng(results).integers(low, high, size=self.clip_len)

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        fps, start = int(results["fps"]), int(results["timestamp_start"])
        shot = results.get("shot_info") or (0, (int(results["timestamp_end"]) - start) * fps)
        center = keyframe_number(results["timestamp"], start, fps)
        results["frame_inds"] = ava_clip_numbers(center, self.clip_len, self.frame_interval, shot,
                                                 self.skips(results))
        results["clip_len"], results["frame_interval"], results["num_clips"] = (self.clip_len, self.frame_interval,
                                                                                 1)
        results["crop_quadruple"] = np.array([0, 0, 1, 1], np.float32)
        return results
