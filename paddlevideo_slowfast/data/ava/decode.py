"""`RawFrameDecode`: the frames of one AVA clip, from extracted JPEGs or straight from the video file.

- Frames (`results['frame_dir']`): PaddleVideo's layout, frame number k in `frame_dir/suffix.format(k)`
  (`img_{:05}.jpg`), read with OpenCV as RGB. Numbers past the last frame (`results['total_frames']`) are
  clamped to it.
- Video (`results['filename']`): frame number k is the video's frame at time `video_offset + (k - 1) / fps`
  (`fps` the annotation grid, 30), i.e. frame k - 1 of a 30 fps file cut at `timestamp_start`, the file that
  PaddleVideo extracts its JPEGs from; a file at another rate gives its nearest frame. Only the clip is decoded:
  the reader seeks to the keyframe before its first frame (decoders.py). Numbers past the end are clamped to
  the frames that decode.
So a video and the frames extracted from it give the same clip. Boxes (normalised) become pixels of the frames.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

from ...errors import VideoDecodeError
from ...registry import PIPELINES
from ..decoders import open_video
from ..sampling import DEFAULT_BACKEND


def read_frame_clip(frame_dir: str, suffix: str, numbers: np.ndarray,
                    total_frames: Optional[int] = None) -> np.ndarray:
    """RGB uint8 (T, H, W, 3) of the 1-based frame `numbers` in `frame_dir`, each file read once."""
    if total_frames:
        numbers = np.clip(numbers, 1, int(total_frames))
    unique, inverse = np.unique(numbers, return_inverse=True)
    frames = None
    for k, number in enumerate(unique.tolist()):
        path = os.path.join(frame_dir, suffix.format(number))
        if not os.path.isfile(path):  # before imread, which would also print an OpenCV warning
            raise VideoDecodeError(path, "no such frame")
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise VideoDecodeError(path, "cannot decode the image")
        if frames is None:
            frames = np.empty((len(unique),) + image.shape, np.uint8)
        elif image.shape != frames.shape[1:]:
            raise VideoDecodeError(path, f"frame is {image.shape[:2]}, earlier frames {frames.shape[1:3]}")
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=frames[k])
    return frames[inverse.reshape(-1)]


def video_frame_index(numbers: np.ndarray, grid_fps: float, video_fps: float, offset_s: float,
                      video_frames: int) -> np.ndarray:
    """0-based frames of the video at the times of the 1-based grid `numbers` (nearest frame), clamped to it."""
    seconds = offset_s + (np.asarray(numbers, np.float64) - 1) / float(grid_fps)
    index = np.floor(seconds * float(video_fps) + 0.5).astype(np.int64)
    return np.clip(index, 0, int(video_frames) - 1)


def read_video_clip(path: str, numbers: np.ndarray, grid_fps: float, offset_s: float = 0.0,
                    backend: str = DEFAULT_BACKEND, num_threads: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """(0-based video frame indices, RGB uint8 (T, H, W, 3)) of the grid `numbers`, decoding only the clip."""
    with open_video(path, backend, num_threads) as reader:
        return reader.read_planned(lambda count: video_frame_index(numbers, grid_fps, reader.fps, offset_s, count))


def boxes_to_pixels(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Normalised [n, 4] (x1, y1, x2, y2) to float32 pixels of a (height, width) frame."""
    return (np.asarray(boxes, np.float64) * np.array([width, height, width, height])).astype(np.float32)


@PIPELINES.register()
class RawFrameDecode:
    """Decode the clip `frame_inds` into `imgs` (T, H, W, 3) uint8 RGB; boxes to pixels (module docstring).

    `io_backend`/`decoding_backend` are PaddleVideo's (disk, cv2: the only ones it has); `backend` picks the
    video decoder (default `results['backend']`, else opencv)."""

    def __init__(self, io_backend: str = "disk", decoding_backend: str = "cv2", backend: Optional[str] = None,
                 num_threads: int = 1):
        self.io_backend, self.decoding_backend = io_backend, decoding_backend
        self.backend, self.num_threads = backend, int(num_threads)

    def read(self, results: Dict[str, Any]) -> np.ndarray:
        numbers = np.asarray(results["frame_inds"], np.int64).reshape(-1) + int(results.get("offset", 0))
        if results.get("filename"):
            backend = self.backend or results.get("backend") or DEFAULT_BACKEND
            index, frames = read_video_clip(results["filename"], numbers, results["fps"],
                                            float(results.get("video_offset", 0.0)), backend, self.num_threads)
            results["video_frame_inds"] = index
            return frames
        return read_frame_clip(results["frame_dir"], results.get("suffix") or "img_{:05}.jpg", numbers,
                               results.get("total_frames"))

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        frames = self.read(results)
        height, width = frames.shape[1:3]
        results["imgs"] = frames
        results["original_shape"] = results["img_shape"] = (height, width)
        for key in ("gt_bboxes", "proposals"):
            if results.get(key) is not None:
                results[key] = boxes_to_pixels(results[key], height, width)
        return results
