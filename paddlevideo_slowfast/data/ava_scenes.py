"""Scenes of the generated AVA-format dataset: 1-3 shapes ("actors") on a textured, noisy background, each doing,
at every keyframe, one pose and possibly one manner, which only motion tells apart.

Like AVA, where every person has a pose (stand, walk ...) and may also interact, an actor's labels at a keyframe
are exactly one pose (`stand` or `move_<direction>`) and at most one manner (`rotate_*`, `blink_*`); both change
over the video in runs of keyframes, so an actor's actions overlap in time and follow one another. Shape, colour,
size and place are drawn the same way for every action: one frame does not tell the action.

Timing follows AVA and PaddleVideo: frame `j * fps` is the keyframe `j` seconds into the video, and
SampleAVAFrames(32, interval 2) reads frames k-33 .. k+30 around keyframe k (its jitter included). Keyframes are
only placed where that clip lies inside the video without clamping (and clear of the last frame, which
PaddleVideo's `shot_info` bound never reads). A run switches halfway between keyframes, so at least 72% of every
keyframe's clip shows the keyframe's own actions; an interior run lasts at least two keyframes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .synthetic import SHAPES, background_texture, bright_colour, fill_polygon, paint_shape, shape_points

POSES: Tuple[str, ...] = ("stand", "move_left", "move_right", "move_up", "move_down")
MANNERS: Tuple[str, ...] = ("rotate_cw", "rotate_ccw", "blink_slow", "blink_fast")
ACTIONS: Tuple[str, ...] = POSES + MANNERS  # AVA action id = position + 1
FLIP_ACTION_PAIRS: Tuple[Tuple[str, str], ...] = (("move_left", "move_right"), ("rotate_cw", "rotate_ccw"))

CLIP_BEFORE = 33  # SampleAVAFrames(clip_len 32, interval 2): 16 * 2 frames before the keyframe, 1 of jitter
CLIP_AFTER = 31   # 15 * 2 after it, and 1 more: the last frame of a video is never read
NOISE_SIGMA = 6.0
DIM_ALPHA = 0.2   # a blinking actor's opacity in its dim half-period

_DIRECTIONS: Dict[str, Tuple[float, float]] = {"move_left": (-1.0, 0.0), "move_right": (1.0, 0.0),
                                               "move_up": (0.0, -1.0), "move_down": (0.0, 1.0)}
# per-keyframe-run draw: pose/manner -> probability (None: no manner)
_POSE_ODDS: Dict[str, float] = {"stand": 0.4, "move_left": 0.15, "move_right": 0.15, "move_up": 0.15,
                                "move_down": 0.15}
_MANNER_ODDS: Dict[Optional[str], float] = {None: 0.4, "rotate_cw": 0.15, "rotate_ccw": 0.15, "blink_slow": 0.15,
                                            "blink_fast": 0.15}
_ACTOR_COUNT_ODDS = (0.25, 0.4, 0.35)  # 1, 2, 3 actors (fewer when they do not fit)
_DIAMETER = (0.24, 0.32)      # of the frame side
_SPEED = (0.003, 0.0045)      # frame sides per frame (0.38-0.58 px/frame at 128 px)
_TURN = (5.0, 9.0)            # degrees per frame
_BLINK_PERIOD = {"blink_slow": (20.0, 28.0), "blink_fast": (6.0, 10.0)}  # frames
_MARGIN = 0.02                # of the frame side, kept clear around every actor
_GAP = 1.1                    # actors' circumscribed circles stay this factor apart: no occlusion
_TRIES = 40


def keyframe_offsets(seconds: int, fps: int) -> List[int]:
    """Seconds j from the video start whose keyframe (frame j * fps) has its whole clip inside the video."""
    frames = seconds * fps
    return [j for j in range(seconds + 1) if j * fps >= CLIP_BEFORE and j * fps + CLIP_AFTER <= frames - 1]


@dataclass(frozen=True)
class Actor:
    """One shape: its look, its per-frame centre, angle (degrees) and opacity, and its actions at each keyframe."""

    shape: str
    radius: float
    colour: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    angle: np.ndarray
    alpha: np.ndarray
    poses: Tuple[str, ...]
    manners: Tuple[Optional[str], ...]

    def actions(self, keyframe: int) -> Tuple[int, ...]:
        """AVA action ids (1-based, ascending) at the `keyframe`-th keyframe."""
        names = [self.poses[keyframe]] + ([self.manners[keyframe]] if self.manners[keyframe] else [])
        return tuple(sorted(ACTIONS.index(n) + 1 for n in names))

    def points(self, frame: int) -> np.ndarray:
        """The polygon (n, 2) in pixel coordinates (pixel centres at integers) at `frame`."""
        return shape_points(SHAPES[self.shape], self.radius, self.cx[frame], self.cy[frame], self.angle[frame])

    def box(self, frame: int, size: int) -> Tuple[float, float, float, float]:
        """The tight box (x1, y1, x2, y2) normalised to [0, 1] by the frame side, as AVA stores boxes."""
        points = self.points(frame)
        low = (points.min(axis=0) + 0.5) / size   # pixel i spans [i - 0.5, i + 0.5]: edge coordinates
        high = (points.max(axis=0) + 0.5) / size
        x1, y1 = np.clip(low, 0.0, 1.0)
        x2, y2 = np.clip(high, 0.0, 1.0)
        return float(x1), float(y1), float(x2), float(y2)


@dataclass(frozen=True)
class Scene:
    """A planned video: its size, length, keyframe frame indices and actors (rendering needs its own generator)."""

    size: int
    frames: int
    fps: int
    keyframes: Tuple[int, ...]
    actors: Tuple[Actor, ...]


def _runs(rng: np.random.Generator, count: int, odds: Dict) -> List[Tuple[object, int, int]]:
    """Runs (label, first, last keyframe) covering `count` keyframes; interior runs hold two keyframes or more."""
    labels, weights = list(odds), np.array(list(odds.values()))
    cuts: List[int] = []
    for _ in range(_TRIES):
        cuts = [i for i in range(1, count) if rng.random() < 0.35]
        bounds = [0] + cuts + [count]
        if all(b - a >= 2 for a, b in zip(bounds[1:-2], bounds[2:-1])):
            break
    else:
        cuts = []
    bounds = [0] + cuts + [count]
    runs: List[Tuple[object, int, int]] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        label = labels[int(rng.choice(len(labels), p=weights))]
        if runs and runs[-1][0] == label:
            runs[-1] = (label, runs[-1][1], b - 1)
        else:
            runs.append((label, a, b - 1))
    return runs


def _span(first: int, last: int, keyframes: Sequence[int], fps: int) -> Tuple[int, int]:
    """Frames [start, end) of a run of keyframes: from halfway after the previous keyframe (or the first frame a
    clip reads) to halfway before the next one (or the last frame a clip reads, + 1)."""
    start = keyframes[first] - fps // 2 if first > 0 else keyframes[0] - CLIP_BEFORE
    end = keyframes[last] + fps - fps // 2 if last < len(keyframes) - 1 else keyframes[-1] + CLIP_AFTER
    return start, end


def _elapsed(frames: int, start: int, end: int) -> np.ndarray:
    """Frames spent inside [start, end) up to each frame: 0 before, growing, then held."""
    return np.clip(np.arange(frames, dtype=np.float64) - start, 0, end - start)


def _draw_actor(rng: np.random.Generator, size: int, frames: int, fps: int, keyframes: Sequence[int]) -> Actor:
    """One actor's look, actions and motion, its centre track relative to a start at (0, 0)."""
    count = len(keyframes)
    shape = list(SHAPES)[int(rng.integers(len(SHAPES)))]
    radius = rng.uniform(*_DIAMETER) * size / 2.0
    colour = bright_colour(rng)
    poses: List[str] = ["stand"] * count
    manners: List[Optional[str]] = [None] * count
    dx, dy = np.zeros(frames), np.zeros(frames)
    angle = np.full(frames, rng.uniform(0, 360))
    alpha = np.ones(frames)
    for pose, first, last in _runs(rng, count, _POSE_ODDS):
        poses[first:last + 1] = [str(pose)] * (last - first + 1)
        if pose in _DIRECTIONS:
            moved = _elapsed(frames, *_span(first, last, keyframes, fps)) * rng.uniform(*_SPEED) * size
            dx += _DIRECTIONS[str(pose)][0] * moved
            dy += _DIRECTIONS[str(pose)][1] * moved
    for manner, first, last in _runs(rng, count, _MANNER_ODDS):
        manners[first:last + 1] = [manner] * (last - first + 1)
        start, end = _span(first, last, keyframes, fps)
        if manner in ("rotate_cw", "rotate_ccw"):
            # image y points down, so a growing angle turns clockwise on screen
            sign = 1.0 if manner == "rotate_cw" else -1.0
            angle += sign * rng.uniform(*_TURN) * _elapsed(frames, start, end)
        elif manner in _BLINK_PERIOD:
            period = rng.uniform(*_BLINK_PERIOD[str(manner)])
            phase = rng.uniform(0, period)
            inside = np.zeros(frames, bool)
            inside[start:end] = True
            dim = ((np.arange(frames) - start + phase) % period) >= period / 2
            alpha[inside & dim] = DIM_ALPHA
    return Actor(shape, radius, colour, dx, dy, angle, alpha, tuple(poses), tuple(manners))


def _place(rng: np.random.Generator, size: int, actor: Actor, seen: slice,
           placed: Sequence[Actor]) -> Optional[Actor]:
    """`actor` moved to a random start keeping it inside the frame and clear of `placed` over the frames clips
    read, or None when a few random starts all fail."""
    radius, dx, dy = actor.radius, actor.cx, actor.cy
    low = radius + _MARGIN * size
    high = size - 1 - radius - _MARGIN * size
    x_lo, x_hi = low - dx[seen].min(), high - dx[seen].max()
    y_lo, y_hi = low - dy[seen].min(), high - dy[seen].max()
    if x_lo > x_hi or y_lo > y_hi:
        return None
    for _ in range(_TRIES):
        cx, cy = dx + rng.uniform(x_lo, x_hi), dy + rng.uniform(y_lo, y_hi)
        if all(np.all(np.hypot(cx[seen] - o.cx[seen], cy[seen] - o.cy[seen]) >= _GAP * (radius + o.radius))
               for o in placed):
            return replace(actor, cx=cx, cy=cy)
    return None


def plan_scene(rng: np.random.Generator, *, size: int, seconds: int, fps: int = 30, max_actors: int = 3) -> Scene:
    """Draw a scene: 1..max_actors actors whose tracks stay in frame and never overlap (fewer when they do not
    fit; the first actor always fits, standing if need be)."""
    frames = seconds * fps
    keyframes = tuple(j * fps for j in keyframe_offsets(seconds, fps))
    wanted = 1 + int(rng.choice(len(_ACTOR_COUNT_ODDS), p=_ACTOR_COUNT_ODDS))
    seen = slice(keyframes[0] - CLIP_BEFORE, keyframes[-1] + CLIP_AFTER)
    actors: List[Actor] = []
    for slot in range(min(wanted, max_actors)):
        for _ in range(_TRIES):
            drawn = _draw_actor(rng, size, frames, fps, keyframes)
            actor = _place(rng, size, drawn, seen, actors)
            if actor is None and slot == 0:
                still = replace(drawn, cx=np.zeros(frames), cy=np.zeros(frames), poses=("stand",) * len(keyframes))
                actor = _place(rng, size, still, seen, actors)
            if actor is not None:
                actors.append(actor)
                break
        else:
            break
    return Scene(size, frames, fps, keyframes, tuple(actors))


def render_scene(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """The uint8 RGB frames (frames, size, size, 3): a static texture, the actors, fresh pixel noise per frame."""
    size = scene.size
    background = background_texture(rng, size)
    out = np.empty((scene.frames, size, size, 3), np.uint8)
    for i in range(scene.frames):
        frame = background.copy()
        for actor in scene.actors:
            points = actor.points(i)
            x0, y0 = np.maximum(np.floor(points.min(axis=0)).astype(int) - 1, 0)
            x1, y1 = np.minimum(np.ceil(points.max(axis=0)).astype(int) + 2, size)
            # painted inside the actor's window only: the same pixels, a fraction of the work
            frame[y0:y1, x0:x1] = paint_shape(frame[y0:y1, x0:x1], np.empty((y1 - y0, x1 - x0), np.uint8),
                                              points - (x0, y0), actor.colour, actor.alpha[i])
        frame += rng.standard_normal((size, size, 3), dtype=np.float32) * np.float32(NOISE_SIGMA)
        np.clip(frame, 0, 255, out=frame)
        out[i] = frame
    return out


def actor_masks(scene: Scene, frame: int) -> np.ndarray:
    """(actors, size, size) uint8 coverage of each actor's polygon at `frame`, as `render_scene` draws it."""
    masks = np.zeros((len(scene.actors), scene.size, scene.size), np.uint8)
    for mask, actor in zip(masks, scene.actors):
        fill_polygon(mask, actor.points(frame))
    return masks


def flip_action_pairs(classes: Sequence[str] = ACTIONS) -> List[List[int]]:
    """AVA action-id pairs a left-right mirror swaps (move_left/right, rotate_cw/ccw), for the classes given."""
    ids = {name: i + 1 for i, name in enumerate(classes)}
    return [[ids[a], ids[b]] for a, b in FLIP_ACTION_PAIRS if a in ids and b in ids]
