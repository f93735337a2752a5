"""Evaluation: single-clip validation during training and the multi-view test (`paddlevideo test`).

Items marked not valid (videos that could not be read) are never substituted: the metric lists them as
unscored and reports accuracy over the scored ones with the count beside it.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

from ..config import AttrDict, get
from ..runtime import output_folder, select_device
from .detection_eval import build_detection_metric, evaluate_detections, is_detector
from .logging import Progress

QUIET_METRIC = 0  # a metric's log_interval that silences its own per-batch line: Progress reports instead


def _label_names(loader: Any) -> Optional[Sequence[str]]:
    return getattr(getattr(loader, "dataset", None), "label_names", None)


def _paths(loader: Any, index: np.ndarray) -> list:
    info = getattr(getattr(loader, "dataset", None), "info", None)
    return [info[int(i)]["filename"] if info is not None else f"video {int(i)}" for i in index]


def _length(loader: Any) -> Optional[int]:
    try:
        return len(loader)
    except TypeError:  # an iterable dataset without a length
        return None


def validation_metric(loader: Any):
    """The metric `evaluate` uses by default: single-clip top-1/top-5 with the loader's class names (its confusion
    matrix is kept after the pass, for the run's VisualDL log)."""
    from ..metrics import CenterCropMetric

    return CenterCropMetric(label_names=_label_names(loader), log_interval=QUIET_METRIC)


def run_views(forward, slow, fast):
    """Probabilities [B, V, K] for clips [B, C, T, H, W] (V = 1) or all views of each video [B, V, C, T, H, W]."""
    if slow.ndim == 6:
        b, v = slow.shape[:2]
        probs = forward([slow.reshape([b * v, *slow.shape[2:]]), fast.reshape([b * v, *fast.shape[2:]])])
        return probs.reshape([b, v, -1])
    return forward([slow, fast]).unsqueeze(1)


def evaluate(model, loader, *, mode: str = "valid", metric=None, forward=None,
             log: Optional[logging.Logger] = None, progress_every: Optional[int] = None) -> Dict[str, Any]:
    """Top-1/top-5 (and the unscored count) of `model` over `loader`; `forward` defaults to the eval model.
    Progress: a bar on a terminal, else a line every `progress_every` batches (default a tenth) and the last."""
    import paddle

    log = log or logging.getLogger("paddlevideo_slowfast")
    was_training = model.training
    model.eval()
    metric = metric or validation_metric(loader)
    forward = forward or (lambda clips: model(clips, mode="test"))
    progress = Progress(_length(loader), mode, every=progress_every, log=log)
    with paddle.no_grad():
        for i, batch in enumerate(loader):
            slow, fast, label = batch[0], batch[1], batch[2]
            probs = run_views(forward, slow, fast)
            data: Dict[str, Any] = {"label": label.numpy().reshape(-1)}
            if mode == "test":
                data["index"] = batch[3].numpy().reshape(-1)
                data["path"] = _paths(loader, data["index"])
            if len(batch) > (4 if mode == "test" else 3):
                data["scored"] = batch[-1].numpy().reshape(-1)
            metric.update(i, data, probs.numpy())
            progress.step()
    progress.close()
    result = metric.accumulate()
    if was_training:
        model.train()
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k.startswith("top"))
    log.info("%s: %s over %d scored videos (%d unscored)", mode, shown, result.get("scored", 0),
             result.get("unscored", 0))
    return result


def test_model(cfg: AttrDict, weights: str, *, output: Optional[str] = None, accelerate: bool = True,
               log: Optional[logging.Logger] = None) -> Dict[str, Any]:
    """The multi-view test of `weights` on DATASET.test: top-1/top-5, per-class accuracy, confusion matrix."""
    from ..data import build_dataloader
    from ..interop.weights import load_weights
    from ..metrics import build_metric
    from ..modeling import build_model

    log = log or logging.getLogger("paddlevideo_slowfast")
    select_device(False)
    model = build_model(cfg.MODEL)
    load_weights(model, weights, allow_head_reinit=False)
    model.eval()
    loader = build_dataloader(cfg, "test", seed=int(cfg.get("seed", 0)))
    folder = Path(output) if output else output_folder(cfg) / "test"
    if is_detector(model):
        return _test_detector(cfg, model, loader, folder, log)
    metric_cfg = dict(get(cfg, "METRIC") or {"name": "MultiCropMetric"})
    metric_cfg.setdefault("label_names", _label_names(loader))
    every = metric_cfg.get("log_interval")  # PaddleVideo's per-batch line interval, now the progress lines'
    metric = build_metric({**metric_cfg, "log_interval": QUIET_METRIC})
    forward = None
    if accelerate:
        from ..deploy.eval_predictor import accelerate_for_eval

        fast = accelerate_for_eval(model)
        forward = lambda clips: fast(clips, mode="test")  # noqa: E731
    result = evaluate(model, loader, mode="test", metric=metric, forward=forward, log=log, progress_every=every)
    files = metric.save_report(folder)
    result["report"] = {k: str(v) for k, v in files.items()}
    result["unscored_videos"] = list(metric.unscored_names)
    return result


def _test_detector(cfg: AttrDict, model: Any, loader: Any, folder: Path, log: logging.Logger) -> Dict[str, Any]:
    """AVA frame-mAP of a detector on DATASET.test; detections (AVA's CSV result format) and per-class AP in `folder`."""
    metric_cfg = get(cfg, "METRIC") or {}
    metric = build_detection_metric(metric_cfg, loader)
    every = metric_cfg.get("log_interval")
    result = evaluate_detections(model, loader, metric, mode="test", log=log, progress_every=every)
    files = metric.save_report(folder)
    result["report"] = {k: str(v) for k, v in files.items()}
    result["unscored_videos"] = list(getattr(metric, "unscored_names", []))
    return result
