"""Evaluation metrics with PaddleVideo's names and interface; importing registers them in METRICS."""
from typing import Any, Mapping

from ..registry import METRICS
from .ava import AVAMetric
from .base import BaseMetric
from .center_crop import CenterCropMetric
from .multi_crop import MultiCropMetric


def build_metric(cfg: Mapping[str, Any], *, where: str = "METRIC", **extra: Any) -> BaseMetric:
    """The metric `cfg.name` with the other keys (plus `extra`, e.g. data_size, batch_size) as arguments."""
    return METRICS.build(cfg, where=where, **extra)


__all__ = ["AVAMetric", "BaseMetric", "CenterCropMetric", "MultiCropMetric", "build_metric"]
