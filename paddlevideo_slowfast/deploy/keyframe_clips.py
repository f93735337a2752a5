"""The keyframes of a whole video for `detect`, and their clips, read in one forward pass over the file.

Keyframe k sits at k / fps seconds (k = 0, 1, ... inside the video). Its clip is AVA's test clip (SampleAVAFrames in
test mode): `clip_len` numbers `frame_interval` apart on the annotation grid (`grid_fps`, 30 for AVA) centred on the
keyframe, clamped to [1, grid frames - 1] as PaddleVideo clamps to its shot (so the video's last grid frame is never
in a clip); grid number n is the video frame nearest (n - 1) / grid_fps seconds (RawFrameDecode on a video). A
keyframe at an annotated second therefore gets exactly the clip `paddlevideo test` gives it.

The reader walks forward once; each frame is decoded once and kept only until the last keyframe that uses it (its
clip, the keyframe image a person detector reads, the frames drawn with its records when an annotated video is
written). Clips move forward with k, so the frames held at any time lie within one keyframe's span: at most one
clip span, plus the frames between two keyframes when drawing (`peak_frames` counts them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Collection, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..data.ava.decode import video_frame_index
from ..data.ava.sampling import ava_clip_numbers
from ..data.decoders import FramesEnded, VideoReader
from ..errors import ConfigError


@dataclass(frozen=True)
class KeyframePlan:
    """What keyframe `index` needs from the video (0-based frame indices)."""

    index: int
    seconds: float                  # index / fps, from the video's first frame
    frame: int                      # the keyframe itself (the frame nearest `seconds`)
    clip: Optional[np.ndarray]      # its clip's frames; None when the keyframe is not scored (no boxes there)
    shown: Tuple[int, int]          # [first, last) frames drawn with its records; empty when not drawing

    def needed(self, with_image: bool) -> np.ndarray:
        parts = [np.arange(*self.shown, dtype=np.int64)]
        if self.clip is not None:
            parts.append(self.clip)
            if with_image:
                parts.append(np.array([self.frame], np.int64))
        return np.unique(np.concatenate(parts))


@dataclass
class KeyframeFrames:
    """The decoded frames of one keyframe (RGB uint8)."""

    plan: KeyframePlan
    clip: Optional[np.ndarray]      # (clip_len, H, W, 3), None when not scored
    image: Optional[np.ndarray]     # (H, W, 3) the keyframe, when asked for and scored
    shown: List[np.ndarray]         # the frames of plan.shown, in order


def keyframe_count(video_frames: int, video_fps: float, fps: float) -> int:
    """Keyframes at 0, 1/fps, 2/fps, ... seconds that fall inside `video_frames` frames at `video_fps`."""
    if not fps > 0:
        raise ConfigError(f"keyframe rate {fps}", key="--fps", expected="a positive number of keyframes a second")
    duration = video_frames / float(video_fps)
    return max(1, int(math.floor(duration * fps - 1e-9)) + 1)


def plan_keyframes(video_frames: int, video_fps: float, fps: float, *, clip_len: int, frame_interval: int,
                   grid_fps: float, scored: Optional[Collection[int]] = None, show: bool = False) -> List[KeyframePlan]:
    """Every keyframe's plan; `scored` = the keyframes to make clips for (None: all); `show` = assign each frame to
    the keyframe nearest it in time, for drawing."""
    count = keyframe_count(video_frames, video_fps, fps)
    grid_frames = max(2, int(round(video_frames / float(video_fps) * grid_fps)))
    bounds = [0] + [min(video_frames, int(math.ceil((k - 0.5) * video_fps / fps - 1e-9))) for k in range(1, count)]
    bounds.append(video_frames)
    plans = []
    for k in range(count):
        seconds = k / float(fps)
        centre = int(round(seconds * grid_fps)) + 1
        frame = int(video_frame_index(np.array([centre]), grid_fps, video_fps, 0.0, video_frames)[0])
        clip = None
        if scored is None or k in scored:
            numbers = ava_clip_numbers(centre, clip_len, frame_interval, (0, grid_frames))
            clip = video_frame_index(numbers, grid_fps, video_fps, 0.0, video_frames)
        shown = (bounds[k], max(bounds[k], bounds[k + 1])) if show else (0, 0)
        plans.append(KeyframePlan(k, seconds, frame, clip, shown))
    return plans


class KeyframeWalker:
    """Iterates the KeyframeFrames of `planner(reader.num_frames)` in order, decoding each frame once.

    `planner` is called again over the corrected count when the stream ends before the frames its container
    declares (decoders.py); keyframes already given are not given again. `with_image`: also hand out each scored
    keyframe's own frame (what a person detector reads)."""

    def __init__(self, reader: VideoReader, planner: Callable[[int], List[KeyframePlan]], with_image: bool = False):
        self.reader, self.planner, self.with_image = reader, planner, with_image
        self.peak_frames = 0   # most frames held at once
        self.decoded = 0       # frames decoded in all

    def __iter__(self) -> Iterator[KeyframeFrames]:
        first = 0
        while True:
            plans = self.planner(self.reader.num_frames)
            try:
                for item in self._walk(plans[first:]):
                    yield item
                    first += 1
                return
            except FramesEnded:  # the reader corrected num_frames: plan the keyframes not yet given again
                continue

    def _walk(self, plans: List[KeyframePlan]) -> Iterator[KeyframeFrames]:
        needs = [plan.needed(self.with_image) for plan in plans]
        last_use: Dict[int, int] = {}
        for w, needed in enumerate(needs):
            for index in needed.tolist():
                last_use[index] = w
        union = np.array(sorted(last_use), dtype=np.int64)
        cache: Dict[int, np.ndarray] = {}
        done = 0  # union[:done] are decoded; reading in index order never goes back
        for w, (plan, needed) in enumerate(zip(plans, needs)):
            if len(needed):
                upto = int(np.searchsorted(union, needed[-1], side="right"))
                if upto > done:
                    frames = self.reader.read(union[done:upto])
                    cache.update(zip(union[done:upto].tolist(), frames))
                    self.decoded += upto - done
                    done = upto
            self.peak_frames = max(self.peak_frames, len(cache))
            item = KeyframeFrames(
                plan, clip=np.stack([cache[i] for i in plan.clip.tolist()]) if plan.clip is not None else None,
                image=cache[plan.frame] if plan.clip is not None and self.with_image else None,
                shown=[cache[i] for i in range(*plan.shown)])
            for index in needed.tolist():
                if last_use[index] == w:
                    del cache[index]
            yield item


def clip_span(plans: List[KeyframePlan]) -> int:
    """The most frames from the first to the last of one keyframe's needs (clip and drawn frames)."""
    spans = [int(n[-1] - n[0] + 1) for n in (p.needed(True) for p in plans) if len(n)]
    return max(spans, default=0)
