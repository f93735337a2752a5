"""`paddlevideo explain` on an AVA detector: Grad-CAM per person box (RoI) at each keyframe, written per RoI as a
heat-map MP4 per pathway with the box drawn and a PNG strip, and per video one scores JSON of every RoI.

Keyframes, their clips and person boxes are what `paddlevideo detect` uses (deploy/keyframe_clips.py,
person_boxes.py): a box file or a person detector, keyframes every 1 / fps seconds from --video-start, AVA's test
clip around each; the config's test pipeline after the decoder makes the model inputs, and its frames before
Normalize are what the maps are drawn on.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np

from ..config import AttrDict, get
from ..errors import AnnotationError, ConfigError
from .gradcam import frame_positions, upsample_cam
from .overlay import draw_box, heat_overlay, normalise, write_heat_video, write_strip
from .roi_cam import RoiCam, roi_grad_cams, roi_pathways

logger = logging.getLogger("paddlevideo_slowfast.explain")

MATCH_SECONDS = 0.01   # a --keyframe names the keyframe within this many seconds of it


@dataclass
class RoiExplanation:
    """One person box at one keyframe: where it is, what the model scores it, and its map per pathway."""

    timestamp: float                 # seconds on the box file's clock (video_start + keyframe / fps)
    keyframe: int
    index: int                       # the box's position among the keyframe's boxes
    box: List[float]                 # normalised x1, y1, x2, y2
    person_score: float
    pixels: np.ndarray               # the box in the shown frames' pixels (4,)
    cam: RoiCam
    frames: np.ndarray               # (T, H, W, 3) uint8: the clip as the model sees it, before normalisation
    frame_indices: np.ndarray        # (T,) video frame of each clip frame
    video_fps: float
    maps: Dict[str, np.ndarray]      # pathway -> (T, H, W) at the frames
    files: Dict[str, str] = field(default_factory=dict)


def is_detector_config(cfg: AttrDict) -> bool:
    """Whether MODEL.framework names a registered detector (FastRCNN)."""
    from ..registry import DETECTORS

    framework = get(cfg, "MODEL.framework", None)
    return isinstance(framework, str) and framework in DETECTORS


class DetectionExplainer:
    """Trained detector weights on the config's test pipeline; `explain(video, boxes)` gives RoiExplanations."""

    def __init__(self, cfg: AttrDict, weights: Optional[str] = None, *, model: Any = None, layer: str = "s5",
                 method: str = "hirescam"):
        from ..deploy.detect_export import detection_label_names, detection_record
        from ..deploy.detector import KeyframeModel

        if model is None:
            from ..interop.weights import load_weights
            from ..modeling import build_model
            from ..runtime import select_device

            select_device(False)
            model = build_model(cfg.MODEL)
            load_weights(model, weights, allow_head_reinit=False)
        if getattr(model, "task", None) != "detection":
            raise ConfigError(f"this config builds a {type(model).__name__}, not a detector", key="MODEL.framework",
                              expected="FastRCNN (configs/ava_*.yaml)")
        self.model, self.layer, self.method = model, layer, method
        classes = int(model.num_classes)
        info = detection_record(cfg, model_file="", params_file="", model_format="pir", num_classes=classes,
                                label_names=detection_label_names(cfg, classes))
        self.keyframes = KeyframeModel(info)
        self.alpha = int(info.alpha)
        self.action_ids = list(info.keyframes["action_ids"])
        self.labels = self.keyframes.labels
        self.pathways = roi_pathways(model)

    def target_index(self, target: Union[None, int, str]) -> Optional[int]:
        """An action name, a column number or None (each RoI's top action) as a column (>= 1)."""
        if target is None or isinstance(target, int):
            return target
        if target in self.labels[1:]:
            return self.labels.index(target, 1)
        if str(target).isdigit():
            return int(target)
        shown = self.labels[1:21]
        raise ConfigError(f"unknown action '{target}'", key="--target-class",
                          expected="one of: " + ", ".join(shown) + (" ..." if len(self.labels) > 21 else ""))

    def explain(self, video: Union[str, Path], boxes: Any, *, fps: float = 1.0, video_start: float = 0.0,
                keyframes: Optional[Sequence[float]] = None, det_threshold: float = 0.0,
                target: Union[None, int, str] = None) -> Iterator[RoiExplanation]:
        """Every person box of every keyframe (or of the `keyframes` timestamps alone) of `video`, keyframe order.

        boxes: as `Detector.detect` takes them (a box file, a mapping timestamp -> boxes, a person detector)."""
        from ..data import open_video
        from ..data.sampling import DEFAULT_BACKEND
        from ..deploy.keyframe_clips import KeyframeWalker, keyframe_count, plan_keyframes
        from ..deploy.person_boxes import BoxTimeline, as_box_array, keyframe_boxes, threshold_boxes

        column = self.target_index(target)
        finder = keyframe_boxes(boxes, Path(video).stem)
        sampling = self.keyframes.sampling
        with open_video(str(video), DEFAULT_BACKEND) as reader:
            video_fps = reader.fps
            count = keyframe_count(reader.num_frames, video_fps, fps)
            timeline = finder.by_keyframe(video_start, fps, count) if isinstance(finder, BoxTimeline) else None
            wanted = set(range(count)) if timeline is None else set(timeline)
            if keyframes:
                chosen = _keyframe_indices(keyframes, fps, video_start, count)
                if timeline is not None:
                    unboxed = [t for t, k in zip(keyframes, chosen) if k not in timeline]
                    if unboxed:
                        raise ConfigError(f"keyframe {unboxed[0]:g} s has no person boxes in {finder.source}",
                                          key="--keyframe", expected="a timestamp the box file lists")
                wanted &= set(chosen)

            def planner(frames: int):
                return plan_keyframes(frames, video_fps, fps, clip_len=sampling["clip_len"],
                                      frame_interval=sampling["frame_interval"], grid_fps=sampling["fps"],
                                      scored=wanted)

            for item in KeyframeWalker(reader, planner, with_image=timeline is None):
                if item.clip is None:
                    continue
                k = item.plan.index
                found = timeline.get(k, np.zeros((0, 5))) if timeline is not None else \
                    as_box_array(finder(item.image), f"{video} keyframe {k}")
                found = threshold_boxes(found, det_threshold)
                if len(found):
                    clip = [int(i) for i in item.plan.clip]
                    yield from self._explain_keyframe(item.clip, np.asarray(clip), found,
                                                      round(video_start + item.plan.seconds, 6), k, column,
                                                      float(video_fps))

    def _explain_keyframe(self, clip: np.ndarray, frame_indices: np.ndarray, boxes: np.ndarray, timestamp: float,
                          keyframe: int, column: Optional[int], video_fps: float) -> Iterator[RoiExplanation]:
        from ..data.ava.transforms import Normalize
        from ..data.pack import PackOutput
        from ..data.transforms import as_frames

        flat = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
        if flat.any():
            raise AnnotationError(f"keyframe {timestamp:g} s", f"person box {int(np.flatnonzero(flat)[0])} has no "
                                  "area; Grad-CAM needs a box to pool")
        results = self.keyframes.decoded(clip, boxes[:, :4])
        shown = None
        for stage in self.keyframes.transforms.transforms:
            if shown is None and isinstance(stage, (Normalize, PackOutput)):   # from here on: model inputs
                shown = (np.array(as_frames(results["imgs"]), copy=True), np.array(results["proposals"], copy=True))
            results = stage(results)
        slow, fast = results["imgs"]
        rois = np.asarray(results["proposals"], np.float32).reshape(-1, 4)
        frames = np.clip(np.asarray(shown[0], np.float32).round(), 0, 255).astype(np.uint8)
        cams = roi_grad_cams(self.model, slow, fast, rois, column, self.layer, self.method)
        count, size = frames.shape[0], frames.shape[1:3]
        for i, (box, cam) in enumerate(zip(boxes, cams)):
            maps = {name: upsample_cam(m, frame_positions(name, count, self.alpha), count, size)
                    for name, m in zip(self.pathways, cam.maps)}
            yield RoiExplanation(timestamp, keyframe, i, [round(float(v), 6) for v in box[:4]],
                                 round(float(box[4]), 6), np.asarray(shown[1][i], np.float64), cam, frames,
                                 frame_indices, video_fps, maps)

    def write(self, roi: RoiExplanation, out: Union[str, Path], stem: str, top_k: int = 5) -> Dict[str, Any]:
        """`<stem>_<pathway>.mp4` per pathway and `<stem>_gradcam.png` in `out`, the box drawn; the RoI's record."""
        out = Path(out)
        step = float(np.diff(roi.frame_indices).mean()) if len(roi.frame_indices) > 1 else 1.0
        fps = roi.video_fps / max(step, 1e-6)
        framed = draw_box(roi.frames, roi.pixels)
        rows = [("input", framed)]
        files: Dict[str, str] = {}
        for name, heat in roi.maps.items():
            overlaid = draw_box(heat_overlay(roi.frames, normalise(heat)), roi.pixels)
            files[name] = str(write_heat_video(out / f"{stem}_{name}.mp4", overlaid, fps))
            rows.append((name, overlaid))
        files["strip"] = str(write_strip(out / f"{stem}_gradcam.png", rows))
        roi.files = files
        probabilities = roi.cam.probabilities
        order = [c for c in np.argsort(-probabilities[1:], kind="stable") + 1][:max(1, top_k)]
        return {"timestamp": roi.timestamp, "keyframe": roi.keyframe, "roi": roi.index, "box": roi.box,
                "person_score": roi.person_score,
                "target": self._action(roi.cam.target, probabilities),
                "actions": [self._action(int(c), probabilities) for c in order],
                "frames": [int(i) for i in roi.frame_indices], "files": files}

    def _action(self, column: int, probabilities: np.ndarray) -> Dict[str, Any]:
        return {"label": self.labels[column], "action_id": int(self.action_ids[column - 1]),
                "score": round(float(probabilities[column]), 6)}


def _keyframe_indices(seconds: Sequence[float], fps: float, video_start: float, count: int) -> List[int]:
    """The keyframe index of each --keyframe timestamp; a ConfigError for one that is no keyframe of the video."""
    indices = []
    for t in seconds:
        k = int(round((float(t) - video_start) * fps))
        if not (0 <= k < count and math.isclose(video_start + k / fps, float(t), abs_tol=MATCH_SECONDS)):
            raise ConfigError(f"{float(t):g} s is not a keyframe of this video", key="--keyframe",
                              expected=f"{video_start:g} + k / {fps:g} s for k in 0..{count - 1} "
                              "(see --fps, --video-start)")
        indices.append(k)
    return indices


def explain_detections(cfg: AttrDict, weights: str, videos: List[str], out: Union[str, Path], boxes: Any, *,
                       fps: float = 1.0, video_start: float = 0.0, keyframes: Optional[Sequence[float]] = None,
                       det_threshold: float = 0.0, target: Union[None, int, str] = None, layer: str = "s5",
                       method: str = "hirescam", top_k: int = 5, model: Any = None) -> List[Dict[str, Any]]:
    """Explain every RoI of each video into `out`; per video `<video>_scores.json` lists them. One record per RoI."""
    explainer = DetectionExplainer(cfg, weights, model=model, layer=layer, method=method)
    out = Path(out)
    records: List[Dict[str, Any]] = []
    for video in videos:
        name = Path(video).stem
        rois = []
        for roi in explainer.explain(video, boxes, fps=fps, video_start=video_start, keyframes=keyframes,
                                     det_threshold=det_threshold, target=target):
            record = explainer.write(roi, out, f"{name}_t{roi.timestamp:g}_roi{roi.index}", top_k)
            rois.append(record)
            records.append({"video": str(video), "layer": layer, "method": method, **record})
        if not rois:
            logger.warning("%s: no person boxes at the keyframes asked for; nothing explained", video)
        scores = out / f"{name}_scores.json"
        scores.write_text(json.dumps({"video": str(video), "layer": layer, "method": method, "rois": rois}, indent=2) + "\n",
                          encoding="utf-8")
        for record in records[len(records) - len(rois):]:
            record["files"]["scores"] = str(scores)
    return records
