"""SlowFast's spatial transforms as pure numpy/OpenCV functions, each wrapped by a registered stage on `results`.

Frames travel as one uint8 RGB array `imgs` (T, H, W, 3) until `Image2Array` makes them float32. Stage names and
keyword names are PaddleVideo's (`JitterScale(min_size, max_size)`, `MultiCrop(target_size, test_mode)`, ...).
Random stages draw from the item's generator (`rng.stage_rng`), in PaddleVideo's order: JitterScale the short
side, then MultiCrop x and y. Test mode is deterministic: MultiCrop takes crop `spatial_sample_index` of
`spatial_num_clips` along the long side (left/centre/right, or top/middle/bottom), centred on the short side.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..errors import ConfigError
from ..registry import PIPELINES
from .rng import stage_rng

SHORT_CYCLE_FACTORS = (0.5, 0.7071)  # multigrid short cycles: spatial size x 1/2 and x 1/sqrt(2), as PaddleVideo


def as_frames(imgs: Any) -> np.ndarray:
    """`imgs` as one (T, H, W, C) array (PaddleVideo passes lists of frames)."""
    return imgs if isinstance(imgs, np.ndarray) else np.stack([np.asarray(i) for i in imgs])


def short_side_size(height: int, width: int, size: int) -> Tuple[int, int]:
    """(height, width) with the short side = `size` and the long side floored, as PaddleVideo's JitterScale."""
    if min(height, width) == size:
        return height, width
    if width < height:
        return int(math.floor(height / width * size)), size
    return size, int(math.floor(width / height * size))


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Every frame bilinearly resized to (height, width), into one new array."""
    if frames.shape[1:3] == (height, width):
        return frames
    out = np.empty((frames.shape[0], height, width) + frames.shape[3:], frames.dtype)
    for frame, dst in zip(frames, out):
        cv2.resize(frame, (width, height), dst=dst, interpolation=cv2.INTER_LINEAR)
    return out


def view_crop_offset(height: int, width: int, size: int, index: int, num_crops: int) -> Tuple[int, int]:
    """(x, y) of crop `index` of `num_crops` spread along the long side and centred on the short one."""
    if num_crops <= 1:
        return int(math.ceil((width - size) / 2)), int(math.ceil((height - size) / 2))
    if height > width:
        x = int(math.ceil((width - size) / 2))
        gap = int(math.ceil((height - size) / (num_crops - 1)))
        y = 0 if index == 0 else height - size if index == num_crops - 1 else gap * index
    else:
        y = int(math.ceil((height - size) / 2))
        gap = int(math.ceil((width - size) / (num_crops - 1)))
        x = 0 if index == 0 else width - size if index == num_crops - 1 else gap * index
    return x, y


def crop_frames(frames: np.ndarray, x: int, y: int, size: int) -> np.ndarray:
    """The square (size x size) window at (x, y) of every frame (a view, no copy)."""
    return frames[:, y:y + size, x:x + size]


def flip_frames(frames: np.ndarray) -> np.ndarray:
    """Every frame mirrored left-right, into one new contiguous array."""
    out = np.empty(frames.shape, frames.dtype)
    for frame, dst in zip(frames, out):
        cv2.flip(frame, 1, dst=dst)
    return out


def normalize(frames: np.ndarray, mean: np.ndarray, std: np.ndarray, divisor: float = 255.0) -> np.ndarray:
    """(frames / divisor - mean) / std in float32 (mean and std already shaped to broadcast)."""
    out = frames.astype(np.float32)
    if divisor != 1:
        out /= np.float32(divisor)
    out -= mean
    out /= std
    return out


@PIPELINES.register()
class JitterScale:
    """Resize so the short side is a random size in [min_size, max_size] (scale jitter); aspect ratio kept."""

    spatial = False

    def __init__(self, min_size: int, max_size: int, short_cycle_factors: Sequence[float] = SHORT_CYCLE_FACTORS,
                 default_min_size: int = 256):
        if min_size > max_size:
            raise ConfigError(f"JitterScale min_size {min_size} > max_size {max_size}", key="JitterScale.min_size")
        self.min_size, self.max_size = int(min_size), int(max_size)
        self.short_cycle_factors = tuple(short_cycle_factors)
        self.default_min_size = int(default_min_size)

    def size_for(self, results: Mapping[str, Any], rng: np.random.Generator) -> int:
        """The short side for this item (a multigrid short cycle lowers the minimum, as PaddleVideo does)."""
        low = self.min_size
        cycle = results.get("short_cycle_idx")
        if cycle in (0, 1):
            low = int(round(self.short_cycle_factors[cycle] * self.default_min_size))
        return int(round(rng.uniform(low, self.max_size)))

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        frames = as_frames(results["imgs"])
        size = self.size_for(results, stage_rng(results))
        results["imgs"] = resize_frames(frames, *short_side_size(frames.shape[1], frames.shape[2], size))
        return results


@PIPELINES.register()
class MultiCrop:
    """A square `target_size` crop: random in training; in test mode crop `spatial_sample_index` of the views."""

    spatial = True

    def __init__(self, target_size: int, default_crop_size: int = 224,
                 short_cycle_factors: Sequence[float] = SHORT_CYCLE_FACTORS, test_mode: bool = False):
        self.target_size = int(target_size)
        self.default_crop_size = int(default_crop_size)
        self.short_cycle_factors = tuple(short_cycle_factors)
        self.test_mode = bool(test_mode)

    def size_for(self, results: Mapping[str, Any]) -> int:
        cycle = results.get("short_cycle_idx")
        if cycle in (0, 1):
            return int(round(self.short_cycle_factors[cycle] * self.default_crop_size))
        return self.target_size

    def offset_for(self, height: int, width: int, size: int, results: Mapping[str, Any],
                   rng: Optional[np.random.Generator]) -> Tuple[int, int]:
        """(x, y) of this item's crop; draws x then y in training."""
        if height < size or width < size:
            raise ConfigError(f"MultiCrop target_size {size} is larger than the {height}x{width} frames",
                              key="MultiCrop.target_size", expected="a scale stage before it making frames "
                              "at least that large")
        if self.test_mode:
            return view_crop_offset(height, width, size, int(results.get("spatial_sample_index", 0)),
                                    int(results.get("spatial_num_clips", 1)))
        rng = rng or stage_rng(results)
        x = int(rng.integers(0, width - size + 1))
        return x, int(rng.integers(0, height - size + 1))

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        frames = as_frames(results["imgs"])
        size = self.size_for(results)
        height, width = frames.shape[1:3]
        if (height, width) == (size, size):
            results["imgs"] = frames
            return results
        x, y = self.offset_for(height, width, size, results, None if self.test_mode else stage_rng(results))
        results["imgs"] = crop_frames(frames, x, y, size)
        return results


@PIPELINES.register()
class RandomFlip:
    """Mirror the clip left-right with probability `p`.

    `label_pairs` ([[a, b], ...], ours) swaps those labels when flipped, for classes a mirror turns into each
    other (the embedded dataset's left/right and clockwise/anticlockwise).
    """

    spatial = False

    def __init__(self, p: float = 0.5, label_pairs: Optional[Sequence[Sequence[int]]] = None):
        self.p = float(p)
        self.swap: Dict[int, int] = {}
        for a, b in label_pairs or ():
            self.swap[int(a)], self.swap[int(b)] = int(b), int(a)

    def draw(self, results: Dict[str, Any]) -> bool:
        """Whether this item is mirrored; swaps its label when it is one of `label_pairs`."""
        mirror = bool(stage_rng(results).random() < self.p)
        if mirror and self.swap and "labels" in results:
            results["labels"] = self.swap.get(int(results["labels"]), results["labels"])
        return mirror

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        if self.draw(results):
            results["imgs"] = flip_frames(as_frames(results["imgs"]))
        return results


@PIPELINES.register()
class Image2Array:
    """Frames to one float32 array; `transpose` False keeps (T, H, W, C) (SlowFast), else 'tchw' or 'cthw'."""

    spatial = False

    def __init__(self, transpose: bool = True, data_format: str = "tchw"):
        if data_format not in ("tchw", "cthw"):
            raise ConfigError(f"Image2Array data_format '{data_format}'", key="Image2Array.data_format",
                              expected="tchw or cthw")
        self.transpose = bool(transpose)
        self.data_format = data_format

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        frames = as_frames(results["imgs"]).astype(np.float32)
        if self.transpose:
            frames = frames.transpose((0, 3, 1, 2) if self.data_format == "tchw" else (3, 0, 1, 2))
        results["imgs"] = frames
        return results


@PIPELINES.register()
class Normalization:
    """(x / 255 - mean) / std per channel; `tensor_shape` shapes mean/std to broadcast ([1, 1, 1, 3] for THWC).

    `inplace` True follows PaddleVideo: (x - mean) / std on the raw 0..255 values (mean/std given in that scale).
    """

    spatial = False

    def __init__(self, mean: Sequence[float], std: Sequence[float], tensor_shape: Sequence[int] = (3, 1, 1),
                 inplace: bool = False):
        if len(mean) != len(std):
            raise ConfigError(f"Normalization mean has {len(mean)} values, std {len(std)}", key="Normalization.std")
        self.inplace = bool(inplace)
        self.channel_mean = np.asarray(mean, np.float32).reshape(-1)
        self.channel_std = np.asarray(std, np.float32).reshape(-1)
        self.tensor_shape = tuple(int(s) for s in tensor_shape)
        self.mean = self.channel_mean.reshape(self.tensor_shape)
        self.std = self.channel_std.reshape(self.tensor_shape)

    @property
    def divisor(self) -> float:
        return 1.0 if self.inplace else 255.0

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        results["imgs"] = normalize(as_frames(results["imgs"]), self.mean, self.std, self.divisor)
        return results
