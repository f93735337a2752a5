"""AVA's spatial transforms, which move the boxes (`gt_bboxes`, `proposals`, pixels) with the frames.

PaddleVideo's stage names, keywords and pixel conventions: a rescale scales x by new_w / w and y by new_h / h; a
crop shifts boxes and clips them to [0, size - 1]; a horizontal flip maps x to `width - x - 1`. Unlike PaddleVideo,
a box a crop leaves without area (outside the window) is dropped with its labels, person id or score, and counted
in `results['dropped_gt']` / `results['dropped_proposals']`; a clip whose proposals all fall outside keeps the
whole crop as its one proposal (`results['proposal_fallback']`), as a keyframe without proposals does.
Random draws come from the item's generator (`rng.stage_rng`). Frames are one array (T, H, W, 3).
"""
from __future__ import annotations

import ast
import math
from typing import Any, Dict, Sequence, Tuple, Union

import numpy as np

from ...errors import ConfigError
from ...registry import PIPELINES
from ..rng import stage_rng
from ..transforms import as_frames, crop_frames, flip_frames, resize_frames

Scale = Union[float, Tuple[float, float]]
BOX_KEYS = ("gt_bboxes", "proposals")


def parse_pair(value: Any, key: str) -> Tuple[float, float]:
    """A 2-number pair from a list, a tuple or PaddleVideo's string "(256,320)" (read as a literal, never eval'd)."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise ConfigError(f"cannot read {value!r} as a pair of numbers", key=key, expected="e.g. (256, 320)") \
                from None
    if not isinstance(value, (list, tuple)) or len(value) != 2 or \
            not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"expected a pair of numbers, got {value!r}", key=key, expected="e.g. (256, 320)")
    return value[0], value[1]


def rescaled_size(height: int, width: int, scale: Scale) -> Tuple[int, int]:
    """(new_h, new_w), aspect kept: a number scales by it; (a, b) fits the long side in max and the short side in
    min of the pair; a -1 in the pair leaves that bound open, so (-1, 256) makes the short side 256."""
    if isinstance(scale, tuple):
        long_edge, short_edge = max(scale), min(scale)
        if short_edge == -1:
            long_edge, short_edge = math.inf, long_edge
        factor = min(long_edge / max(height, width), short_edge / min(height, width))
    else:
        factor = float(scale)
    return int(height * factor + 0.5), int(width * factor + 0.5)


def scale_boxes(boxes: np.ndarray, scale_x: float, scale_y: float) -> np.ndarray:
    """Pixel boxes of a frame resized by (scale_x, scale_y)."""
    return (boxes * np.array([scale_x, scale_y, scale_x, scale_y], np.float32)).astype(boxes.dtype, copy=False)


def crop_boxes(boxes: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    """Boxes in the (width x height) window at (x, y), clipped to [0, width - 1] x [0, height - 1]."""
    out = boxes.copy()
    out[:, 0::2] = np.clip(boxes[:, 0::2] - x, 0, width - 1)
    out[:, 1::2] = np.clip(boxes[:, 1::2] - y, 0, height - 1)
    return out


def has_area(boxes: np.ndarray) -> np.ndarray:
    """Mask of boxes with x2 > x1 and y2 > y1."""
    return (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def flip_boxes(boxes: np.ndarray, width: int, height: int, direction: str = "horizontal") -> np.ndarray:
    """Boxes of the mirrored frame (x -> width - x - 1, or y -> height - y - 1 when vertical)."""
    out = boxes.copy()
    if direction == "horizontal":
        out[:, 0], out[:, 2] = width - boxes[:, 2] - 1, width - boxes[:, 0] - 1
    else:
        out[:, 1], out[:, 3] = height - boxes[:, 3] - 1, height - boxes[:, 1] - 1
    return out


def resize_clip(results: Dict[str, Any], scale: Scale) -> Dict[str, Any]:
    """Resize `imgs` and the boxes to `scale` (see rescaled_size); updates img_shape and scale_factor."""
    frames = as_frames(results["imgs"])
    height, width = frames.shape[1:3]
    new_h, new_w = rescaled_size(height, width, scale)
    results["imgs"] = resize_frames(frames, new_h, new_w)
    factor = np.array([new_w / width, new_h / height], np.float32)
    results["scale_factor"] = results.get("scale_factor", np.ones(2, np.float32)) * factor
    results["img_shape"] = (new_h, new_w)
    results["keep_ratio"] = True
    for key in BOX_KEYS:
        if results.get(key) is not None:
            results[key] = scale_boxes(results[key], factor[0], factor[1])
    return results


@PIPELINES.register()
class RandomRescale:
    """Resize so the short side is a random integer in `scale_range` (both ends included), aspect kept."""

    spatial = True

    def __init__(self, scale_range: Any, interpolation: str = "bilinear"):
        low, high = parse_pair(scale_range, "RandomRescale.scale_range")
        if not 0 < low < high:
            raise ConfigError(f"RandomRescale scale_range ({low}, {high}) needs 0 < low < high",
                              key="RandomRescale.scale_range")
        if interpolation != "bilinear":
            raise ConfigError(f"interpolation '{interpolation}'", key="RandomRescale.interpolation",
                              expected="bilinear")
        self.scale_range, self.interpolation = (int(low), int(high)), interpolation

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        short_edge = int(stage_rng(results).integers(self.scale_range[0], self.scale_range[1] + 1))
        results = resize_clip(results, (-1, short_edge))
        results["short_edge"] = short_edge
        return results


@PIPELINES.register()
class Rescale:
    """Resize to `scale_range` as rescaled_size reads it: `(-1, 256)` makes the short side 256 (test)."""

    spatial = True

    def __init__(self, scale_range: Any, interpolation: str = "bilinear"):
        pair = parse_pair(scale_range, "Rescale.scale_range")
        if min(pair) != -1 and min(pair) <= 0:
            raise ConfigError(f"Rescale scale_range {pair} needs positive sizes (or -1 for an open bound)",
                              key="Rescale.scale_range")
        if interpolation != "bilinear":
            raise ConfigError(f"interpolation '{interpolation}'", key="Rescale.interpolation", expected="bilinear")
        self.scale_range, self.interpolation = pair, interpolation

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        return resize_clip(results, self.scale_range)


def drop_empty(results: Dict[str, Any]) -> None:
    """Remove the boxes without area (and their labels, person ids, scores); count them; never leave a clip
    without proposals (the whole frame stands in)."""
    gt = results.get("gt_bboxes")
    if gt is not None and len(gt):
        keep = has_area(gt)
        if not keep.all():
            results["dropped_gt"] = results.get("dropped_gt", 0) + int((~keep).sum())
            for key in ("gt_bboxes", "gt_labels", "entity_ids"):
                if results.get(key) is not None:
                    results[key] = results[key][keep]
    proposals = results.get("proposals")
    if proposals is not None and len(proposals):
        keep = has_area(proposals)
        if not keep.all():
            results["dropped_proposals"] = results.get("dropped_proposals", 0) + int((~keep).sum())
            results["proposals"] = proposals[keep]
            if results.get("scores") is not None:
                results["scores"] = results["scores"][keep]
            if not keep.any():
                height, width = results["img_shape"]
                results["proposals"] = np.array([[0, 0, width - 1, height - 1]], proposals.dtype)
                results["scores"] = np.ones(1, np.float32)
                results["proposal_fallback"] = True


@PIPELINES.register()
class RandomCrop_v2:  # noqa: N801 (PaddleVideo's name)
    """A random square `size` crop (every offset possible); boxes shifted and clipped, empty ones dropped."""

    spatial = True

    def __init__(self, size: int, lazy: bool = False):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"RandomCrop_v2 size must be a positive int, got {size!r}", key="RandomCrop_v2.size")
        if lazy:
            raise ConfigError("lazy crops are not supported", key="RandomCrop_v2.lazy", expected="False")
        self.size = size

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        frames = as_frames(results["imgs"])
        height, width = frames.shape[1:3]
        if self.size > height or self.size > width:
            raise ConfigError(f"RandomCrop_v2 size {self.size} is larger than the {height}x{width} frames",
                              key="RandomCrop_v2.size", expected="a rescale before it making frames that large")
        rng = stage_rng(results)
        y = int(rng.integers(0, height - self.size + 1))
        x = int(rng.integers(0, width - self.size + 1))
        results["imgs"] = crop_frames(frames, x, y, self.size)
        old = results.get("crop_quadruple", np.array([0, 0, 1, 1], np.float32))
        results["crop_quadruple"] = np.array([old[0] + x / width * old[2], old[1] + y / height * old[3],
                                              self.size / width * old[2], self.size / height * old[3]], np.float32)
        results["crop_bbox"] = np.array([x, y, x + self.size, y + self.size])
        results["img_shape"] = (self.size, self.size)
        for key in BOX_KEYS:
            if results.get(key) is not None:
                results[key] = crop_boxes(results[key], x, y, self.size, self.size)
        drop_empty(results)
        return results


@PIPELINES.register()
class Flip:
    """Mirror the clip and its boxes with probability `flip_ratio` (horizontal: left-right)."""

    spatial = True

    def __init__(self, flip_ratio: float = 0.5, direction: str = "horizontal", lazy: bool = False):
        if direction not in ("horizontal", "vertical"):
            raise ConfigError(f"Flip direction '{direction}'", key="Flip.direction", expected="horizontal or vertical")
        if lazy:
            raise ConfigError("lazy flips are not supported", key="Flip.lazy", expected="False")
        self.flip_ratio, self.direction = float(flip_ratio), direction

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        flip = bool(stage_rng(results).random() < self.flip_ratio)
        results["flip"], results["flip_direction"] = flip, self.direction
        if not flip:
            return results
        frames = as_frames(results["imgs"])
        results["imgs"] = flip_frames(frames) if self.direction == "horizontal" else \
            np.ascontiguousarray(frames[:, ::-1])
        height, width = frames.shape[1:3]
        for key in BOX_KEYS:
            if results.get(key) is not None:
                results[key] = flip_boxes(results[key], width, height, self.direction)
        return results


@PIPELINES.register()
class Normalize:
    """(x - mean) / std per channel on 0..255 values, into float32 (T, H, W, 3); `to_bgr` reverses the channels
    first (mean and std are given in the output order)."""

    spatial = False

    def __init__(self, mean: Sequence[float], std: Sequence[float], to_bgr: bool = False,
                 adjust_magnitude: bool = False):
        if len(mean) != 3 or len(std) != 3:
            raise ConfigError(f"Normalize needs 3 means and 3 stds, got {len(mean)} and {len(std)}",
                              key="Normalize.mean")
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.to_bgr, self.adjust_magnitude = bool(to_bgr), bool(adjust_magnitude)

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        frames = as_frames(results["imgs"])
        if self.to_bgr:
            frames = frames[..., ::-1]
        out = frames.astype(np.float32)
        out -= self.mean
        out *= (1.0 / self.std.astype(np.float64)).astype(np.float32)
        results["imgs"] = out
        results["img_norm_cfg"] = dict(mean=self.mean, std=self.std, to_bgr=self.to_bgr)
        return results
