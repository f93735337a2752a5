"""SlowFast temporal sampling: which source frames make one clip, and `DecodeSampler`, which decodes them.

A clip is `num_frames` frames spread evenly over a window of `num_frames * sampling_rate * fps / target_fps`
source frames, i.e. `sampling_rate` frames apart at `target_fps` whatever the video's own rate (4x16: 32 fast
frames at stride 2 span 64 frames of a 30 fps video). Training takes one window at a random start; test takes
`num_ensemble_views` windows, view i starting at `delta * (i + 0.5) / num_views` (delta: the frames the window
can slide over): each view is the centre of its equal share, so one view is the centre clip and the views lie
symmetric about the middle. (PaddleVideo's `delta * i / num_views` makes one view the first clip and never
reaches the end.) A video shorter than the window repeats its last frame, as PaddleVideo and PySlowFast do.

Which videos are usable (one rule for scan-data, test and predict, all reading through `read_clip` and
`read_views`): let N be the frames that decode (the container's declared count, corrected down when the stream
ends quietly before it; see decoders). A video is usable when N >= `min_frames` (default 1, PaddleVideo's
behaviour) and every source frame of the clips asked for decodes without error, the clip indices being clamped
to 0..N-1 (so one frame is a full clip's source frames for a one-frame video: its clip repeats that frame).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..errors import ConfigError, VideoDecodeError
from ..registry import PIPELINES
from .decoders import open_video
from .rng import stage_rng

DEFAULT_BACKEND = "opencv"


def clip_span(num_frames: int, sampling_rate: int, fps: float, target_fps: float = 30) -> float:
    """Source frames one clip covers: `num_frames * sampling_rate` frames at `target_fps`, converted to `fps`."""
    return num_frames * sampling_rate * fps / target_fps


def window_start(video_frames: int, span: float, *, view: Optional[int] = None, num_views: int = 1,
                 rng: Optional[np.random.Generator] = None) -> float:
    """Start of the window: uniform at random when `view` is None (training), else the centre of view `view`'s
    share of the slack (one view: the centre clip)."""
    delta = max(video_frames - span, 0.0)
    if view is None:
        return float((rng or np.random.default_rng()).uniform(0.0, delta))
    return delta * (view + 0.5) / num_views


def clip_indices(start: float, span: float, num_frames: int, video_frames: int) -> np.ndarray:
    """`num_frames` int64 frame indices spread over [start, start + span - 1], clipped to the video."""
    index = np.linspace(start, start + span - 1, num_frames).astype(np.int64)
    return np.clip(index, 0, video_frames - 1)


@PIPELINES.register()
class DecodeSampler:
    """Decode one clip (train: random window; test: the view `results['temporal_sample_index']`) into `imgs`.

    `imgs` becomes uint8 RGB (num_frames, H, W, 3). `backend` (default: `results['backend']`, else opencv) picks
    the decoder. `default_sampling_rate` is the low end of PaddleVideo's random rate in short cycles.
    `long_cycle_sampling_rate` (PySlowFast's MULTIGRID.LONG_CYCLE_SAMPLING_RATE, which our multigrid sets for a
    long-cycle shape of fewer frames) makes training draw the rate from [sampling_rate, long_cycle_sampling_rate],
    so that fewer frames still span about the default clip's time. A video with fewer than `min_frames` frames
    raises VideoDecodeError (too short).
    """

    def __init__(self, num_frames: int, sampling_rate: int, default_sampling_rate: int = 2,
                 target_fps: float = 30, test_mode: bool = False, backend: Optional[str] = None,
                 num_threads: int = 1, min_frames: int = 1, long_cycle_sampling_rate: int = 0):
        if long_cycle_sampling_rate and long_cycle_sampling_rate < sampling_rate:
            raise ConfigError(f"long_cycle_sampling_rate {long_cycle_sampling_rate} < sampling_rate {sampling_rate}",
                              key="DecodeSampler.long_cycle_sampling_rate", expected=f">= {sampling_rate}, or 0")
        self.long_cycle_sampling_rate = int(long_cycle_sampling_rate)
        self.num_frames = int(num_frames)
        self.sampling_rate = int(sampling_rate)
        self.default_sampling_rate = int(default_sampling_rate)
        self.target_fps = float(target_fps)
        self.test_mode = bool(test_mode)
        self.backend = backend
        self.num_threads = int(num_threads)
        self.min_frames = max(1, int(min_frames))

    def check_length(self, reader) -> None:
        """Refuse a video with fewer frames than `min_frames` (the frames that decode, once a read has found them)."""
        if reader.num_frames < self.min_frames:
            raise VideoDecodeError(reader.path, f"too short: {reader.num_frames} frames, at least {self.min_frames} "
                                                "wanted (DecodeSampler.min_frames)")

    def read_clip(self, reader, results: Mapping[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
        """(indices, frames) of the clip `results` asks for, under the module's usability rule."""
        def plan(video_frames: int) -> np.ndarray:
            self.check_length(reader)
            return self.indices(video_frames, reader.fps, results)
        return reader.read_planned(plan)

    def read_views(self, reader, num_views: int) -> Tuple[List[np.ndarray], np.ndarray, np.ndarray]:
        """(indices per view, their sorted union, the union's frames) of `num_views` test windows, in one pass."""
        windows: List[np.ndarray] = []

        def plan(video_frames: int) -> np.ndarray:
            self.check_length(reader)
            windows[:] = self.view_indices(video_frames, reader.fps, num_views)
            return np.unique(np.concatenate(windows))
        union, frames = reader.read_planned(plan)
        return windows, union, frames

    def rate_for(self, results: Mapping[str, Any], rng: np.random.Generator) -> int:
        """The sampling rate of this item: in multigrid, PySlowFast's random rate over a long cycle's span, else
        the random one PaddleVideo draws in a short cycle."""
        if self.long_cycle_sampling_rate:
            if self.long_cycle_sampling_rate == self.sampling_rate:
                return self.sampling_rate
            return int(rng.integers(self.sampling_rate, self.long_cycle_sampling_rate + 1))
        if results.get("short_cycle_idx"):
            return int(rng.integers(self.default_sampling_rate, self.sampling_rate + 1))
        return self.sampling_rate

    def backend_for(self, results: Mapping[str, Any]) -> str:
        return self.backend or results.get("backend") or DEFAULT_BACKEND

    def indices(self, video_frames: int, fps: float, results: Mapping[str, Any]) -> np.ndarray:
        """Frame indices of the clip `results` asks for: a random window, or its temporal view in test mode."""
        rng = stage_rng(results)
        span = clip_span(self.num_frames, self.rate_for(results, rng), fps, self.target_fps)
        if self.test_mode:
            start = window_start(video_frames, span, view=int(results.get("temporal_sample_index", 0)),
                                 num_views=int(results.get("temporal_num_clips", 1)))
        else:
            start = window_start(video_frames, span, rng=rng)
        return clip_indices(start, span, self.num_frames, video_frames)

    def view_indices(self, video_frames: int, fps: float, num_views: int) -> List[np.ndarray]:
        """Frame indices of each of the `num_views` evenly spaced test windows."""
        span = clip_span(self.num_frames, self.sampling_rate, fps, self.target_fps)
        return [clip_indices(window_start(video_frames, span, view=v, num_views=num_views), span,
                             self.num_frames, video_frames) for v in range(num_views)]

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        with open_video(results["filename"], self.backend_for(results), self.num_threads) as reader:
            index, results["imgs"] = self.read_clip(reader, results)
            results["frame_indices"] = index
            results["fps"] = reader.fps
            results["video_frames"] = reader.num_frames
        return results
