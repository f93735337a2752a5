"""How much of a Grad-CAM map falls on the object: its mass inside the object's (dilated) box per frame.

A map that ignores the object puts about the box's share of the frame inside it (`box_area_share`); a map
that finds the object puts much more (`box_mass_share`). Boxes are x1, y1, x2, y2 in pixel coordinates.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

DILATION = 1.25   # the box grown by 25% in width and height about its centre


def box_masks(boxes: np.ndarray, size: Tuple[int, int], dilation: float = DILATION) -> np.ndarray:
    """(T, H, W) bool: pixels whose centre lies inside each frame's box, dilated by `dilation` about its centre."""
    boxes = np.asarray(boxes, np.float64)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * dilation / 2
    low, high = centre - half, centre + half                               # (T, 2) as x, y
    ys, xs = np.arange(size[0], dtype=np.float64), np.arange(size[1], dtype=np.float64)
    inside_x = (xs[None] >= low[:, :1]) & (xs[None] <= high[:, :1])        # (T, W)
    inside_y = (ys[None] >= low[:, 1:]) & (ys[None] <= high[:, 1:])        # (T, H)
    return inside_y[:, :, None] & inside_x[:, None, :]


def box_mass_share(cam: np.ndarray, masks: np.ndarray) -> float:
    """The share of the map's total mass (over all frames) inside the boxes; NaN for an all-zero map."""
    total = float(cam.sum())
    return float(cam[masks].sum()) / total if total > 0 else float("nan")


def box_area_share(masks: np.ndarray) -> float:
    """The share of the frames' pixels inside the boxes: what a map spread evenly would put there."""
    return float(masks.mean())
