"""`paddlevideo explain`: Grad-CAM of trained weights on one video, per pathway, written as pictures and numbers."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from ..config import AttrDict, get
from ..errors import ConfigError
from .clip import Clip, explain_clip
from .gradcam import GradCam, frame_positions, grad_cam, upsample_cam
from .overlay import heat_overlay, normalise, write_heat_video, write_strip


@dataclass
class Explanation:
    """A clip, its Grad-CAM, and each pathway's map at the clip's frames (T, H, W)."""

    clip: Clip
    cam: GradCam
    maps: Dict[str, np.ndarray]
    files: Dict[str, str] = field(default_factory=dict)


class Explainer:
    """Trained weights on the config's test pipeline; `explain(path)` gives an Explanation of one video."""

    def __init__(self, cfg: AttrDict, weights: Optional[str] = None, *, model: Any = None, layer: str = "s5",
                 method: str = "gradcam"):
        from ..data import build_pipeline
        from ..deploy.infer_cfg import config_label_names

        if model is None:
            from ..interop.weights import load_weights
            from ..modeling import build_model
            from ..runtime import select_device

            select_device(False)
            model = build_model(cfg.MODEL)
            _check_recognizer(model)
            load_weights(model, weights, allow_head_reinit=False)
        _check_recognizer(model)
        self.model, self.layer, self.method = model, layer, method
        self.pipeline = build_pipeline(get(cfg, "PIPELINE.test"), where="PIPELINE.test")
        self.alpha = int(getattr(model.backbone, "alpha", 1))
        classes = int(get(cfg, "MODEL.head.num_classes", 0) or 0)
        names = config_label_names(cfg) or []
        self.labels = [names[i] if i < len(names) else str(i) for i in range(classes)]

    def target_index(self, target: Union[None, int, str]) -> Optional[int]:
        """A class name or index as an index (None: the top class)."""
        if target is None or isinstance(target, int):
            return target
        if target in self.labels:
            return self.labels.index(target)
        if str(target).isdigit():
            return int(target)
        raise ConfigError(f"unknown class '{target}'", key="--target-class",
                          expected="one of: " + ", ".join(self.labels[:20]) + (" ..." if len(self.labels) > 20 else ""))

    def explain(self, path: Union[str, Path], target: Union[None, int, str] = None) -> Explanation:
        clip = explain_clip(self.pipeline, str(path))
        cam = grad_cam(self.model, clip.slow, clip.fast, self.target_index(target), self.layer, self.method)
        count, size = clip.frames.shape[0], clip.frames.shape[1:3]
        maps = {name: upsample_cam(m, frame_positions(name, count, self.alpha), count, size)
                for name, m in zip(cam.pathways, cam.maps)}
        return Explanation(clip, cam, maps)

    def write(self, explanation: Explanation, out: Union[str, Path], stem: str, top_k: int = 5) -> Dict[str, Any]:
        """`<stem>_<pathway>.mp4` per pathway, `<stem>_gradcam.png`, `<stem>_scores.json` in `out`; the record."""
        out = Path(out)
        clip, cam = explanation.clip, explanation.cam
        step = float(np.diff(clip.frame_indices).mean()) if len(clip.frame_indices) > 1 else 1.0
        rows = [("input", clip.frames)]
        files: Dict[str, str] = {}
        for name, heat in explanation.maps.items():
            overlaid = heat_overlay(clip.frames, normalise(heat))
            files[name] = str(write_heat_video(out / f"{stem}_{name}.mp4", overlaid, clip.fps / max(step, 1e-6)))
            rows.append((name, overlaid))
        files["strip"] = str(write_strip(out / f"{stem}_gradcam.png", rows))
        order = np.argsort(-cam.probabilities, kind="stable")[:max(1, top_k)]
        record = {"target": {"class_id": cam.target, "label": self._label(cam.target)},
                  "layer": self.layer, "method": self.method,
                  "top_k": [{"class_id": int(i), "label": self._label(int(i)),
                             "score": round(float(cam.probabilities[i]), 6)} for i in order],
                  "frames": [int(i) for i in clip.frame_indices], "files": files}
        scores = out / f"{stem}_scores.json"
        scores.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        files["scores"] = str(scores)
        explanation.files = files
        return record

    def _label(self, index: int) -> str:
        return self.labels[index] if index < len(self.labels) else str(index)


def _check_recognizer(model: Any) -> None:
    if getattr(model, "task", None) != "recognition":
        raise ConfigError(f"Explainer runs on recognition models; this config builds a {type(model).__name__} "
                          "(detectors: explain.detection_run.DetectionExplainer)", key="MODEL.framework",
                          expected="a recognizer config (Recognizer3D)")


def explain_videos(cfg: AttrDict, weights: str, videos: List[str], out: Union[str, Path], *,
                   target: Union[None, int, str] = None, layer: str = "s5", method: str = "gradcam",
                   top_k: int = 5) -> List[Dict[str, Any]]:
    """Explain each video into `out` (files named after the video); one record per video."""
    explainer = Explainer(cfg, weights, layer=layer, method=method)
    stems = [Path(v).stem for v in videos]
    records = []
    for video in videos:
        stem = Path(video).stem
        if stems.count(stem) > 1:  # val/left/0000.mp4 and val/right/0000.mp4
            stem = f"{Path(video).parent.name}_{stem}"
        record = explainer.write(explainer.explain(video, target), out, stem, top_k)
        records.append({"video": str(video), **record})
    return records
