"""`MultiCropMetric` (PaddleVideo's name): the 10x3 test, softmax averaged over each video's views."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

from ..registry import METRICS
from .base import BaseMetric


@METRICS.register()
class MultiCropMetric(BaseMetric):
    """`num_ensemble_views` temporal x `num_spatial_crops` spatial views per video, averaged as probabilities.

    Takes either all views of a video in one item (scores [B, V, C], index = video id) or PaddleVideo's
    stream of single views (scores [B, C] with clip index = video * V + view); repeated views are ignored
    and videos with a view count other than V are counted as `incomplete`.
    """

    def __init__(self, data_size: Optional[int] = None, batch_size: Optional[int] = None,
                 num_ensemble_views: int = 10, num_spatial_crops: int = 3, num_classes: Optional[int] = None,
                 log_interval: int = 1, topk: Sequence[int] = (1, 5),
                 label_names: Union[None, str, Path, Sequence[str]] = None, softmax: Optional[bool] = None):
        self.num_ensemble_views, self.num_spatial_crops = int(num_ensemble_views), int(num_spatial_crops)
        self.num_clips = self.num_ensemble_views * self.num_spatial_crops
        self.clips_per_index = self.expected_views = self.num_clips
        super().__init__(data_size, batch_size, log_interval, num_classes, topk, label_names, softmax)
