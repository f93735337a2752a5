"""Export a trained SlowFast to a Paddle Inference model: two named inputs, class probabilities out.

`paddle.jit.to_static` + `paddle.jit.save` of the eval-mode model, with InputSpecs `slow` [N, 3, T/alpha, H, W]
and `fast` [N, 3, T, H, W] (N dynamic; H, W the test crop, or dynamic with `EXPORT.dynamic_hw`). Paddle 3 writes
its PIR program (`model.json`); `legacy=True` writes the `.pdmodel` ProgramDesc that Paddle Inference 2.x,
FastDeploy and Paddle Lite read, by running the same export under `FLAGS_enable_pir_api=0`
(`paddle.pir_utils.OldIrGuard`, which flips the flag and the static-graph mode in-process).
BatchNorm is folded into the convolutions first (fold.py), and the exported program is run once by Paddle
Inference against the dygraph model (`EXPORT.check`), and so is the ONNX conversion with onnxruntime when it is
installed. A Slow-only or Fast-only backbone (its `PATHWAYS`) is exported with the one input it reads.
`infer_cfg.yml` goes beside the model.
"""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple

import numpy as np
import paddle
from paddle import nn

from ..config import get
from ..errors import ConfigError
from .infer_cfg import (MODEL_FORMATS, PARAMS_SUFFIX, PATHWAYS, InferConfig, config_label_names,
                        from_training_config)

MODEL_STEM = "model"
PADDLEVIDEO_INPUT_NAMES = ("slow_input", "fast_input")
CHECK_TOLERANCE = 1e-3  # max abs difference of probabilities; measured ~1e-7 with oneDNN


@dataclass
class ExportOptions:
    """How to export (the `EXPORT` config section, and the CLI's --legacy-format / --format onnx)."""

    legacy: bool = False
    onnx: bool = False
    dynamic_hw: bool = False
    fold_bn: bool = True
    check: bool = True
    input_names: Tuple[str, str] = ("slow", "fast")
    write_infer_cfg: bool = True   # False imitates PaddleVideo's export (tests of `predict -c`)
    stem: str = MODEL_STEM

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], **overrides: Any) -> "ExportOptions":
        """EXPORT.dynamic_hw / fold_bn / check of `cfg`, then the non-None `overrides`."""
        values = {key: bool(get(cfg, f"EXPORT.{key}", default))
                  for key, default in (("dynamic_hw", False), ("fold_bn", True), ("check", True))}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class ExportResult:
    """Paths written and what the export measured."""

    model_dir: Path
    model_file: Path
    params_file: Path
    infer_cfg: Optional[Path]          # None when not written (PaddleVideo-style export)
    info: InferConfig
    onnx_file: Optional[Path] = None
    folded_bn: int = 0
    max_abs_diff: Optional[float] = None  # Paddle Inference (oneDNN) vs dygraph on a random clip
    onnx_max_abs_diff: Optional[float] = None  # onnxruntime vs dygraph, when onnxruntime is installed


class SlowFastInference(nn.Layer):
    """forward(slow, fast) = PaddleVideo's `model([slow, fast], mode='infer')`: what the InputSpecs describe.

    `pathways` are the clips the backbone reads (0 slow, 1 fast); a one-pathway model takes that clip alone
    (jit.save keeps only inputs the output depends on, and refuses the others)."""

    def __init__(self, net: nn.Layer, pathways: Tuple[int, ...] = (0, 1)):
        super().__init__()
        self.net = net
        self.pathways = tuple(pathways)

    def forward(self, first: paddle.Tensor, second: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        clips: List[Optional[paddle.Tensor]] = [None, None]
        for p, clip in zip(self.pathways, (first, second)):
            clips[p] = clip
        return self.net(clips, mode="infer")


def build_for_export(cfg: Mapping[str, Any], weights: Optional[str]) -> nn.Layer:
    """The configured model with `weights` loaded (strictly), in eval mode."""
    from ..modeling import build_model

    model = build_model(cfg["MODEL"])
    if weights:
        from ..interop.weights import load_weights

        load_weights(model, weights, allow_head_reinit=False)
    model.eval()
    return model


def example_clips(info: InferConfig, batch: int = 1, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Random normalised (slow, fast) clips of the exported shapes (a dynamic H, W uses 224)."""
    rng = np.random.default_rng(seed)
    size = info.crop_size or 224
    shapes = [[batch, 3, info.num_frames // info.alpha, size, size], [batch, 3, info.num_frames, size, size]]
    return tuple(rng.standard_normal(shape).astype(np.float32) for shape in shapes)


def model_inputs(info: InferConfig, slow: np.ndarray, fast: np.ndarray) -> List[np.ndarray]:
    """The clips the exported model takes, in the order of `info.inputs`."""
    clips = dict(zip(PATHWAYS, (slow, fast)))
    return [clips[p] for p in info.pathways]


def export_model(cfg: Mapping[str, Any], weights: Optional[str], output_dir: Any,
                 options: Optional[ExportOptions] = None, *, model: Optional[nn.Layer] = None,
                 label_names: Optional[List[str]] = None) -> ExportResult:
    """Export `cfg`'s model with `weights` (or a copy of the given eval-mode `model`) into `output_dir`.

    The pipeline, views and labels of infer_cfg.yml come from `cfg` (PIPELINE.test, DATASET.test) or `label_names`.
    """
    options = options or ExportOptions()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model_format = "legacy" if options.legacy else "pir"
    model_file = f"{options.stem}{MODEL_FORMATS[model_format]}"
    params_file = f"{options.stem}{PARAMS_SUFFIX}"
    if model is None:
        model = build_for_export(cfg, weights)
    elif model.training:
        raise ValueError("export_model needs an eval-mode model")
    else:
        model = copy.deepcopy(model)  # BN folding edits the layers: the caller's model stays as it was
    if getattr(model, "task", "recognition") == "detection":
        from .detect_export import export_detector

        return export_detector(cfg, model, output_dir, options, label_names=label_names)
    pathways = tuple(getattr(getattr(model, "backbone", None), "PATHWAYS", (0, 1)))
    info = from_training_config(cfg, model_file=model_file, params_file=params_file, model_format=model_format,
                                input_names=options.input_names, dynamic_hw=options.dynamic_hw,
                                label_names=label_names if label_names is not None else config_label_names(cfg),
                                pathways=pathways)
    _check_classes(model, info)

    slow, fast = example_clips(info)
    with paddle.no_grad():
        reference = model([paddle.to_tensor(slow), paddle.to_tensor(fast)], mode="infer").numpy()
    folded = 0
    if options.fold_bn:
        from .fold import fold_batchnorm

        folded = fold_batchnorm(model, [paddle.to_tensor(slow), paddle.to_tensor(fast)])

    # the wrapper is built outside the IR guard: to_static wants layers made in dygraph mode
    result = save_program(SlowFastInference(model, pathways), info, output_dir, options, folded)

    names = [spec["name"] for spec in info.inputs]
    feeds = model_inputs(info, slow, fast)
    if options.check:
        from .runtime import PaddleRunner

        runner = PaddleRunner(result.model_file, result.params_file, input_names=names, onednn=True)
        result.max_abs_diff = _parity(runner(*feeds), reference, result.model_file)
    if options.onnx:
        from .onnx import convert_to_onnx, onnxruntime_available

        result.onnx_file = convert_to_onnx(result.model_file, result.params_file, output_dir / f"{options.stem}.onnx")
        info.onnx_file = result.onnx_file.name
        if options.check and onnxruntime_available():
            from .onnx import OnnxRunner

            result.onnx_max_abs_diff = _parity(OnnxRunner(result.onnx_file, input_names=names)(*feeds), reference,
                                               result.onnx_file)
    info.extra.update(paddle_version=paddle.__version__, folded_batchnorms=folded,
                      check_max_abs_diff=result.max_abs_diff)
    if result.onnx_max_abs_diff is not None:
        info.extra["onnx_check_max_abs_diff"] = result.onnx_max_abs_diff
    if options.write_infer_cfg:
        result.infer_cfg = info.write(output_dir)
    return result


def save_program(net: nn.Layer, info: InferConfig, output_dir: Path, options: ExportOptions,
                 folded: int) -> ExportResult:
    """Trace `net` on `info`'s inputs (dynamic where the shape says -1) and save it as `options` asks, replacing
    an export of the other format (which would make the folder ambiguous); recognition and detection share it."""
    specs = [paddle.static.InputSpec([d if d > 0 else None for d in spec["shape"]], spec.get("dtype", "float32"),
                                     spec["name"]) for spec in info.inputs]
    for suffix in MODEL_FORMATS.values():
        (output_dir / f"{options.stem}{suffix}").unlink(missing_ok=True)
    net.eval()
    guard = paddle.pir_utils.OldIrGuard() if options.legacy else contextlib.nullcontext()
    with guard:
        static = paddle.jit.to_static(net, input_spec=specs, full_graph=True)
        paddle.jit.save(static, str(output_dir / options.stem))
    result = ExportResult(model_dir=output_dir, model_file=output_dir / info.model_file,
                          params_file=output_dir / info.params_file, infer_cfg=None, info=info, folded_bn=folded)
    if not result.model_file.is_file():
        raise ConfigError(f"paddle.jit.save did not write {info.model_file}", file=str(output_dir),
                          expected=f"{info.model_format} format ({info.model_file})")
    return result


def _parity(output: np.ndarray, reference: np.ndarray, exported: Path) -> float:
    """Max abs difference of an exported model's probabilities from dygraph's; ConfigError above the bound."""
    diff = float(np.abs(output - reference).max())
    if not diff <= CHECK_TOLERANCE:
        raise ConfigError(f"the exported model differs from dygraph by {diff:.3g} (max abs, probabilities)",
                          file=str(exported), key="EXPORT.check",
                          expected=f"<= {CHECK_TOLERANCE}; please report it (EXPORT.check: false skips the check)")
    return diff


def _check_classes(model: nn.Layer, info: InferConfig) -> None:
    """The label names must number the classifier's outputs."""
    projection = getattr(getattr(model, "head", None), "projection", None)
    classes = int(projection.weight.shape[1]) if projection is not None else info.num_classes
    if classes is not None:
        info.num_classes = classes
    if info.label_names is not None and classes is not None and len(info.label_names) != classes:
        raise ConfigError(f"{len(info.label_names)} label names for a {classes}-class model",
                          key="DATASET.test.label_file", expected=f"{classes} names, one per line")

