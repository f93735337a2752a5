"""Person boxes on a frame from any detector exported by PaddleDetection or PaddleX for Paddle Inference.

Such a folder holds the program (`model.json` or `model.pdmodel`; PaddleX names them `inference.*`), its
`.pdiparams`, and `infer_cfg.yml` (PaddleX: `inference.yml`) with `arch`, the `Preprocess` list and `label_list`.
The program takes `image` [1, 3, H, W], `im_shape` [1, 2] and `scale_factor` [1, 2] (only those it kept at
export) and returns rows [class, score, x1, y1, x2, y2] in frame pixels with NMS applied, then the row count.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np
import yaml

from ..config import yaml_load
from ..errors import ConfigError
from .det_preprocess import Stage, build_preprocess, run_preprocess
from .runtime import create_paddle_predictor, stdout_to_stderr

logger = logging.getLogger(__name__)
CONFIG_NAMES = ("infer_cfg.yml", "inference.yml")  # PaddleDetection's, PaddleX's
MODEL_NAMES = ("model.json", "model.pdmodel", "inference.json", "inference.pdmodel")  # PIR first
IMAGE_INPUTS = ("image", "x")  # "x": some PaddleDetection exports name the image input so
RAW_OUTPUT_ARCHS = {"PicoDet": "re-export with -o export.post_process=True (arch GFL) so NMS is in the program"}


@dataclass
class DetectorFiles:
    """What one exported detector folder holds."""

    config_file: Path
    model_file: Path
    params_file: Path
    arch: str
    preprocess: List[Stage]
    label_list: List[str]


def read_detector(det_dir: Union[str, Path]) -> DetectorFiles:
    """The config, program and parameters of an exported detector folder; a missing one is a ConfigError."""
    folder = Path(det_dir)
    if not folder.is_dir():
        raise ConfigError("no such detector folder", file=str(folder),
                          expected="a folder exported by PaddleDetection's tools/export_model.py or by PaddleX")
    config_file = next((folder / n for n in CONFIG_NAMES if (folder / n).is_file()), None)
    if config_file is None:
        raise ConfigError(f"no {' or '.join(CONFIG_NAMES)} in the detector folder", file=str(folder),
                          expected="the config PaddleDetection or PaddleX exports beside the model")
    try:
        cfg = yaml_load(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read it: {' '.join(str(exc).split())}", file=str(config_file)) from None
    if not isinstance(cfg, dict):
        raise ConfigError("not a mapping", file=str(config_file), expected="PaddleDetection's infer_cfg.yml layout")
    arch = str(cfg.get("arch", ""))
    if arch in RAW_OUTPUT_ARCHS:
        raise ConfigError(f"arch {arch} is exported without box post-processing", file=str(config_file),
                          key="arch", expected=RAW_OUTPUT_ARCHS[arch])
    model_file = next((folder / n for n in MODEL_NAMES if (folder / n).is_file()), None)
    if model_file is None:
        raise ConfigError("no detector program in the folder", file=str(folder),
                          expected=f"one of {', '.join(MODEL_NAMES)} with its .pdiparams")
    params_file = model_file.with_suffix(".pdiparams")
    if not params_file.is_file():
        raise ConfigError(f"{model_file.name} has no parameters file", file=str(params_file),
                          expected="the .pdiparams written beside it at export")
    labels = cfg.get("label_list") or []
    return DetectorFiles(config_file=config_file, model_file=model_file, params_file=params_file, arch=arch,
                         preprocess=build_preprocess(cfg.get("Preprocess"), str(config_file)),
                         label_list=[str(label) for label in labels])


def person_boxes(rows: np.ndarray, count: int, *, person_class: int, threshold: float, height: int,
                 width: int) -> np.ndarray:
    """The first `count` rows [class, score, x1, y1, x2, y2] (frame pixels) of `person_class` with score >=
    `threshold`, as [n, 5] (x1, y1, x2, y2 in [0, 1], score), best first; boxes empty after clipping are dropped."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, 6)[:max(0, int(count))]
    rows = rows[(np.rint(rows[:, 0]) == person_class) & (rows[:, 1] >= threshold)]
    boxes = rows[:, 2:6] / np.array([width, height, width, height], dtype=np.float32)
    boxes = np.clip(boxes, 0.0, 1.0)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    out = np.concatenate([boxes, rows[:, 1:2]], axis=1)[keep]
    return out[np.argsort(-out[:, 4], kind="stable")].astype(np.float32)


class PersonDetector:
    """An exported detector run on single RGB frames, keeping `person_class` above `threshold`."""

    def __init__(self, det_dir: Union[str, Path], *, person_class: int = 0, threshold: float = 0.5,
                 threads: Optional[int] = None, device: str = "cpu"):
        self.files = read_detector(det_dir)
        labels = self.files.label_list
        if labels and not 0 <= person_class < len(labels):
            named = ", ".join(labels[:5]) + (", ..." if len(labels) > 5 else "")
            raise ConfigError(f"person class {person_class} is not a class of this detector", key="person_class",
                              file=str(self.files.config_file), expected=f"0..{len(labels) - 1} ({named})")
        self.person_class, self.threshold = int(person_class), float(threshold)
        self.predictor = create_paddle_predictor(self.files.model_file, self.files.params_file, device=device,
                                                 threads=threads)
        self.feeds = self._feeds()
        logger.info("person detector %s: arch %s, class %d (%s), score >= %g", self.files.model_file,
                          self.files.arch or "?", self.person_class, self.label, self.threshold)

    @property
    def label(self) -> str:
        """The detector's name for the person class (its number when the export has no label_list)."""
        labels = self.files.label_list
        return labels[self.person_class] if 0 <= self.person_class < len(labels) else str(self.person_class)

    def _feeds(self) -> Dict[str, str]:
        """Each program input -> the preprocess output it takes."""
        feeds = {}
        for name in self.predictor.get_input_names():
            key = "image" if name in IMAGE_INPUTS else name
            if key not in ("image", "im_shape", "scale_factor"):
                raise ConfigError(f"the detector takes an input '{name}' this adapter cannot feed",
                                  file=str(self.files.model_file), expected="image, im_shape, scale_factor")
            feeds[name] = key
        if "image" not in feeds.values():
            raise ConfigError("the detector has no image input", file=str(self.files.model_file),
                              expected=f"an input named {' or '.join(IMAGE_INPUTS)}")
        return feeds

    def boxes(self, frame_rgb: np.ndarray) -> np.ndarray:
        """Person boxes on one HxWx3 uint8 RGB frame: [n, 5] float32 (x1, y1, x2, y2 normalised, score)."""
        frame = np.asarray(frame_rgb)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"a frame must be HxWx3 uint8 RGB, got {frame.shape} {frame.dtype}")
        inputs = run_preprocess(self.files.preprocess, frame, str(self.files.config_file))
        for name, key in self.feeds.items():
            handle = self.predictor.get_input_handle(name)
            handle.reshape(list(inputs[key].shape))
            handle.copy_from_cpu(inputs[key])
        with stdout_to_stderr():
            self.predictor.run()
        outputs = [self.predictor.get_output_handle(n).copy_to_cpu() for n in self.predictor.get_output_names()]
        rows = outputs[0]
        if rows.ndim != 2 or rows.shape[1] != 6:
            raise ConfigError(f"the detector's first output has shape {list(rows.shape)}",
                              file=str(self.files.model_file),
                              expected="rows [class, score, x1, y1, x2, y2] (a detector exported with its NMS)")
        count = int(np.asarray(outputs[1]).reshape(-1)[0]) if len(outputs) > 1 else len(rows)
        return person_boxes(rows, count, person_class=self.person_class, threshold=self.threshold,
                            height=frame.shape[0], width=frame.shape[1])
