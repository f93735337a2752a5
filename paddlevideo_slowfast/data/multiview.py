"""Multi-view test that decodes each video once: all temporal windows in one forward pass, all views from them.

PaddleVideo and PySlowFast decode a video once per view (10 temporal x 3 spatial = 30 opens, seeks and
decodes). Here the union of the `num_ensemble_views` windows' frame indices is read in one forward pass, and
every view is cut from those frames. Transforms that ignore the spatial view (the test JitterScale) run once
per temporal window; the rest run once per view. Views are ordered temporal-major, as PaddleVideo's test list:
view `t * num_spatial_crops + s`. The result equals per-view decoding (same indices, same pixels; tested).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Tuple

import numpy as np

from ..errors import ConfigError
from .compose import Compose
from .decoders import open_video


def _run(stages: Iterable[Callable], results: Dict[str, Any]) -> Dict[str, Any]:
    for stage in stages:
        results = stage(results)
    return results


def _sampler(pipeline: Compose):
    sampler = pipeline.sampler
    if sampler is None or not sampler.test_mode:
        raise ConfigError("multi-view test needs a DecodeSampler with test_mode: True",
                          key="PIPELINE.test.decode_sampler.test_mode", expected="True")
    return sampler


def decode_once_views(pipeline: Compose, results: Dict[str, Any], num_views: int,
                      num_crops: int) -> Tuple[np.ndarray, np.ndarray]:
    """(slow (V, C, T/alpha, H, W), fast (V, C, T, H, W)) of all V = num_views * num_crops views of one video."""
    sampler = _sampler(pipeline)
    with open_video(results["filename"], sampler.backend_for(results), sampler.num_threads) as reader:
        windows, union, frames = sampler.read_views(reader, num_views)
        fps, video_frames = reader.fps, reader.num_frames
    prefix, per_view = pipeline.split_spatial()
    slow = fast = None
    for t, index in enumerate(windows):
        window = _run(prefix, dict(results, imgs=frames[np.searchsorted(union, index)], frame_indices=index,
                                   fps=fps, video_frames=video_frames, temporal_sample_index=t,
                                   temporal_num_clips=num_views, spatial_num_clips=num_crops))
        for s in range(num_crops):
            view_slow, view_fast = _run(per_view, dict(window, spatial_sample_index=s))["imgs"]
            if slow is None:
                count = num_views * num_crops
                slow = np.empty((count,) + view_slow.shape, view_slow.dtype)
                fast = np.empty((count,) + view_fast.shape, view_fast.dtype)
            slow[t * num_crops + s], fast[t * num_crops + s] = view_slow, view_fast
    return slow, fast


def per_view_views(pipeline: Compose, results: Dict[str, Any], num_views: int,
                   num_crops: int) -> Tuple[np.ndarray, np.ndarray]:
    """The same views decoded the usual way, one open-seek-decode per view (the reference, and the benchmark's
    baseline)."""
    _sampler(pipeline)
    slow: List[np.ndarray] = []
    fast: List[np.ndarray] = []
    for t in range(num_views):
        for s in range(num_crops):
            view = pipeline(dict(results, temporal_sample_index=t, temporal_num_clips=num_views,
                                 spatial_sample_index=s, spatial_num_clips=num_crops))
            slow.append(view["imgs"][0])
            fast.append(view["imgs"][1])
    return np.stack(slow), np.stack(fast)
