"""The service of an exported AVA detector: POST /v1/detect's video and person boxes to `detect --json`'s records.

The video and its box file arrive together (a multipart form); the boxes are read first, as `detect` reads them, so a
bad line is refused before any decoding. The video is then walked keyframe by keyframe in a decode pool thread
(Detector.run: the same sampling, pipeline and records as `paddlevideo detect`), and each keyframe's clip with its
boxes is one forward in the model process. Keyframes are not batched across requests: each holds its own number of
boxes (RoIs), and the exported program takes one clip per run in its ONNX form; concurrent requests' keyframes take
turns in the model process instead, one forward at a time.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from ..deploy.detector import Detector
from ..deploy.person_boxes import JSON_SUFFIXES, PICKLE_SUFFIXES, BoxTimeline, read_box_file
from ..errors import AnnotationError, VideoDecodeError
from .metrics import ServiceMetrics
from .model_process import ModelProcess
from .service import BaseService, Options
from .uploads import diagnose

BOX_SUFFIXES = (".csv", ".txt", *JSON_SUFFIXES)


@dataclass
class DetectQuery:
    """`detect`'s options a request sets: keyframes per second, the video's first timestamp on the boxes' clock,
    actions per person, least person score."""

    fps: float = 1.0
    video_start: float = 0.0
    top_k: int = 3
    det_threshold: float = 0.5


class DetectionService(BaseService):
    """An exported detector: a Detector preparing each keyframe's inputs here, its forward in a ModelProcess."""

    task = "detection"

    def __init__(self, model_dir: Path, options: Options, *, runtime: str = "paddle", device: str = "cpu",
                 threads: Optional[int] = None, metrics: Optional[ServiceMetrics] = None):
        super().__init__(options, ModelProcess(model_dir, task="detection", runtime=runtime, device=device,
                                               threads=threads), metrics)
        self.detector = Detector(model_dir, runner=self._forward)

    @property
    def model_dir(self) -> Path:
        return self.detector.model_dir

    @property
    def labels(self) -> List[str]:
        return self.detector.labels

    def _forward(self, *inputs: np.ndarray) -> np.ndarray:
        """One keyframe clip (slow, fast, proposals, rois_num) through the model process: [n, classes]."""
        probabilities = self.model(*inputs)
        self.metrics.batch_size.observe(1)
        return probabilities

    def read_boxes(self, data: bytes, name: str, video_id: str) -> BoxTimeline:
        """The person boxes of video `video_id` in an uploaded box file (AVA CSV rows or JSON lines, as `detect
        --boxes` reads them); AnnotationError naming `name` and the line when one cannot be read."""
        if Path(name).suffix.lower() in PICKLE_SUFFIXES:
            raise AnnotationError(name, "a pickle is not read from a request: send the boxes as AVA CSV rows or "
                                        "JSON lines")
        path, _ = self._as_file(data, name, BOX_SUFFIXES, ".txt")
        try:
            timeline = read_box_file(path, video_id)
        except AnnotationError as exc:
            raise AnnotationError(exc.path.replace(str(path), name), exc.reason, exc.line) from None
        finally:
            path.unlink(missing_ok=True)
        timeline.source = name
        return timeline

    def detect(self, video: bytes, name: str, boxes: bytes, boxes_name: str, query: DetectQuery,
               cancelled: threading.Event) -> List[Dict[str, Any]]:
        """In a pool thread: `detect --json`'s records of the uploaded video `name` (its stem is the video_id of
        the box rows) with its uploaded box file; stops between keyframes once `cancelled` is set."""
        timeline = self.read_boxes(boxes, boxes_name, Path(name).stem)
        path, _ = self._as_file(video, name)
        records = []
        try:
            run = self.detector.run(path, timeline, query.fps, top_k=query.top_k,
                                    det_threshold=query.det_threshold, video_start=query.video_start)
            for detection in run:
                records.append(detection.to_json())
                if cancelled.is_set():
                    break
        except VideoDecodeError as exc:
            raise VideoDecodeError(name, diagnose(path) or exc.reason) from None
        finally:
            path.unlink(missing_ok=True)
        return records
