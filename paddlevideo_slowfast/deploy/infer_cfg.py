"""`infer_cfg.yml`: what `predict` needs beside an exported model (PaddleDetection's idea), so no training config.

It names the model files and their format, the two inputs, the test pipeline, alpha, the crop size, the
config's test views and the label names. A model exported by PaddleVideo itself has no such file; the same
record is then derived from its training config (`from_training_config`).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from ..config import AttrDict, get, yaml_load
from ..errors import ConfigError

INFER_CFG = "infer_cfg.yml"
FORMAT_VERSION = 1
# pir: Paddle 3's program (.json); legacy: the ProgramDesc (.pdmodel) of Paddle Inference 2.x, FastDeploy, Lite
MODEL_FORMATS = {"pir": ".json", "legacy": ".pdmodel"}
PARAMS_SUFFIX = ".pdiparams"
PATHWAYS = ("slow", "fast")  # the clip each pathway reads, by its index in the backbone's [slow, fast] input

HEADER = ("# Written by `paddlevideo export`: everything `paddlevideo predict` (`detect` for a detector) needs to run\n"
          "# this model on a video. model_format pir = Paddle 3 program (.json); legacy = .pdmodel for Paddle Inference\n"
          "# 2.x, FastDeploy, Paddle Lite. Input shapes use -1 for dynamic dimensions; `output` says what comes out.\n")


@dataclass
class InferConfig:
    """The deployment record of one exported model (field names are the YAML keys)."""

    model_file: str                       # relative to the model folder
    params_file: str
    model_format: str                     # a key of MODEL_FORMATS
    inputs: List[Dict[str, Any]]          # [{name: slow, shape: [-1, 3, T/alpha, H, W]}, {name: fast, ...}]
    pipeline: Dict[str, Any]              # PIPELINE.test: decode_sampler + transform
    alpha: int                            # alpha in the paper: Fast frames per Slow frame
    num_frames: int                       # Fast frames of one clip
    crop_size: Optional[int]              # None when H, W were exported dynamic
    test_views: Tuple[int, int] = (1, 1)  # the config's num_ensemble_views x num_spatial_crops
    num_classes: Optional[int] = None
    label_names: Optional[List[str]] = None
    output: str = "probabilities"
    onnx_file: Optional[str] = None
    model_name: str = "SlowFast"
    pathways: List[str] = field(default_factory=lambda: list(PATHWAYS))  # the clip of each input: slow or fast
    task: str = "recognition"             # "detection": an AVA detector (inputs + proposals, rois_num; `detect`)
    keyframes: Optional[Dict[str, Any]] = None  # detection: clip_len, frame_interval, fps, action_thr
    extra: Dict[str, Any] = field(default_factory=dict)  # provenance: paddle version, folded BNs, parity check

    def label(self, class_id: int) -> str:
        """The name of class `class_id`, or its number when the export had no label names."""
        names = self.label_names or []
        return names[class_id] if 0 <= class_id < len(names) else str(class_id)

    def to_yaml(self) -> str:
        data = asdict(self)
        data["test_views"] = list(self.test_views)
        extra = data.pop("extra")
        ordered = {"format_version": FORMAT_VERSION, **data, **extra}
        return HEADER + yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None, allow_unicode=True,
                                       width=110)

    def write(self, model_dir: Path) -> Path:
        path = Path(model_dir) / INFER_CFG
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path


def read_infer_config(model_dir: Path) -> InferConfig:
    """The `infer_cfg.yml` of an exported model folder."""
    path = Path(model_dir) / INFER_CFG
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {INFER_CFG}: {exc.strerror}", file=str(path),
                          expected=f"a folder written by `paddlevideo export`, or give the training config with -c") \
            from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{INFER_CFG} is not a mapping", file=str(path))
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ConfigError(f"unsupported {INFER_CFG} format_version {version!r}", file=str(path),
                          key="format_version", expected=str(FORMAT_VERSION))
    known = {f for f in InferConfig.__dataclass_fields__ if f != "extra"}
    values = {k: v for k, v in data.items() if k in known}
    missing = [k for k in ("model_file", "params_file", "model_format", "inputs", "pipeline", "alpha", "num_frames")
               if k not in values]
    if missing:
        raise ConfigError(f"{INFER_CFG} lacks {', '.join(missing)}", file=str(path), key=missing[0])
    if values["model_format"] not in MODEL_FORMATS:
        raise ConfigError(f"unknown model_format {values['model_format']!r}", file=str(path), key="model_format",
                          expected=" or ".join(MODEL_FORMATS))
    values["test_views"] = tuple(values.get("test_views") or (1, 1))
    values["pathways"] = list(values.get("pathways") or PATHWAYS)
    clips = [spec for spec in values["inputs"] if len(spec.get("shape") or []) == 5]  # a detector adds its boxes
    if len(values["pathways"]) != len(clips) or not set(values["pathways"]) <= set(PATHWAYS):
        raise ConfigError(f"pathways {values['pathways']} do not name the clip of each of the "
                          f"{len(clips)} clip inputs", file=str(path), key="pathways",
                          expected=f"one of {' or '.join(PATHWAYS)} per clip input")
    values["crop_size"] = values.get("crop_size")
    extra = {k: v for k, v in data.items() if k not in known and k != "format_version"}
    return InferConfig(**values, extra=extra)


def find_model_files(model_dir: Path) -> Tuple[str, str, str]:
    """(model file, params file, format) of a folder without `infer_cfg.yml` (e.g. PaddleVideo's SlowFast.*)."""
    model_dir = Path(model_dir)
    found = [(p, fmt) for fmt, suffix in MODEL_FORMATS.items() for p in sorted(model_dir.glob(f"*{suffix}"))
             if p.with_suffix(PARAMS_SUFFIX).is_file()]
    if len(found) != 1:
        listing = ", ".join(p.name for p, _ in found) or "none"
        raise ConfigError(f"expected one model (.json or .pdmodel with its .pdiparams) in {model_dir}, found "
                          f"{listing}", file=str(model_dir), expected="a folder written by `paddlevideo export` or "
                          "PaddleVideo's tools/export_model.py")
    path, fmt = found[0]
    return path.name, path.with_suffix(PARAMS_SUFFIX).name, fmt


def pipeline_facts(pipeline_cfg: Mapping[str, Any]) -> Tuple[int, int, int]:
    """(alpha, fast frames, crop size) of a PIPELINE.test node, from its sampler, last crop and PackOutput."""
    from ..data import build_pipeline

    shapes = build_pipeline(pipeline_cfg, where="PIPELINE.test").clip_shapes()
    if shapes is None:
        raise ConfigError("the test pipeline must have a DecodeSampler, a MultiCrop and a PackOutput",
                          key="PIPELINE.test", file=_source(pipeline_cfg),
                          expected="PaddleVideo's SlowFast test pipeline (pipelines/slowfast_test.yaml)")
    (_, slow_t, _, _), (_, fast_t, size, _) = shapes
    return fast_t // slow_t, fast_t, size


def check_inference_section(cfg: Mapping[str, Any], alpha: int, num_frames: int, crop: int) -> None:
    """PaddleVideo's INFERENCE restates alpha, num_frames and target_size: each must agree with PIPELINE.test."""
    inference = get(cfg, "INFERENCE", None) or {}
    derived = {"alpha": (alpha, "PIPELINE.test.transform.PackOutput.alpha"),
               "num_frames": (num_frames, "PIPELINE.test.decode_sampler.num_frames"),
               "target_size": (crop, "PIPELINE.test.transform.MultiCrop.target_size")}
    for key, (value, source) in derived.items():
        if key in inference and inference[key] is not None and int(inference[key]) != value:
            raise ConfigError(f"INFERENCE.{key} = {inference[key]} disagrees with {source} = {value}",
                              key=f"INFERENCE.{key}", file=_source(inference, key),
                              expected=f"{value} (the test pipeline is what predict runs), or leave it out")


def from_training_config(cfg: Mapping[str, Any], *, model_file: str, params_file: str, model_format: str,
                         input_names: Tuple[str, str] = ("slow", "fast"), dynamic_hw: bool = False,
                         label_names: Optional[List[str]] = None,
                         pathways: Sequence[int] = (0, 1)) -> InferConfig:
    """The deployment record of a training config (ours or PaddleVideo's): test pipeline, views, classes.

    `pathways`: the backbone's PATHWAYS, the clips it reads (0 slow, 1 fast): a Slow-only or Fast-only model is
    exported with that one input."""
    pipeline_cfg = get(cfg, "PIPELINE.test", None)
    if not isinstance(pipeline_cfg, Mapping):
        raise ConfigError("the config has no test pipeline", key="PIPELINE.test", file=_source(cfg),
                          expected="PIPELINE.test with decode_sampler and transform")
    alpha, num_frames, crop = pipeline_facts(pipeline_cfg)
    check_inference_section(cfg, alpha, num_frames, crop)
    backbone_alpha = get(cfg, "MODEL.backbone.alpha", None)
    if backbone_alpha is not None and int(backbone_alpha) != alpha:
        raise ConfigError(f"MODEL.backbone.alpha = {backbone_alpha} disagrees with the test pipeline's PackOutput "
                          f"alpha = {alpha}", key="MODEL.backbone.alpha", file=_source(get(cfg, "MODEL.backbone"),
                                                                                        "alpha"),
                          expected=f"the same alpha in PIPELINE.test.transform.PackOutput")
    size = -1 if dynamic_hw else crop
    frames = (num_frames // alpha, num_frames)
    inputs = [{"name": input_names[p], "shape": [-1, 3, frames[p], size, size]} for p in pathways]
    views = (int(get(cfg, "DATASET.test.num_ensemble_views", 1) or 1),
             int(get(cfg, "DATASET.test.num_spatial_crops", 1) or 1))
    num_classes = get(cfg, "MODEL.head.num_classes", None)
    return InferConfig(model_file=model_file, params_file=params_file, model_format=model_format, inputs=inputs,
                       pipeline=_plain(pipeline_cfg), alpha=alpha, num_frames=num_frames,
                       crop_size=None if dynamic_hw else crop, test_views=views,
                       num_classes=int(num_classes) if num_classes is not None else None,
                       label_names=label_names, model_name=str(get(cfg, "model_name", "SlowFast")),
                       pathways=[PATHWAYS[p] for p in pathways])


def config_label_names(cfg: Mapping[str, Any]) -> Optional[List[str]]:
    """Class names from `DATASET.test.label_file` (one name per line, or `index name`), when it is set."""
    label_file = get(cfg, "DATASET.test.label_file", None)
    if not label_file:
        return None
    from ..data import read_label_names

    return read_label_names(str(label_file), key="DATASET.test.label_file",
                            config_file=_source(get(cfg, "DATASET.test"), "label_file"))


def _plain(node: Any) -> Any:
    if isinstance(node, AttrDict):
        return node.to_dict()
    if isinstance(node, Mapping):  # any dict kind: PaddleVideo's AttrDict cannot be deep-copied
        return {key: _plain(value) for key, value in node.items()}
    return [_plain(value) for value in node] if isinstance(node, list) else copy.deepcopy(node)


def _source(node: Any, key: Optional[str] = None) -> Optional[str]:
    origin = getattr(type(node), "source_of", None)  # the class: PaddleVideo's AttrDict raises KeyError on getattr
    return origin(node, key) if callable(origin) else None
