"""Our AVA detector and dataset under PaddleVideo's calling conventions for FastRCNN (its tasks/train.py, test.py).

- Names: `pv` routes the head's parts (`bbox_roi_extractor`, `bbox_head`, `assigner`, `sampler`) to their
  registered names like every other component; our AVARoIHead builds them from our own registries, so the
  detector takes each name back to ours first.
- Validation: PaddleVideo's loop extends one list with `model(batch, mode='valid')` of every batch, gathers it
  across ranks by interleaving per item (`collect_results_cpu`, the sampler's order only at batch size 1) and
  calls `valid_dataset.evaluate(results)`, whose keys must all be its record's ("mAP@0.5IOU"). Each item's
  detections here carry their dataset index, so the mAP is right at any batch size and rank count.
- Training items: its sampler passes bare indices and never sets the epoch (see adapters.FreshTrainDraws).
- Test: its loop builds our AVAMetric from METRIC (plus data_size, batch_size), calls `set_dataset_info` (because
  the framework is named FastRCNN) and `update(batch_id, batch, outputs)`: our metric reads each clip's index from
  the batch, so any test batch size works (PaddleVideo's own FastRCNN scores only the first clip of a batch).
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ..data.ava import AVADataset
from ..metrics.ava import AVAMetric
from ..modeling.detection import FastRCNN
from ..modeling.detection.batch import IDX, as_numpy
from . import names
from .adapters import FreshTrainDraws, our_part, our_pipeline
from .configs import our_config, our_kwargs

MAP_KEY = "mAP@0.5IOU"  # the only key PaddleVideo's validation record takes from dataset.evaluate


def our_head(head: Any) -> Any:
    """`MODEL.head` with its own and its parts' names given as our registries' names."""
    head = our_part(head, "HEADS")
    if not isinstance(head, Mapping):
        return head
    renamed = {key: our_part(head[key], kind) for key, kind in names.HEAD_PARTS.items() if key in head}
    changed = {key: part for key, part in renamed.items() if part is not head[key]}
    if changed:
        head = copy.copy(head)
        head.update(changed)
    return head


class ItemDetections(list):
    """One item's per-class detection arrays (PaddleVideo's layout) with the dataset index they belong to."""

    def __init__(self, arrays: Sequence[np.ndarray], item: int):
        super().__init__(arrays)
        self.item = int(item)


class PaddleVideoFastRCNN(FastRCNN):
    """Our FastRCNN for PaddleVideo's trainer/tester/exporter; same layers and state-dict keys."""

    def __init__(self, backbone: Mapping[str, Any], head: Mapping[str, Any], init_seed: int = 0):
        super().__init__(our_part(our_config(backbone, "MODEL.backbone"), "BACKBONES"),
                         our_head(our_config(head, "MODEL.head")), init_seed)

    def val_step(self, data_batch: Sequence[Any]) -> List[ItemDetections]:
        """test_step's detections, each tagged with its item's dataset index (see the module docstring)."""
        index = as_numpy(data_batch[IDX]).reshape(-1)
        return [ItemDetections(clip, i) for clip, i in zip(self.test_step(data_batch), index.tolist())]


class PaddleVideoAVADataset(FreshTrainDraws, AVADataset):
    """Our AVADataset built by PaddleVideo's `build_dataset` (its pipeline object, its sampler, its evaluate call)."""

    def __init__(self, file_path: str, pipeline: Callable, **kwargs: Any):
        super().__init__(file_path, our_pipeline(our_config(pipeline, "PIPELINE")), **our_kwargs(kwargs, "DATASET"))

    def evaluate(self, results: Sequence[Sequence[Any]], output_dir: Optional[str] = None) -> Dict[str, float]:
        """PaddleVideo's validation hook: frame-mAP@0.5 of `results` (one entry per item) against this split's
        annotation files; untagged entries are taken in dataset order, as PaddleVideo does."""
        metric = AVAMetric(file_path=self.file_path, exclude_file=self.exclude_file, label_file=self.label_file,
                           custom_classes=self.custom_classes, log_interval=0, output_dir=output_dir)
        metric.world_size = 1  # PaddleVideo gathered the results already and evaluates on rank 0 alone
        metric.set_dataset_info(self.info, len(self))
        tagged = all(isinstance(entry, ItemDetections) for entry in results)
        index = [entry.item for entry in results] if tagged else list(range(len(results)))
        metric.update(0, {"index": np.asarray(index, np.int64)}, results)
        unscored = self.unscored
        if unscored:
            metric.add_unscored([self.info[i]["img_key"] for i in unscored])
        return {MAP_KEY: float(metric.accumulate()[MAP_KEY])}


ADAPTERS: Dict[str, Dict[str, type]] = {
    "DETECTORS": {"FastRCNN": PaddleVideoFastRCNN},
    "DATASETS": {"AVADataset": PaddleVideoAVADataset},
}
