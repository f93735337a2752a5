"""Export an AVA action detector (FastRCNN) for `paddlevideo detect`: clips and person boxes in, per-RoI action
probabilities out.

Inputs `slow` [N, 3, T/alpha, H, W], `fast` [N, 3, T, H, W] (H, W dynamic: AVA tests at short side 256 without a
crop), `proposals` [R, 4] (x1, y1, x2, y2 in pixels of the input clip, clip after clip) and `rois_num` [N] int32
(boxes per clip); output [R, num_classes] sigmoid probabilities (`FastRCNN.forward_rois`; column 0 is AVA's
reserved class). The backbone's BatchNorms are folded as for recognition, and the program is run once by Paddle
Inference (and onnxruntime for `--format onnx`) against dygraph on random clips and boxes. `infer_cfg.yml` gets
`task: detection`, the test pipeline (sampler, decoder, transforms), the label map's names per column and
`keyframes`: the clip each keyframe gets (clip_len frames frame_interval apart on the fps grid) and action_thr.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import paddle
from paddle import nn

from ..config import get
from ..errors import ConfigError
from .infer_cfg import MODEL_FORMATS, PARAMS_SUFFIX, PATHWAYS, InferConfig, _plain, _source

DETECTION_INPUTS = ("slow", "fast", "proposals", "rois_num")
OUTPUT = "per-RoI action probabilities [R, num_classes] (sigmoid; column 0 unused)"
RESERVED = "(reserved)"  # AVA's column 0: action ids start at 1
DEFAULT_GRID_FPS = 30    # AVA's annotation grid (DATASET.test.fps)
ONNX_OPSET_ALIGNED, ONNX_OPSET_UNALIGNED = 16, 13  # see _export_onnx


class DetectorInference(nn.Layer):
    """forward(slow, fast, proposals, rois_num) = FastRCNN.forward_rois: what the four InputSpecs describe."""

    def __init__(self, net: nn.Layer):
        super().__init__()
        self.net = net

    def forward(self, slow: paddle.Tensor, fast: paddle.Tensor, proposals: paddle.Tensor,
                rois_num: paddle.Tensor) -> paddle.Tensor:
        return self.net.forward_rois(slow, fast, proposals, rois_num)


class BackboneCall(nn.Layer):
    """fold_batchnorm traces `model(clips, mode=...)`; the backbone takes the clips alone."""

    def __init__(self, backbone: nn.Layer):
        super().__init__()
        self.backbone = backbone

    def forward(self, clips: List[paddle.Tensor], mode: str = "infer") -> List[paddle.Tensor]:
        return self.backbone(clips)


def pipeline_stages(pipeline_cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """The AVA test pipeline's sampler (SampleAVAFrames), decoder (RawFrameDecode), PackOutput and the short side
    of its Rescale (None without one); a ConfigError naming PIPELINE.test when one is missing."""
    from ..data import build_pipeline
    from ..data.ava import RawFrameDecode, Rescale, SampleAVAFrames
    from ..data.pack import PackOutput

    stages = build_pipeline(pipeline_cfg, where="PIPELINE.test").stages
    found = {name: next((s for s in stages if isinstance(s, kind)), None)
             for name, kind in (("sampler", SampleAVAFrames), ("decoder", RawFrameDecode), ("pack", PackOutput))}
    missing = [name for name, stage in found.items() if stage is None]
    if missing:
        raise ConfigError(f"the detection test pipeline lacks its {', '.join(missing)}", key="PIPELINE.test",
                          file=_source(pipeline_cfg), expected="SampleAVAFrames, RawFrameDecode, transforms, "
                          "PackOutput (configs/_base_/datasets/ava_v2.1_frames.yaml)")
    rescale = next((s for s in stages if isinstance(s, Rescale)), None)
    found["short_side"] = None
    if rescale is not None:  # (-1, 256): short side 256; (a, b): at most min(a, b)
        pair = rescale.scale_range
        found["short_side"] = int(max(pair) if min(pair) == -1 else min(pair))
    return found


def detection_label_names(cfg: Mapping[str, Any], num_classes: int) -> Optional[List[str]]:
    """Column k's action name from the label map `DATASET.test.label_file`: column k is action id k, or
    `DATASET.test.custom_classes[k - 1]`; None when no label map is configured."""
    from ..data.ava import read_label_map
    from ..errors import AnnotationError

    key = "DATASET.test.label_file"
    if not get(cfg, key, None):
        return None
    try:
        names = read_label_map(str(get(cfg, key)))
    except AnnotationError as exc:
        raise ConfigError(str(exc), key=key, expected="the AVA label map (.pbtxt), or -o "
                          f"{key}=null to export numbered classes") from None
    ids = action_ids(cfg, num_classes)
    return [RESERVED] + [names.get(i, str(i)) for i in ids]


def action_ids(cfg: Mapping[str, Any], num_classes: int) -> List[int]:
    """The AVA action id of columns 1..num_classes-1 (the identity unless DATASET.test.custom_classes is set)."""
    custom = get(cfg, "DATASET.test.custom_classes", None)
    ids = [int(c) for c in custom] if custom else list(range(1, num_classes))
    if len(ids) != num_classes - 1:
        raise ConfigError(f"{len(ids)} custom classes for a {num_classes}-column head",
                          key="DATASET.test.custom_classes", expected=f"{num_classes - 1} action ids")
    return ids


def detection_record(cfg: Mapping[str, Any], *, model_file: str, params_file: str, model_format: str,
                     num_classes: int, label_names: Optional[List[str]] = None) -> InferConfig:
    """The infer_cfg.yml record of a detector config: pipeline, inputs, labels per column, keyframe sampling."""
    pipeline_cfg = get(cfg, "PIPELINE.test", None)
    if not isinstance(pipeline_cfg, Mapping):
        raise ConfigError("the config has no test pipeline", key="PIPELINE.test", file=_source(cfg),
                          expected="PIPELINE.test with sampler, decoder and transform")
    stages = pipeline_stages(pipeline_cfg)
    alpha, clip_len = stages["pack"].alpha, stages["sampler"].clip_len
    for key, value, source in (("MODEL.backbone.alpha", alpha, "PIPELINE.test.transform.PackOutput.alpha"),
                               ("INFERENCE.alpha", alpha, "PIPELINE.test.transform.PackOutput.alpha"),
                               ("INFERENCE.num_frames", clip_len, "PIPELINE.test.sampler.clip_len")):
        stated = get(cfg, key, None)
        if stated is not None and int(stated) != value:
            raise ConfigError(f"{key} = {stated} disagrees with {source} = {value}", key=key,
                              expected=f"{value} (the test pipeline is what detect runs), or leave it out")
    if clip_len < alpha:
        raise ConfigError(f"a {clip_len}-frame clip cannot feed a Slow pathway at alpha {alpha}",
                          key="PIPELINE.test.sampler.clip_len", expected=f">= {alpha}")
    if label_names is not None and len(label_names) != num_classes:
        raise ConfigError(f"{len(label_names)} label names for a {num_classes}-column detector",
                          key="DATASET.test.label_file", expected=f"{num_classes} names (column 0 reserved)")
    threshold = get(cfg, "MODEL.head.action_thr", 0.0)
    keyframes = {"clip_len": clip_len, "frame_interval": stages["sampler"].frame_interval,
                 "fps": int(get(cfg, "DATASET.test.fps", DEFAULT_GRID_FPS) or DEFAULT_GRID_FPS),
                 "action_thr": [float(t) for t in threshold] if isinstance(threshold, (list, tuple))
                 else float(threshold or 0.0),
                 "action_ids": action_ids(cfg, num_classes), "short_side": stages["short_side"]}
    inputs = [{"name": "slow", "shape": [-1, 3, clip_len // alpha, -1, -1]},
              {"name": "fast", "shape": [-1, 3, clip_len, -1, -1]},
              {"name": "proposals", "shape": [-1, 4], "dtype": "float32"},
              {"name": "rois_num", "shape": [-1], "dtype": "int32"}]
    return InferConfig(model_file=model_file, params_file=params_file, model_format=model_format, inputs=inputs,
                       pipeline=_plain(pipeline_cfg), alpha=alpha, num_frames=clip_len, crop_size=None,
                       num_classes=num_classes, label_names=label_names, output=OUTPUT,
                       model_name=str(get(cfg, "model_name", "SlowFast_FastRCNN")), pathways=list(PATHWAYS),
                       task="detection", keyframes=keyframes)


def example_inputs(info: InferConfig, seed: int = 0) -> Tuple[np.ndarray, ...]:
    """Random (slow, fast, proposals, rois_num) of two clips at the test short side (3 and 2 boxes, in pixels)."""
    rng = np.random.default_rng(seed)
    height = int((info.keyframes or {}).get("short_side") or 256)
    width = height * 5 // 4
    clips = [rng.standard_normal((2, 3, frames, height, width)).astype(np.float32)
             for frames in (info.num_frames // info.alpha, info.num_frames)]
    corners = rng.random((5, 2, 2)) * np.array([width, height])
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1).astype(np.float32)
    return clips[0], clips[1], boxes, np.array([3, 2], np.int32)


def export_detector(cfg: Mapping[str, Any], model: nn.Layer, output_dir: Path, options: Any,
                    label_names: Optional[List[str]] = None) -> Any:
    """Export the eval-mode detector `model` (edited in place: pass a copy) into `output_dir`; an ExportResult."""
    from .export import _parity, save_program

    model_format = "legacy" if options.legacy else "pir"
    model_file, params_file = f"{options.stem}{MODEL_FORMATS[model_format]}", f"{options.stem}{PARAMS_SUFFIX}"
    num_classes = int(model.num_classes)
    if label_names is None:
        label_names = detection_label_names(cfg, num_classes)
    info = detection_record(cfg, model_file=model_file, params_file=params_file, model_format=model_format,
                            num_classes=num_classes, label_names=label_names)
    feeds = example_inputs(info)
    with paddle.no_grad():
        reference = model.forward_rois(*(paddle.to_tensor(x) for x in feeds)).numpy()
    folded = 0
    if options.fold_bn:
        from .fold import fold_batchnorm

        traced = BackboneCall(model.backbone)
        traced.eval()
        folded = fold_batchnorm(traced, [paddle.to_tensor(x) for x in feeds[:2]])

    result = save_program(DetectorInference(model), info, output_dir, options, folded)
    if options.check:
        from .runtime import PaddleRunner

        runner = PaddleRunner(result.model_file, result.params_file, input_names=DETECTION_INPUTS, onednn=True)
        result.max_abs_diff = _parity(runner(*feeds), reference, result.model_file)
    if options.onnx:
        _export_onnx(result, bool(model.roi_head.bbox_roi_extractor.aligned), feeds, reference, options.check)
    info.extra.update(paddle_version=paddle.__version__, folded_batchnorms=folded,
                      check_max_abs_diff=result.max_abs_diff)
    if result.onnx_max_abs_diff is not None:
        info.extra["onnx_check_max_abs_diff"] = result.onnx_max_abs_diff
    if options.write_infer_cfg:
        result.infer_cfg = info.write(output_dir)
    return result


def _export_onnx(result: Any, aligned: bool, feeds: Tuple[np.ndarray, ...], reference: np.ndarray,
                 check: bool) -> None:
    """model.onnx by paddle2onnx, checked with onnxruntime when present; a one-line ConfigError when paddle2onnx
    cannot convert the program.

    paddle2onnx 2.1 writes roi_align as ONNX RoiAlign without its `aligned` flag and with every RoI on clip 0
    (`rois_num` is dropped). So the opset is chosen by `aligned` (16, whose default coordinate mode half_pixel is
    aligned=True; 13, whose RoiAlign has no half-pixel shift), and the ONNX model scores one clip per run: the check
    runs the first example clip with its boxes, which is how `Detector` feeds it."""
    from .export import _parity
    from .onnx import OnnxRunner, convert_to_onnx, onnxruntime_available

    target = result.model_dir / f"{result.model_file.stem}.onnx"
    try:
        result.onnx_file = convert_to_onnx(result.model_file, result.params_file, target,
                                           opset=ONNX_OPSET_ALIGNED if aligned else ONNX_OPSET_UNALIGNED)
    except ConfigError as exc:
        if "needs paddle2onnx" in str(exc):
            raise
        raise ConfigError(f"paddle2onnx cannot convert this detector (RoIAlign and the box inputs): {exc}",
                          key="--format onnx", expected="--format paddle (Paddle Inference runs it)") from None
    except Exception as exc:  # paddle2onnx raises its own types for ops it has no converter for
        detail = " ".join(str(exc).split())[:200]
        raise ConfigError(f"paddle2onnx cannot convert this detector: {type(exc).__name__}: {detail}",
                          key="--format onnx", expected="--format paddle (Paddle Inference runs it)") from None
    result.info.onnx_file = result.onnx_file.name
    result.info.extra["onnx_clips_per_run"] = 1
    if check and onnxruntime_available():
        first = int(feeds[3][0])
        one_clip = (feeds[0][:1], feeds[1][:1], feeds[2][:first], feeds[3][:1])
        runner = OnnxRunner(result.onnx_file, input_names=DETECTION_INPUTS)
        result.onnx_max_abs_diff = _parity(runner(*one_clip), reference[:first], result.onnx_file)
