"""`Predictor(model_dir).predict(path)`: class probabilities of a video file from an exported model.

Reads `infer_cfg.yml` (or, for a model exported by PaddleVideo itself, derives the same record from its training
config), builds the test pipeline, decodes each video once into its views, runs them through Paddle Inference
(or onnxruntime on the exported `model.onnx`) in batches and averages the views' probabilities. Deterministic:
the same file gives the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np

from ..errors import ConfigError
from .infer_cfg import (INFER_CFG, PATHWAYS, InferConfig, config_label_names, find_model_files,
                        from_training_config, read_infer_config)
from .runtime import PaddleRunner

RUNTIMES = ("paddle", "onnx")
from .views import Window, frames_views, parse_views, timeline_views, video_views


@dataclass
class Prediction:
    """Averaged class probabilities of one video (or one window of it) and their top-k."""

    video: str
    scores: np.ndarray
    top_k: List[Dict[str, Any]]
    start: Optional[float] = None   # seconds, for a timeline window
    end: Optional[float] = None

    def to_json(self) -> Dict[str, Any]:
        """{video, [start, end,] top_k: [{class_id, label, score}]}: one line of `predict --json`."""
        record: Dict[str, Any] = {"video": self.video}
        if self.start is not None:
            record.update(start=self.start, end=self.end)
        record["top_k"] = self.top_k
        return record


class Predictor:
    """An exported SlowFast on Paddle Inference; `predict(path)` and `timeline(path, seconds)` on video files.

    model_dir: a folder written by `paddlevideo export`, or PaddleVideo's export (then `config` is its training
    config, a path or a loaded config). views: (temporal, spatial) per video or window, e.g. (10, 3) or "10x3".
    device, threads, onednn, trt: the runtime (runtime.py); batch_size: views per forward pass.
    runtime: "paddle" (Paddle Inference) or "onnx" (onnxruntime on the CPU, the model.onnx of `export --format onnx`).
    load: False builds the pipeline and labels without loading the model (`serve` runs it in another process).
    """

    def __init__(self, model_dir: Union[str, Path], device: str = "cpu", threads: Optional[int] = None,
                 onednn: bool = True, *, config: Union[None, str, Path, Mapping[str, Any]] = None,
                 views: Union[str, Tuple[int, int]] = (1, 1), batch_size: int = 1, trt: Optional[str] = None,
                 backend: Optional[str] = None, runtime: str = "paddle", load: bool = True):
        self.model_dir = Path(model_dir)
        self.info = self._infer_config(config)
        if self.info.task == "detection":
            raise ConfigError(f"{self.model_dir} holds an action detector", key="--model",
                              file=str(self.model_dir / INFER_CFG), expected="`paddlevideo detect` (Detector) for it; "
                              "predict classifies with a recognition model")
        self.views = parse_views(views) if isinstance(views, str) else tuple(int(v) for v in views)
        self.batch_size = max(1, int(batch_size))
        self.backend = backend
        from ..data import build_pipeline

        self.pipeline = build_pipeline(self.info.pipeline, where="PIPELINE.test")
        self._check_shapes()
        self.runner = self._runner(runtime, device=device, threads=threads, onednn=onednn, trt=trt) if load else None

    def _runner(self, runtime: str, *, device: str, threads: Optional[int], onednn: bool, trt: Optional[str]):
        names = tuple(spec["name"] for spec in self.info.inputs)
        if runtime == "paddle":
            return PaddleRunner(self.model_dir / self.info.model_file, self.model_dir / self.info.params_file,
                                input_names=names, device=device, threads=threads, onednn=onednn, trt=trt,
                                max_batch=self.batch_size)
        if runtime != "onnx":
            raise ConfigError(f"unknown runtime '{runtime}'", key="--runtime", expected=" or ".join(RUNTIMES))
        if device != "cpu" or trt:
            raise ConfigError("--runtime onnx runs on the CPU (onnxruntime's CPU provider)", key="--device",
                              expected="--device cpu without --trt, or --runtime paddle")
        if not self.info.onnx_file:
            raise ConfigError(f"{self.model_dir} holds no ONNX model", file=str(self.model_dir / INFER_CFG),
                              key="onnx_file", expected="a model exported with `paddlevideo export --format onnx`, "
                              "or --runtime paddle")
        from .onnx import OnnxRunner

        return OnnxRunner(self.model_dir / self.info.onnx_file, input_names=names, threads=threads)

    def _infer_config(self, config: Union[None, str, Path, Mapping[str, Any]]) -> InferConfig:
        if not self.model_dir.is_dir():
            raise ConfigError(f"model folder {self.model_dir} does not exist", file=str(self.model_dir),
                              expected="the --output folder of `paddlevideo export`")
        if config is None:
            return read_infer_config(self.model_dir)
        if not isinstance(config, Mapping):
            from ..config import load_config

            config = load_config(str(config))
        model_file, params_file, model_format = find_model_files(self.model_dir)
        if (self.model_dir / INFER_CFG).is_file():
            exported = read_infer_config(self.model_dir)
            model_file, params_file, model_format = exported.model_file, exported.params_file, exported.model_format
        from .export import PADDLEVIDEO_INPUT_NAMES

        return from_training_config(config, model_file=model_file, params_file=params_file,
                                    model_format=model_format, input_names=PADDLEVIDEO_INPUT_NAMES,
                                    label_names=config_label_names(config))

    def _check_shapes(self) -> None:
        """A model exported at a fixed crop must get that crop from the pipeline."""
        shapes = self.pipeline.clip_shapes()
        if shapes is None:
            return
        by_pathway = dict(zip(PATHWAYS, shapes))
        for spec, pathway in zip(self.info.inputs, self.info.pathways):
            shape = by_pathway[pathway]
            fixed = spec["shape"][1:]
            if any(d > 0 and d != s for d, s in zip(fixed, shape)):
                raise ConfigError(f"the test pipeline makes {spec['name']} clips {list(shape)}, the model takes "
                                  f"{fixed}", key="PIPELINE.test",
                                  expected="the pipeline the model was exported with")

    @property
    def labels(self) -> List[str]:
        classes = self.info.num_classes or len(self.info.label_names or [])
        return [self.info.label(i) for i in range(classes)]

    def predict_clips(self, slow: np.ndarray, fast: np.ndarray) -> np.ndarray:
        """Probabilities (V, num_classes) of V stacked views, run `batch_size` at a time (each input gets the clip
        its pathway reads: infer_cfg.yml's `pathways`)."""
        if self.runner is None:
            raise RuntimeError("this Predictor was made with load=False: it prepares clips but runs no model")
        clips = dict(zip(PATHWAYS, (slow, fast)))
        feeds = [clips[p] for p in self.info.pathways]
        out = [self.runner(*(x[i:i + self.batch_size] for x in feeds)) for i in range(0, len(slow), self.batch_size)]
        return np.concatenate(out, axis=0)

    def predict(self, path: Union[str, Path], top_k: int = 5) -> Prediction:
        """The video's view-averaged probabilities and top-k; VideoDecodeError when it cannot be read."""
        slow, fast = self.video_clips(path)
        return self.prediction(str(path), self.predict_clips(slow, fast), top_k)

    def timeline(self, path: Union[str, Path], seconds: float, top_k: int = 5) -> Iterator[Prediction]:
        """One Prediction per consecutive `seconds`-long window, decoding the video once."""
        for window in self.window_clips(path, seconds):
            yield self.prediction(str(path), self.predict_clips(window.slow, window.fast), top_k,
                                  start=window.start, end=window.end)

    def video_clips(self, path: Union[str, Path],
                    views: Optional[Tuple[int, int]] = None) -> Tuple[np.ndarray, np.ndarray]:
        """The (slow, fast) views of a whole video, the model's inputs without running it (a server batches
        several videos' views into one forward pass); `views` overrides the predictor's."""
        return video_views(self.pipeline, str(path), views or self.views, self.backend)

    def window_clips(self, path: Union[str, Path], seconds: float,
                     views: Optional[Tuple[int, int]] = None) -> Iterator[Window]:
        """The views of each `seconds`-long window of a video, in order, without running the model."""
        return timeline_views(self.pipeline, str(path), seconds, views or self.views, self.backend)

    def frame_clips(self, frames: np.ndarray, fps: float,
                    views: Optional[Tuple[int, int]] = None) -> Tuple[np.ndarray, np.ndarray]:
        """The (slow, fast) views of one window of decoded RGB frames (n, H, W, 3), a live source's window."""
        return frames_views(self.pipeline, frames, fps, views or self.views)

    def prediction(self, video: str, probabilities: np.ndarray, top_k: int, **where: Any) -> Prediction:
        """The Prediction of one video or window from its views' probabilities (V, classes): mean and top-k."""
        scores = probabilities.astype(np.float64).mean(axis=0)
        order = np.argsort(-scores, kind="stable")[:max(1, int(top_k))]
        best = [{"class_id": int(i), "label": self.info.label(int(i)), "score": round(float(scores[i]), 6)}
                for i in order]
        return Prediction(video=video, scores=scores, top_k=best, **where)
