"""Grad-CAM pictures: a heat map over the clip's frames, written as an H.264 MP4 per pathway and a PNG strip."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence, Tuple, Union

import cv2
import numpy as np

from ..data.video_writer import write_video

MIN_SIDE = 192       # small clips (64 px) are scaled up by a whole factor so the heat map can be seen
HEAT_WEIGHT = 0.5    # share of the heat colour in an overlaid pixel


def normalise(cam: np.ndarray) -> np.ndarray:
    """A map scaled to [0, 1] by its maximum over the whole clip (so it fades where the evidence does)."""
    top = float(cam.max()) if cam.size else 0.0
    return cam / top if top > 0 else np.zeros_like(cam)


def heat_overlay(frames: np.ndarray, cam: np.ndarray, weight: float = HEAT_WEIGHT) -> np.ndarray:
    """uint8 RGB frames (T, H, W, 3) blended with the jet colours of `cam` (T, H, W) in [0, 1]."""
    out = np.empty_like(frames)
    for i, (frame, heat) in enumerate(zip(frames, cam)):
        colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)[..., ::-1]
        out[i] = cv2.addWeighted(frame, 1.0 - weight, colour, weight, 0.0)
    return out


def draw_box(frames: np.ndarray, box: Sequence[float], colour: Tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """A copy of uint8 RGB frames (T, H, W, 3) with the box (x1, y1, x2, y2 in pixels) outlined, one pixel wide."""
    out = np.ascontiguousarray(frames).copy()
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    for frame in out:
        cv2.rectangle(frame, (x1, y1), (x2, y2), colour, 1)
    return out


def enlarge(frames: np.ndarray, min_side: int = MIN_SIDE) -> np.ndarray:
    """Frames scaled up by a whole factor until the short side reaches `min_side`, to even sizes (H.264)."""
    height, width = frames.shape[1:3]
    factor = max(1, math.ceil(min_side / min(height, width)))
    size = (width * factor + (width * factor) % 2, height * factor + (height * factor) % 2)
    if size == (width, height):
        return frames
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_NEAREST) for f in frames])


def write_heat_video(path: Union[str, Path], frames: np.ndarray, fps: float) -> Path:
    """The overlaid frames as an H.264 MP4 (PyAV), enlarged when small."""
    return write_video(path, enlarge(frames), fps=max(1, round(fps)))


def write_strip(path: Union[str, Path], rows: Sequence[Tuple[str, np.ndarray]], columns: int = 8) -> Path:
    """A PNG grid: one row per (title, frames (T, H, W, 3)), `columns` frames sampled evenly, titles on the left."""
    count = rows[0][1].shape[0]
    picks = np.unique(np.linspace(0, count - 1, min(columns, count)).round().astype(int))
    cells = [enlarge(frames[picks], 96) for _, frames in rows]
    height, width = cells[0].shape[1:3]
    label_width, gap = 64, 2
    canvas = np.full((len(rows) * (height + gap), label_width + len(picks) * (width + gap), 3), 255, np.uint8)
    for r, ((title, _), cell) in enumerate(zip(rows, cells)):
        top = r * (height + gap)
        cv2.putText(canvas, title, (4, top + height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for c, frame in enumerate(cell):
            left = label_width + c * (width + gap)
            canvas[top:top + height, left:left + width] = frame
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), canvas[..., ::-1]):
        raise OSError(f"could not write {path}")
    return path
