"""The `Preprocess` list of a detector's infer_cfg.yml (PaddleDetection's export layout, PaddleX's too) as stages.

Each stage is a pure numpy function on a `results` dict: `image` (HWC RGB until `Permute`, then CHW), `im_shape`
[h, w] of the resized image before any padding, and `scale_factor` [y, x] from the original frame to it. Those
are what PaddleDetection's exported detectors take beside the image and use to map boxes back to frame pixels.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Dict, List, Mapping, Sequence

import cv2
import numpy as np

from ..errors import ConfigError

Stage = Callable[[Dict[str, Any]], Dict[str, Any]]
INTERPOLATIONS = (cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_LANCZOS4)


def initial_results(frame_rgb: np.ndarray) -> Dict[str, Any]:
    """The state before the first stage: the frame itself, its own shape, no scaling."""
    return {"image": frame_rgb, "layout": "HWC", "im_shape": np.array(frame_rgb.shape[:2], dtype=np.float32),
            "scale_factor": np.ones(2, dtype=np.float32)}


def _hw(results: Mapping[str, Any]) -> Sequence[int]:
    image = results["image"]
    return image.shape[:2] if results["layout"] == "HWC" else image.shape[1:]


def resize(results: Dict[str, Any], *, target_size: Any, keep_ratio: bool = True, interp: int = 1) -> Dict[str, Any]:
    """To `target_size` [h, w]; with `keep_ratio` the short side to min(target) unless the long side would pass
    max(target) (PaddleDetection's rule)."""
    if results["layout"] != "HWC":
        raise ValueError("Resize after Permute")
    target_h, target_w = (target_size, target_size) if isinstance(target_size, int) else target_size
    h, w = results["image"].shape[:2]
    if keep_ratio:
        scale = min(target_h, target_w) / min(h, w)
        if round(scale * max(h, w)) > max(target_h, target_w):
            scale = max(target_h, target_w) / max(h, w)
        scale_y = scale_x = scale
    else:
        scale_y, scale_x = target_h / h, target_w / w
    image = cv2.resize(results["image"], None, None, fx=scale_x, fy=scale_y, interpolation=INTERPOLATIONS[interp])
    results.update(image=image, im_shape=np.array(image.shape[:2], dtype=np.float32),
                   scale_factor=np.array([scale_y, scale_x], dtype=np.float32))
    return results


def normalize_image(results: Dict[str, Any], *, mean: Sequence[float] = (0.485, 0.456, 0.406),
                    std: Sequence[float] = (0.229, 0.224, 0.225), is_scale: bool = True,
                    norm_type: str = "mean_std") -> Dict[str, Any]:
    """Float32, /255 when `is_scale`, then (x - mean) / std unless `norm_type` is 'none' (as ppdet trains)."""
    image = results["image"].astype(np.float32)
    if is_scale:
        image /= 255.0
    if norm_type == "mean_std":
        shape = (1, 1, -1) if results["layout"] == "HWC" else (-1, 1, 1)
        image -= np.asarray(mean, dtype=np.float32).reshape(shape)
        image /= np.asarray(std, dtype=np.float32).reshape(shape)
    results["image"] = image
    return results


def permute(results: Dict[str, Any]) -> Dict[str, Any]:
    """HWC -> CHW."""
    if results["layout"] == "HWC":
        results.update(image=np.ascontiguousarray(results["image"].transpose(2, 0, 1)), layout="CHW")
    return results


def _pad_to(results: Dict[str, Any], height: int, width: int, fill: Sequence[float]) -> Dict[str, Any]:
    """Bottom and right padding to (height, width) with `fill` per channel; im_shape stays the unpadded size."""
    h, w = _hw(results)
    if (height, width) == (h, w):
        results["image"] = results["image"].astype(np.float32)
        return results
    if height < h or width < w:
        raise ValueError(f"a {h}x{w} image does not fit a {height}x{width} pad")
    image = results["image"]
    fill = np.asarray(fill, dtype=np.float32)
    if results["layout"] == "HWC":
        canvas = np.empty((height, width, image.shape[2]), dtype=np.float32)
        canvas[...] = fill.reshape(1, 1, -1)
        canvas[:h, :w] = image
    else:
        canvas = np.empty((image.shape[0], height, width), dtype=np.float32)
        canvas[...] = fill.reshape(-1, 1, 1)
        canvas[:, :h, :w] = image
    results["image"] = canvas
    return results


def pad_stride(results: Dict[str, Any], *, stride: int = 0) -> Dict[str, Any]:
    """Zero padding up to multiples of `stride` (FPN models; PadBatch's pad_to_stride at export)."""
    if stride <= 0:
        return results
    h, w = _hw(results)
    return _pad_to(results, -(-h // stride) * stride, -(-w // stride) * stride, (0.0,))


def pad(results: Dict[str, Any], *, size: Any, fill_value: Sequence[float] = (114.0, 114.0, 114.0)
        ) -> Dict[str, Any]:
    """Padding up to a fixed `size` [h, w] with `fill_value` (YOLOX-style exports)."""
    height, width = (size, size) if isinstance(size, int) else size
    return _pad_to(results, int(height), int(width), fill_value)


OPS: Dict[str, Callable[..., Dict[str, Any]]] = {
    "Resize": resize, "NormalizeImage": normalize_image, "Permute": permute, "PadStride": pad_stride, "Pad": pad,
}


def build_preprocess(specs: Any, where: str) -> List[Stage]:
    """The stages of an infer_cfg.yml `Preprocess` list; an unknown op or argument is a ConfigError naming it."""
    if not isinstance(specs, list):
        raise ConfigError("no Preprocess list", file=where, key="Preprocess",
                          expected="a list of {type: OP, ...} as PaddleDetection's export writes it")
    stages: List[Stage] = []
    for index, spec in enumerate(specs):
        key = f"Preprocess[{index}]"
        if not isinstance(spec, Mapping) or "type" not in spec:
            raise ConfigError(f"preprocess entry {spec!r} has no type", file=where, key=key)
        args = {k: v for k, v in spec.items() if k != "type"}
        op = OPS.get(spec["type"])
        if op is None:
            raise ConfigError(f"preprocess op '{spec['type']}' is not supported", file=where, key=f"{key}.type",
                              expected=f"one of {', '.join(OPS)}")
        accepted = set(inspect.signature(op).parameters) - {"results"}
        unknown = sorted(set(args) - accepted)
        if unknown:
            raise ConfigError(f"preprocess op '{spec['type']}' has no argument '{unknown[0]}'", file=where,
                              key=f"{key}.{unknown[0]}", expected=", ".join(sorted(accepted)) or "no arguments")
        if op is resize and args.get("interp", 1) not in range(len(INTERPOLATIONS)):
            raise ConfigError(f"unknown interpolation {args['interp']!r}", file=where, key=f"{key}.interp",
                              expected="0-4 (OpenCV's nearest, linear, cubic, area, lanczos4)")
        stages.append(functools.partial(op, **args))
    return stages


def run_preprocess(stages: Sequence[Stage], frame_rgb: np.ndarray, where: str) -> Dict[str, np.ndarray]:
    """The detector's inputs for one frame: image [1, 3, H, W] float32, im_shape [1, 2], scale_factor [1, 2]."""
    results = initial_results(frame_rgb)
    for stage in stages:
        try:
            results = stage(results)
        except ValueError as exc:
            raise ConfigError(f"preprocess op {stage.func.__name__} failed: {exc}", file=where,  # type: ignore
                              key="Preprocess") from None
    if results["layout"] != "CHW":
        raise ConfigError("the Preprocess list leaves the image HWC", file=where, key="Preprocess",
                          expected="a Permute op (the detector takes NCHW)")
    return {"image": results["image"].astype(np.float32, copy=False)[None],
            "im_shape": results["im_shape"][None].astype(np.float32),
            "scale_factor": results["scale_factor"][None].astype(np.float32)}
