"""A video of the frames with each person box and its top actions drawn (OpenCV's writer).

H.264 (`avc1`) when this OpenCV build can encode it, else MPEG-4 Part 2 (`mp4v`), which every build can: the
pip wheels' FFmpeg has no H.264 encoder. The codec is probed by opening the writer, and named by `close()`.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence, Tuple, Union

import cv2
import numpy as np

from ..errors import ConfigError

CODECS = (("avc1", "H.264 (avc1)"), ("mp4v", "mp4v (MPEG-4 Part 2; this OpenCV build has no H.264 encoder)"))
PALETTE_BGR = ((0, 255, 0), (255, 128, 0), (0, 128, 255), (255, 0, 255), (0, 255, 255), (255, 255, 0))
FONT = cv2.FONT_HERSHEY_SIMPLEX


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the block: FFmpeg and OpenCV print a failed codec probe from C."""
    sys.stderr.flush()
    saved, sink = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(sink)


def open_writer(path: Path, fps: float, size: Tuple[int, int]) -> Tuple[cv2.VideoWriter, str]:
    """The first codec of CODECS whose writer opens at `path`, and its description."""
    for fourcc, description in CODECS:
        with _native_stderr_silenced():
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), tuple(size))
        if writer.isOpened():
            return writer, description
        writer.release()
    raise ConfigError(f"OpenCV cannot open a video writer ({', '.join(c for c, _ in CODECS)})", file=str(path),
                      key="--out", expected="a writable .mp4 path")


def action_text(actions: Sequence[Mapping[str, Any]], limit: int) -> list:
    """'label score' lines of the `limit` best actions."""
    best = sorted(actions, key=lambda a: -float(a["score"]))[:limit]
    return [f"{a['label']} {float(a['score']):.2f}" for a in best]


def draw_records(frame_bgr: np.ndarray, records: Sequence[Mapping[str, Any]], max_actions: int = 3) -> np.ndarray:
    """Boxes (normalised x1, y1, x2, y2) and their action lines drawn in place, text inside each box's top left."""
    height, width = frame_bgr.shape[:2]
    thickness = max(1, round(min(height, width) / 240))
    scale = max(0.3, min(height, width) / 720)
    for index, record in enumerate(records):
        colour = PALETTE_BGR[index % len(PALETTE_BGR)]
        x1, y1, x2, y2 = (np.clip(np.asarray(record["box"], dtype=np.float64), 0, 1)
                          * [width - 1, height - 1, width - 1, height - 1]).round().astype(int)
        cv2.rectangle(frame_bgr, (x1, y1), (x2, y2), colour, thickness)
        inside = frame_bgr[y1:y2 + 1, x1:x2 + 1]  # a view: text is clipped to the box, never over a neighbour
        y = thickness
        for line in action_text(record.get("actions", ()), max_actions):
            (w, h), base = cv2.getTextSize(line, FONT, scale, 1)
            if y + h + base > inside.shape[0]:
                break
            cv2.rectangle(inside, (thickness, y), (thickness + w + 2, y + h + base), colour, cv2.FILLED)
            cv2.putText(inside, line, (thickness + 1, y + h), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
            y += h + base
    return frame_bgr


class AnnotatedVideoWriter:
    """Writes RGB frames of size (W, H) with their records' boxes and top actions drawn."""

    def __init__(self, path: Union[str, Path], fps: float, size: Tuple[int, int], max_actions: int = 3):
        self.path, self.fps, self.size = Path(path), float(fps), (int(size[0]), int(size[1]))
        if not self.fps > 0 or min(self.size) <= 0:
            raise ValueError(f"{self.path}: fps {fps} and size {size} must be positive")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_actions = max_actions
        self.writer, self.codec = open_writer(self.path, self.fps, self.size)
        self.frames = 0

    def write(self, frame_rgb: np.ndarray, records: Sequence[Mapping[str, Any]] = ()) -> None:
        """One HxWx3 uint8 RGB frame with `records` ({"box": [x1, y1, x2, y2], "actions": [{label, score}]})."""
        frame = np.asarray(frame_rgb)
        if frame.shape != (self.size[1], self.size[0], 3) or frame.dtype != np.uint8:
            raise ValueError(f"{self.path}: frames must be {self.size[1]}x{self.size[0]}x3 uint8 RGB, "
                             f"got {frame.shape} {frame.dtype}")
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        self.writer.write(draw_records(bgr, records, self.max_actions))
        self.frames += 1

    def close(self) -> str:
        """Finish the file; one line naming it, the frame count and the codec used."""
        self.writer.release()
        width, height = self.size
        return f"wrote {self.path}: {self.frames} frames {width}x{height} at {self.fps:g} fps, codec {self.codec}"

    def __enter__(self) -> "AnnotatedVideoWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.writer.release()
