"""The model inputs of one video for `predict`: its test views, or a timeline of windows, each decoded once.

Whole video: `decode_once_views` of the data package (the same views as the test set, read in one pass).
Timeline (`--windows SECONDS`): the video is cut into consecutive windows of SECONDS; each window gets its own
views (temporal views spread inside the window, spatial crops as configured). One reader walks forward through
the video; a frame is decoded once and kept only until the last window that uses it, so memory holds about
the frames of the windows in flight however long the video is. Every stage gets a fixed-seed generator: a pipeline with random
stages still gives the same output on every run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..data import Compose, decode_once_views, open_video
from ..data.decoders import FramesEnded
from ..data.sampling import DecodeSampler, clip_indices, clip_span
from ..errors import ConfigError

SEED = 0


@dataclass
class Window:
    """The views of one timeline window: seconds [start, end) of the video."""

    start: float
    end: float
    slow: np.ndarray   # (V, C, T/alpha, H, W)
    fast: np.ndarray   # (V, C, T, H, W)


def parse_views(text: str) -> Tuple[int, int]:
    """'10x3' -> (10 temporal views, 3 spatial crops)."""
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"views '{text}' is not TEMPORALxSPATIAL", key="--views", expected="e.g. 1x1 or 10x3")
    return int(parts[0]), int(parts[1])


def _results(path: str, backend: Optional[str]) -> Dict[str, Any]:
    results: Dict[str, Any] = {"filename": str(path), "rng": np.random.default_rng(SEED)}
    if backend:
        results["backend"] = backend
    return results


def video_views(pipeline: Compose, path: str, views: Tuple[int, int],
                backend: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """(slow, fast) stacks of the `views[0] x views[1]` test views of the whole video, decoded once."""
    return decode_once_views(pipeline, _results(path, backend), views[0], views[1])


def _sampler(pipeline: Compose) -> DecodeSampler:
    sampler = pipeline.sampler
    if sampler is None or not sampler.test_mode:
        raise ConfigError("prediction needs a DecodeSampler with test_mode: True", key="PIPELINE.test.decode_sampler",
                          expected="test_mode: True")
    return sampler


def window_indices(video_frames: int, fps: float, seconds: float, sampler: DecodeSampler,
                   num_views: int) -> List[Tuple[float, float, List[np.ndarray]]]:
    """(start s, end s, clip indices per temporal view) of every window; views lie inside a window that is at
    least one clip long, and a shorter window gets clips centred on it (clamped to the video)."""
    if not seconds > 0:
        raise ConfigError(f"window length {seconds}", key="--windows", expected="a positive number of seconds")
    span = clip_span(sampler.num_frames, sampler.sampling_rate, fps, sampler.target_fps)
    duration = video_frames / fps
    windows = []
    for k in range(max(1, math.ceil(duration / seconds - 1e-9))):
        start_s, end_s = k * seconds, min((k + 1) * seconds, duration)
        first, last = start_s * fps, min(end_s * fps, video_frames)
        room = (last - first) - span
        clips = []
        for v in range(num_views):
            begin = first + (room * (v + 0.5) / num_views if room >= 0 else room / 2)  # view centres spread evenly
            begin = min(max(begin, 0.0), max(video_frames - span, 0.0))
            clips.append(clip_indices(begin, span, sampler.num_frames, video_frames))
        windows.append((round(start_s, 3), round(end_s, 3), clips))
    return windows


def timeline_views(pipeline: Compose, path: str, seconds: float, views: Tuple[int, int],
                   backend: Optional[str] = None) -> Iterator[Window]:
    """The views of each consecutive `seconds`-long window, in order, from one forward pass over the video."""
    sampler = _sampler(pipeline)
    prefix, per_view = pipeline.split_spatial()
    num_views, num_crops = views
    base = _results(path, backend)
    with open_video(path, sampler.backend_for(base), sampler.num_threads) as reader:
        fps, first = reader.fps, 0
        while True:
            sampler.check_length(reader)
            plan = window_indices(reader.num_frames, fps, seconds, sampler, num_views)
            try:
                for window in _walk(reader, plan, first, prefix, per_view, base, num_crops):
                    yield window
                    first += 1
                return
            except FramesEnded:  # fewer frames decode than declared: plan the windows not yet given again
                continue


def frames_views(pipeline: Compose, frames: np.ndarray, fps: float,
                 views: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """The views of one window of already decoded RGB frames (n, H, W, 3), placed as in a timeline window of
    that length: a live source's window, whose frames arrive before its views can be planned."""
    count = len(frames)
    if count == 0:
        raise ValueError("a window needs at least one frame")
    (_, _, clips), = window_indices(count, fps, count / fps, _sampler(pipeline), views[0])
    prefix, per_view = pipeline.split_spatial()
    return _window_views(prefix, per_view, _results("live", None), dict(enumerate(frames)), clips, views[1], fps,
                         count)


def _walk(reader, plan, first: int, prefix, per_view, base: Dict[str, Any], num_crops: int) -> Iterator[Window]:
    """The windows `plan[first:]`, each frame decoded once and kept until the last window that uses it."""
    fps, video_frames = reader.fps, reader.num_frames
    last_use: Dict[int, int] = {}
    for w, (_, _, clips) in enumerate(plan[first:], start=first):
        for index in np.concatenate(clips).tolist():
            last_use[index] = w
    union = np.array(sorted(last_use), dtype=np.int64)
    cache: Dict[int, np.ndarray] = {}
    done = 0  # union[:done] have been decoded: reading in index order never goes back
    for w, (start, end, clips) in enumerate(plan[first:], start=first):
        needed = np.unique(np.concatenate(clips))
        upto = int(np.searchsorted(union, needed[-1], side="right"))
        if upto > done:
            cache.update(zip(union[done:upto].tolist(), reader.read(union[done:upto])))
            done = upto
        slow, fast = _window_views(prefix, per_view, base, cache, clips, num_crops, fps, video_frames)
        for index in needed.tolist():
            if last_use[index] == w:
                del cache[index]
        yield Window(start, end, slow, fast)


def _window_views(prefix, per_view, base: Dict[str, Any], cache: Dict[int, np.ndarray], clips: List[np.ndarray],
                  num_crops: int, fps: float, video_frames: int) -> Tuple[np.ndarray, np.ndarray]:
    slows, fasts = [], []
    for t, index in enumerate(clips):
        results = dict(base, imgs=np.stack([cache[i] for i in index.tolist()]), frame_indices=index, fps=fps,
                       video_frames=video_frames, temporal_sample_index=t, temporal_num_clips=len(clips),
                       spatial_num_clips=num_crops)
        for stage in prefix:
            results = stage(results)
        for s in range(num_crops):
            view = dict(results, spatial_sample_index=s)
            for stage in per_view:
                view = stage(view)
            slows.append(view["imgs"][0])
            fasts.append(view["imgs"][1])
    return np.stack(slows), np.stack(fasts)
