"""`CenterCropMetric` (PaddleVideo's name): one clip per video, top-1/top-5 over the scored videos."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

from ..registry import METRICS
from .base import BaseMetric


@METRICS.register()
class CenterCropMetric(BaseMetric):
    """Single-view evaluation (validation): each item is one video; an index column, if any, is its id."""

    def __init__(self, data_size: Optional[int] = None, batch_size: Optional[int] = None, log_interval: int = 1,
                 num_classes: Optional[int] = None, topk: Sequence[int] = (1, 5),
                 label_names: Union[None, str, Path, Sequence[str]] = None, softmax: Optional[bool] = None):
        super().__init__(data_size, batch_size, log_interval, num_classes, topk, label_names, softmax)
