"""Evaluation of an action detector (AVA frame-mAP): validation during training and `paddlevideo test`.

The detector's `test_step` gives each keyframe's per-class boxes; `AVAMetric` matches them to the annotation CSV
named by `METRIC.file_path` and writes the detections in AVA's result format. Keyframes whose clip could not be
read are listed by the dataset and still count their ground truth as missed.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Mapping, Optional

from .distributed import gather_lists
from .logging import Progress

QUIET_METRIC = 0


def is_detector(model: Any) -> bool:
    """Whether `model` scores boxes per keyframe (AVA) rather than classes per video."""
    return getattr(model, "task", "recognition") == "detection"


def build_detection_metric(metric_cfg: Mapping[str, Any], loader: Any, *, output_dir: Optional[str] = None) -> Any:
    """The METRIC section's AVAMetric, told which keyframe each dataset index is."""
    from ..metrics import build_metric

    dataset = getattr(loader, "dataset", None)
    size = len(dataset) if dataset is not None else None
    extra = {"data_size": size, "batch_size": getattr(loader, "batch_size", 1), "log_interval": QUIET_METRIC}
    if output_dir is not None:
        extra["output_dir"] = output_dir
    metric = build_metric({**dict(metric_cfg), **extra})
    if dataset is not None:
        metric.set_dataset_info(dataset.info, size)
    return metric


def evaluate_detections(model: Any, loader: Any, metric: Any, *, mode: str = "valid",
                        log: Optional[logging.Logger] = None, progress_every: Optional[int] = None) -> Dict[str, Any]:
    """Frame-mAP of `model` over `loader` (one keyframe clip per item, any batch size)."""
    import paddle

    log = log or logging.getLogger("paddlevideo_slowfast")
    was_training = model.training
    model.eval()
    try:
        total = len(loader)
    except TypeError:
        total = None
    progress = Progress(total, mode, every=progress_every, log=log)
    with paddle.no_grad():
        for i, batch in enumerate(loader):
            metric.update(i, batch, model.test_step(batch))
            progress.step()
    progress.close()
    dataset = getattr(loader, "dataset", None)
    unscored = gather_lists(getattr(dataset, "unscored", None) or [])  # clips no rank could decode
    if unscored:
        metric.add_unscored([dataset.info[int(i)]["img_key"] for i in sorted(set(unscored))])
    result = metric.accumulate()
    if was_training:
        model.train()
    log.info("%s: mAP@0.5IOU %.4f over %d keyframes (%d with ground truth but no detection)", mode,
             result["mAP@0.5IOU"], result.get("keyframes", 0), result.get("missed_keyframes", 0))
    return result
