"""`Detector(model_dir).detect(video, boxes=...)`: the actions of each person at each keyframe of a video, from an
exported AVA detector (`paddlevideo export` of a FastRCNN config).

One keyframe every 1 / fps seconds over the whole video; each gets AVA's test clip around it (keyframe_clips.py),
the test pipeline of infer_cfg.yml (Rescale, Normalize, PackOutput) with its person boxes, and one forward pass of
Paddle Inference (or onnxruntime on model.onnx) scoring every box for every action. Boxes come from a box file or a
person detector (person_boxes.py); keyframes without boxes are not run. The video is decoded once, forward, holding
only the frames of the keyframes in flight, so memory does not grow with its length.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np

from ..errors import ConfigError
from .infer_cfg import INFER_CFG, InferConfig, read_infer_config
from .keyframe_clips import KeyframeWalker, clip_span, keyframe_count, plan_keyframes
from .person_boxes import BoxTimeline, as_box_array, keyframe_boxes, threshold_boxes

logger = logging.getLogger("paddlevideo_slowfast.deploy")

INPUTS = ("slow", "fast", "proposals", "rois_num")
RUNTIMES = ("paddle", "onnx")


@dataclass
class Detection:
    """One person at one keyframe: its box (normalised x1, y1, x2, y2), box score and scored actions."""

    timestamp: float                 # seconds: video_start + keyframe / fps
    box: List[float]
    score: float                     # the person box's score (1 for ground-truth boxes)
    actions: List[Dict[str, Any]]    # [{label, action_id, score}] by falling score

    def to_json(self) -> Dict[str, Any]:
        """{timestamp, box, score, actions: [{label, action_id, score}]}: one line of `detect --json`."""
        return {"timestamp": self.timestamp, "box": self.box, "score": self.score, "actions": self.actions}


class DetectionRun:
    """The Detections of one video in keyframe order, computed while iterated; afterwards `keyframes` (count),
    `scored` (keyframes run through the model), `decoded` (frames decoded, each once), `peak_frames` (most frames
    held at once), `span` (frames from the first to the last one a keyframe needs: peak_frames never exceeds it)
    and `annotated` (the writer's message, with `out`)."""

    def __init__(self, detector: "Detector", video: str, boxes: Any, fps: float, top_k: Optional[int],
                 det_threshold: float, video_start: float, out: Optional[str], backend: Optional[str]):
        self.detector, self.video = detector, str(video)
        self.boxes = keyframe_boxes(boxes, Path(self.video).stem)  # a bad box file fails before any decoding
        self.fps, self.top_k, self.det_threshold = float(fps), top_k, float(det_threshold)
        self.video_start, self.out, self.backend = float(video_start), out, backend
        self.keyframes = self.scored = self.peak_frames = self.span = self.decoded = 0
        self.annotated: Optional[str] = None

    def __iter__(self) -> Iterator[Detection]:
        from ..data import open_video
        from ..data.sampling import DEFAULT_BACKEND

        if not self.fps > 0:
            raise ConfigError(f"keyframe rate {self.fps}", key="--fps", expected="a positive number")
        with open_video(self.video, self.backend or DEFAULT_BACKEND) as reader:
            video_fps = reader.fps
            count = keyframe_count(reader.num_frames, video_fps, self.fps)
            timeline = self.boxes.by_keyframe(self.video_start, self.fps, count) \
                if isinstance(self.boxes, BoxTimeline) else None
            walker = KeyframeWalker(reader, lambda count: self._plan(count, video_fps, timeline),
                                    with_image=timeline is None)
            writer = None
            try:
                for item in walker:
                    records = self._records(item, timeline, self.boxes)
                    payload = [{"box": r.box, "actions": r.actions} for r in records]
                    for frame in item.shown:
                        writer = writer or self._writer(video_fps, frame)
                        writer.write(frame, payload)
                    yield from records
            finally:
                self.peak_frames, self.decoded = walker.peak_frames, walker.decoded
                if writer is not None:
                    self.annotated = writer.close()

    def _plan(self, count: int, video_fps: float, timeline: Optional[Dict[int, np.ndarray]]):
        sampler = self.detector.sampling
        plans = plan_keyframes(count, video_fps, self.fps, clip_len=sampler["clip_len"],
                               frame_interval=sampler["frame_interval"], grid_fps=sampler["fps"],
                               scored=None if timeline is None else set(timeline), show=bool(self.out))
        self.keyframes, self.span = len(plans), max(self.span, clip_span(plans))
        return plans

    def _writer(self, video_fps: float, frame: np.ndarray):
        from .annotate import AnnotatedVideoWriter

        return AnnotatedVideoWriter(self.out, video_fps, (int(frame.shape[1]), int(frame.shape[0])))

    def _records(self, item: Any, timeline: Optional[Dict[int, np.ndarray]], finder: Any) -> List[Detection]:
        if item.clip is None:
            return []
        if timeline is not None:
            boxes = timeline.get(item.plan.index, np.zeros((0, 5)))
        else:
            boxes = as_box_array(finder(item.image), f"{self.video} keyframe {item.plan.index}")
        boxes = threshold_boxes(boxes, self.det_threshold)
        if not len(boxes):
            return []
        self.scored += 1
        probabilities = self.detector.score_clip(item.clip, boxes[:, :4])
        timestamp = round(self.video_start + item.plan.seconds, 6)
        return [Detection(timestamp, [round(float(v), 6) for v in box[:4]], round(float(box[4]), 6),
                          self.detector.actions(row, self.top_k))
                for box, row in zip(boxes, probabilities)]


class KeyframeModel:
    """What a detector's record (infer_cfg.yml, or `detection_record` of a config) says about its keyframes: the
    clip sampling, the transforms after decoding, each action's threshold and label; shared by `detect` and
    `explain`."""

    def __init__(self, info: InferConfig):
        self.info = info
        self.sampling = self._sampling(self.info)
        self.transforms = self._transforms(self.info)
        self.thresholds = self._thresholds(self.info)

    @staticmethod
    def _sampling(info: InferConfig) -> Dict[str, Any]:
        """clip_len and frame_interval from the pipeline's sampler (checked against `keyframes`), grid fps."""
        from .detect_export import pipeline_stages

        sampler = pipeline_stages(info.pipeline)["sampler"]
        stated = info.keyframes or {}
        for key in ("clip_len", "frame_interval"):
            if key in stated and int(stated[key]) != getattr(sampler, key):
                raise ConfigError(f"keyframes.{key} = {stated[key]} disagrees with the pipeline's sampler "
                                  f"({getattr(sampler, key)})", key=f"keyframes.{key}", file=INFER_CFG)
        return {"clip_len": sampler.clip_len, "frame_interval": sampler.frame_interval,
                "fps": float(stated.get("fps") or 30)}

    @staticmethod
    def _transforms(info: InferConfig):
        """The stages after the decoder, composed as the dataset composes them."""
        from ..data import build_pipeline
        from ..data.ava import RawFrameDecode
        from ..data.compose import Compose

        stages = build_pipeline(info.pipeline, where="PIPELINE.test").stages
        decoder = next(i for i, s in enumerate(stages) if isinstance(s, RawFrameDecode))
        return Compose(stages[decoder + 1:])

    @staticmethod
    def _thresholds(info: InferConfig) -> np.ndarray:
        classes = int(info.num_classes or 0)
        value = (info.keyframes or {}).get("action_thr", 0.0)
        thresholds = np.asarray(value if isinstance(value, (list, tuple)) else [value] * classes, np.float64)
        if len(thresholds) != classes:
            raise ConfigError(f"action_thr has {len(thresholds)} values for {classes} classes",
                              key="keyframes.action_thr", file=INFER_CFG)
        return thresholds

    @property
    def labels(self) -> List[str]:
        """The name of each output column (column 0 is AVA's reserved class)."""
        return [self.info.label(i) for i in range(int(self.info.num_classes or 0))]

    @staticmethod
    def decoded(frames: np.ndarray, boxes: np.ndarray) -> Dict[str, Any]:
        """The pipeline's `results` after its decoder: the clip (T, H, W, 3) RGB uint8 and `boxes` [n, 4]
        normalised, as pixel proposals."""
        from ..data.ava.decode import boxes_to_pixels

        height, width = frames.shape[1:3]
        return {"imgs": frames, "img_shape": (height, width), "original_shape": (height, width),
                "proposals": boxes_to_pixels(boxes, height, width), "gt_bboxes": None,
                "rng": np.random.default_rng(0)}

    def inputs(self, frames: np.ndarray, boxes: np.ndarray) -> List[np.ndarray]:
        """The model inputs (slow, fast, proposals, rois_num) of one clip (T, H, W, 3) RGB uint8 and its person boxes
        [n, 4] normalised: the test pipeline after the decoder, boxes in pixels moving with the frames."""
        results = self.transforms(self.decoded(frames, boxes))
        slow, fast = results["imgs"]
        proposals = np.asarray(results["proposals"], np.float32).reshape(-1, 4)
        return [slow[None], fast[None], proposals, np.array([len(proposals)], np.int32)]

    def actions(self, probabilities: np.ndarray, top_k: Optional[int] = None) -> List[Dict[str, Any]]:
        """[{label, action_id, score}] of the columns 1.. above their action_thr, best first, at most `top_k`."""
        ids: Sequence[int] = (self.info.keyframes or {}).get("action_ids") or range(1, len(probabilities))
        columns = [c for c in range(1, len(probabilities)) if probabilities[c] > self.thresholds[c]]
        columns.sort(key=lambda c: -probabilities[c])
        if top_k is not None:
            columns = columns[:max(0, int(top_k))]
        return [{"label": self._label(c, ids), "action_id": int(ids[c - 1]), "score": round(float(probabilities[c]), 6)}
                for c in columns]

    def _label(self, column: int, ids: Sequence[int]) -> str:
        names = self.info.label_names
        return names[column] if names and column < len(names) else f"action {ids[column - 1]}"


class Detector(KeyframeModel):
    """An exported AVA detector on Paddle Inference (or onnxruntime): `detect(video, boxes=...)` per keyframe.

    model_dir: the folder `paddlevideo export` wrote for a detection config. runtime: "paddle" or "onnx" (the
    model.onnx of `export --format onnx`, one clip per run). device, threads, onednn, trt: as Predictor's. runner: a
    forward of (slow, fast, proposals, rois_num) used instead of loading the model here (serve runs it in a process
    of its own).
    """

    def __init__(self, model_dir: Union[str, Path], runtime: str = "paddle", *, device: str = "cpu",
                 threads: Optional[int] = None, onednn: bool = True, trt: Optional[str] = None,
                 backend: Optional[str] = None, runner: Optional[Callable[..., np.ndarray]] = None):
        self.model_dir = Path(model_dir)
        if not self.model_dir.is_dir():
            raise ConfigError(f"model folder {self.model_dir} does not exist", file=str(self.model_dir),
                              expected="the --output folder of `paddlevideo export` of a detection config")
        info = read_infer_config(self.model_dir)
        if info.task != "detection":
            raise ConfigError(f"{self.model_dir} holds a {info.task} model", file=str(self.model_dir / INFER_CFG),
                              key="task", expected="an exported detector (configs/ava_*.yaml); `paddlevideo "
                              "predict` runs recognition models")
        super().__init__(info)
        self.backend = backend
        self.runner = runner or self._runner(runtime, device=device, threads=threads, onednn=onednn, trt=trt)

    def _runner(self, runtime: str, **options: Any):
        if runtime == "paddle":
            from .runtime import PaddleRunner

            return PaddleRunner(self.model_dir / self.info.model_file, self.model_dir / self.info.params_file,
                                input_names=INPUTS, device=options["device"], threads=options["threads"],
                                onednn=options["onednn"], trt=options["trt"])
        if runtime != "onnx":
            raise ConfigError(f"unknown runtime '{runtime}'", key="--runtime", expected=" or ".join(RUNTIMES))
        if options["device"] != "cpu" or options["trt"]:
            raise ConfigError("--runtime onnx runs on the CPU", key="--device", expected="--device cpu, no --trt")
        if not self.info.onnx_file:
            raise ConfigError(f"{self.model_dir} holds no ONNX model", file=str(self.model_dir / INFER_CFG),
                              key="onnx_file", expected="`paddlevideo export --format onnx`, or --runtime paddle")
        from .onnx import OnnxRunner

        return OnnxRunner(self.model_dir / self.info.onnx_file, input_names=INPUTS, threads=options["threads"])

    def score_clip(self, frames: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Probabilities [n, num_classes] of `boxes` [n, 4] (normalised) in the clip `frames` (T, H, W, 3)."""
        return self.runner(*self.inputs(frames, boxes))

    def run(self, video: Union[str, Path], boxes: Any, fps: float = 1.0, *, top_k: Optional[int] = None,
            det_threshold: float = 0.0, video_start: float = 0.0, out: Optional[str] = None) -> DetectionRun:
        """The Detections of `video` as they are computed (DetectionRun); `detect` collects them."""
        return DetectionRun(self, str(video), boxes, fps, top_k, det_threshold, video_start, out, self.backend)

    def detect(self, video: Union[str, Path], boxes: Any, fps: float = 1.0, *, top_k: Optional[int] = None,
               det_threshold: float = 0.0, video_start: float = 0.0, out: Optional[str] = None) -> List[Detection]:
        """Every person's actions at keyframes 1 / fps seconds apart.

        boxes: a box file (AVA CSV, JSON lines, AVA proposal .pkl), a mapping timestamp -> [n, 4|5] normalised boxes,
        or a person detector (a callable on the keyframe RGB frame returning [n, 5], or an object with `.boxes`).
        Timestamps are `video_start` + seconds into the video (AVA's cuts: 900). det_threshold: the least person
        score kept. top_k: actions per person (default: all above the model's action_thr). out: also write the
        video with boxes and actions drawn. VideoDecodeError when the video cannot be read, AnnotationError for a
        bad box file."""
        return list(self.run(video, boxes, fps, top_k=top_k, det_threshold=det_threshold, video_start=video_start,
                             out=out))
