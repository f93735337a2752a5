"""Fast paths for two stage sequences of every SlowFast pipeline; `Compose` swaps them in, the stages stay as is.

- `ScaleCrop` = JitterScale then a training MultiCrop. It draws the same random numbers in the same order, but
  resamples only the crop: the crop window is mapped back to the source frame (rounded to whole source pixels)
  and that window alone is resized to `target_size`. Same augmentation, about half the resizing; pixels differ from
  resize-then-crop by the sub-pixel rounding of the window (a test bounds it).
- `NormalizePack` = [RandomFlip], Image2Array(transpose False), Normalization (per channel) and PackOutput.
  It splits the uint8 frames into channel planes, mirrors the planes when the flip is drawn (one call per plane
  instead of one per frame), and converts each plane with one scale-and-shift straight into the (C, T, H, W)
  float32 Fast array, instead of three float passes and a transpose. Equal to the stages to float32 rounding
  (a test checks 1e-5), with the flip drawn at the same point of the item's random stream.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import cv2
import numpy as np

from .pack import PackOutput, slow_indices
from .rng import stage_rng
from .transforms import (Image2Array, JitterScale, MultiCrop, Normalization, RandomFlip, as_frames, crop_frames,
                         resize_frames, short_side_size)


class ScaleCrop:
    """JitterScale + training MultiCrop in one resampling of the crop window."""

    spatial = True

    def __init__(self, jitter: JitterScale, crop: MultiCrop):
        self.jitter, self.crop = jitter, crop

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        frames = as_frames(results["imgs"])
        rng = stage_rng(results)
        height, width = frames.shape[1:3]
        new_h, new_w = short_side_size(height, width, self.jitter.size_for(results, rng))
        size = self.crop.size_for(results)
        if (new_h, new_w) == (size, size):
            results["imgs"] = resize_frames(frames, new_h, new_w)
            return results
        x, y = self.crop.offset_for(new_h, new_w, size, results, rng)
        if (new_h, new_w) == (height, width):
            results["imgs"] = crop_frames(frames, x, y, size)
            return results
        scale_x, scale_y = width / new_w, height / new_h
        win_w, win_h = max(1, round(size * scale_x)), max(1, round(size * scale_y))
        x0 = min(max(round(x * scale_x), 0), width - win_w)
        y0 = min(max(round(y * scale_y), 0), height - win_h)
        out = np.empty((frames.shape[0], size, size) + frames.shape[3:], frames.dtype)
        for frame, dst in zip(frames, out):
            cv2.resize(frame[y0:y0 + win_h, x0:x0 + win_w], (size, size), dst=dst, interpolation=cv2.INTER_LINEAR)
        results["imgs"] = out
        return results


class NormalizePack:
    """[RandomFlip +] Image2Array + Normalization + PackOutput in one pass per channel plane."""

    spatial = False

    def __init__(self, to_array: Image2Array, norm: Normalization, pack: PackOutput,
                 flip: Optional[RandomFlip] = None):
        self.flip = flip
        self.stages = ((flip,) if flip is not None else ()) + (to_array, norm, pack)
        std = norm.channel_std.astype(np.float64)
        self.scale = 1.0 / (norm.divisor * std)
        self.shift = -norm.channel_mean.astype(np.float64) / std
        self.alpha = pack.alpha

    @staticmethod
    def applies(to_array: Image2Array, norm: Normalization) -> bool:
        """Whether the stages keep (T, H, W, C) and normalise per channel along the last axis."""
        shape = norm.tensor_shape
        return (not to_array.transpose and len(shape) >= 1 and int(np.prod(shape)) == shape[-1]
                and shape[-1] == norm.channel_mean.size)

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        frames = as_frames(results["imgs"])
        channels = frames.shape[-1]
        if frames.dtype != np.uint8 or frames.ndim != 4 or self.scale.size not in (channels, 1) \
                or frames.shape[0] < self.alpha:
            for stage in self.stages:
                results = stage(results)
            return results
        mirror = self.flip is not None and self.flip.draw(results)
        steps, height, width = frames.shape[:3]
        planes = np.empty((channels, steps, height, width), np.uint8)
        rows = steps * height
        if frames.flags.c_contiguous:
            cv2.split(frames.reshape(rows, width, channels), [planes[c].reshape(rows, width) for c in range(channels)])
        else:  # a crop view: split frame by frame
            for t in range(steps):
                cv2.split(frames[t], [planes[c, t] for c in range(channels)])
        fast = np.empty(planes.shape, np.float32)
        scale = np.broadcast_to(self.scale, (channels,))
        shift = np.broadcast_to(self.shift, (channels,))
        for c in range(channels):
            plane = planes[c].reshape(rows, width)
            if mirror:
                cv2.flip(plane, 1, dst=plane)
            cv2.addWeighted(plane, float(scale[c]), plane, 0.0, float(shift[c]), dst=fast[c].reshape(rows, width),
                            dtype=cv2.CV_32F)
        results["imgs"] = [np.ascontiguousarray(fast[:, slow_indices(steps, self.alpha)]), fast]
        return results


def _packs(run: List[Any]) -> bool:
    """Whether `run` is Image2Array, Normalization, PackOutput that NormalizePack can replace."""
    return (len(run) == 3 and isinstance(run[0], Image2Array) and isinstance(run[1], Normalization)
            and isinstance(run[2], PackOutput) and NormalizePack.applies(run[0], run[1]))


def fuse_stages(stages: List[Any]) -> List[Any]:
    """`stages` with each fusable run replaced by its fast path (the stage objects themselves are kept inside)."""
    out: List[Any] = []
    i = 0
    while i < len(stages):
        here: Optional[Any] = stages[i]
        nxt = stages[i + 1] if i + 1 < len(stages) else None
        if isinstance(here, JitterScale) and isinstance(nxt, MultiCrop) and not nxt.test_mode:
            out.append(ScaleCrop(here, nxt))
            i += 2
        elif isinstance(here, RandomFlip) and _packs(stages[i + 1:i + 4]):
            out.append(NormalizePack(*stages[i + 1:i + 4], flip=here))
            i += 4
        elif _packs(stages[i:i + 3]):
            out.append(NormalizePack(*stages[i:i + 3]))
            i += 3
        else:
            out.append(here)
            i += 1
    return out
