"""`predict --windows S --out annotated.mp4`: the input video with each window's top-k drawn over its frames, and
a timeline PNG beside it (`annotated_timeline.png`: each leading class's probability over time).

Frames are read once, in order, after the windows are classified; small videos (the 64 px embedded ones) are
scaled up by a whole factor so that the text can be read. The writer and its codec probe are annotate.py's.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Iterable, Iterator, Sequence, Union

import cv2
import numpy as np

from ..errors import ConfigError, VideoDecodeError
from .annotate import FONT, AnnotatedVideoWriter

MIN_SIDE = 256      # shorter side of the written video, at least (whole-factor upscaling)
MAX_CLASSES = 8     # lines on the timeline plot: the classes with the highest peak probability



def timeline_png_path(out: Union[str, Path]) -> Path:
    """`annotated.mp4` -> `annotated_timeline.png` beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}_timeline.png")


def annotate_windows(windows: Iterable, video: str, out: Union[str, Path], labels: Sequence[str]) -> Iterator:
    """Pass the window predictions through unchanged; once they are all seen, write the annotated video and the
    timeline PNG (so `predict` prints each window as soon as it is classified)."""
    seen = []
    for window in windows:
        seen.append(window)
        yield window
    write_annotated_video(video, seen, out)
    write_timeline_png(seen, timeline_png_path(out), labels, title=Path(video).name)
    print(f"wrote {timeline_png_path(out)}", file=sys.stderr, flush=True)


def _scale(height: int, width: int) -> int:
    return max(1, math.ceil(MIN_SIDE / max(1, min(height, width))))


def draw_window(frame_rgb: np.ndarray, window, limit: int = 3) -> np.ndarray:
    """The window's time span and its best `limit` classes (label, score and a bar) drawn at the top left."""
    height, width = frame_rgb.shape[:2]
    scale = max(0.4, min(height, width) / 560)
    thickness = 1 if scale < 0.8 else 2
    lines = [f"{window.start:.1f}-{window.end:.1f} s"]
    lines += [f"{e['label']} {e['score']:.2f}" for e in window.top_k[:limit]]
    sizes = [cv2.getTextSize(line, FONT, scale, thickness) for line in lines]
    step = max(h + base for (_, h), base in sizes) + 4
    box_width = min(width, max(w for (w, _), _ in sizes) + 12)
    overlay = frame_rgb.copy()
    cv2.rectangle(overlay, (0, 0), (box_width, step * len(lines) + 6), (0, 0, 0), cv2.FILLED)
    frame_rgb = cv2.addWeighted(overlay, 0.55, frame_rgb, 0.45, 0.0)
    for i, line in enumerate(lines):
        y = (i + 1) * step
        if i:  # a bar under each class line, its length the score
            score = float(window.top_k[i - 1]["score"])
            cv2.rectangle(frame_rgb, (6, y + 1), (6 + int((box_width - 12) * score), y + 3), (0, 200, 255), cv2.FILLED)
        cv2.putText(frame_rgb, line, (6, y - 2), FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return frame_rgb


def write_annotated_video(video: str, windows: Sequence, out: Union[str, Path]) -> str:
    """Every frame of `video` with the top-k of the window it falls in, at the video's frame rate; the writer's
    one-line summary (also logged)."""
    if not windows:
        raise ConfigError("no windows to draw", key="--out", expected="a video with at least one window")
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise VideoDecodeError(str(video), "cannot be opened to write the annotated video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    index, current = 0, 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            seconds = index / fps
            while current + 1 < len(windows) and seconds >= windows[current].end:
                current += 1
            factor = _scale(*frame.shape[:2])
            if factor > 1:
                frame = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
            if writer is None:
                writer = AnnotatedVideoWriter(out, fps, (frame.shape[1], frame.shape[0]))
            writer.write(draw_window(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), windows[current]))
            index += 1
    finally:
        capture.release()
        summary = writer.close() if writer is not None else None
    if summary is None:
        raise VideoDecodeError(str(video), "no frame decoded for the annotated video")
    print(summary, file=sys.stderr, flush=True)
    return summary


def write_timeline_png(windows: Sequence, path: Union[str, Path], labels: Sequence[str], title: str = "") -> Path:
    """Probability over time (one step per window) of the classes with the highest peaks."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scores = np.stack([np.asarray(w.scores, np.float64) for w in windows])          # [windows, classes]
    edges = [windows[0].start] + [w.end for w in windows]
    classes = [int(c) for c in np.argsort(-scores.max(axis=0), kind="stable")[:MAX_CLASSES]]
    fig = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for c in classes:
        ax.stairs(scores[:, c], edges, label=labels[c] if c < len(labels) else str(c), linewidth=1.5, baseline=None)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("seconds")
    ax.set_ylabel("probability")
    ax.set_title(title or "class probability per window")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
