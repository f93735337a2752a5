"""PaddleVideo's metric interface over per-video scores: `update(batch_id, data, outputs)` for each batch,
`accumulate()` at the end, plus `save_report(folder)` for per-class accuracy and the confusion matrix.

A batch is PaddleVideo's list (`[inputs..., label]` or `[inputs..., label, index]`, told apart by dtype:
inputs are float, label and index integer) or a dict with `label` and optional `index` (or `clip_index`,
`video_index`), `scored` (bool per item) and `path`.
`outputs` are scores [B, C] (one view per item) or [B, V, C] (all V views of each video in one item); they
are turned into probabilities (softmax unless they already are) and averaged over each video's views.
Labels < 0 or `scored == False` mark videos that could not be read: they are excluded and counted.
With several processes every update is all-gathered, so each rank ends with the whole test set.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np

from ..errors import SlowFastError
from .accuracy import confusion_matrix, is_probability, per_class_accuracy, softmax, topk_hits
from .html_report import write_html_report
from .report import read_label_names, write_report

log = logging.getLogger(__name__)

LABEL_KEYS = ("label", "labels")
INDEX_KEYS = ("index", "clip_index", "video_index")
SCORED_KEYS = ("scored", "valid")
NAME_KEYS = ("path", "paths", "filename")


@dataclass
class VideoScores:
    """The views received so far for one video: summed probabilities, view ids, label, readability."""

    scores: np.ndarray
    label: int
    scored: bool
    name: str
    views: Set[int] = field(default_factory=set)


def _numpy(value: Any) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def _first(data: Mapping[str, Any], keys: Sequence[str]) -> Any:
    return next((data[k] for k in keys if k in data), None)


def _is_integer(value: Any) -> bool:
    return np.issubdtype(_numpy(value).dtype, np.integer)


def _trailing_labels(data: Sequence[Any]) -> Tuple[Any, Any]:
    """(labels, index) of a list batch `[inputs..., label]` or `[inputs..., label, index]`: the integer
    entries at its end (inputs are float), as PaddleVideo's SlowFast batches `[slow, fast, label, clip_idx]`."""
    if len(data) >= 3 and _is_integer(data[-1]) and _is_integer(data[-2]):
        return data[-2], data[-1]
    if len(data) >= 2 and _is_integer(data[-1]):
        return data[-1], None
    return None, None


def _world_size() -> int:
    import paddle.distributed as dist

    return dist.get_world_size() if dist.is_initialized() else 1


class BaseMetric:
    """Collects per-video probabilities; subclasses say where labels and indices sit and what an index means."""

    clips_per_index: int = 1              # a flat index i names video i // clips_per_index, view i % it
    expected_views: Optional[int] = None  # views a complete video has; others are counted as incomplete

    def __init__(self, data_size: Optional[int] = None, batch_size: Optional[int] = None, log_interval: int = 1,
                 num_classes: Optional[int] = None, topk: Sequence[int] = (1, 5),
                 label_names: Union[None, str, Path, Sequence[str]] = None, softmax: Optional[bool] = None):
        self.data_size, self.batch_size = data_size, batch_size
        self.log_interval = max(0, int(log_interval or 0))  # 0: no per-batch line (the evaluator shows progress)
        self.num_classes = int(num_classes) if num_classes else None
        self.topk = [int(k) for k in topk]
        if isinstance(label_names, (str, Path)):
            label_names = read_label_names(label_names)
        self.label_names = list(label_names) if label_names else None
        self.apply_softmax = softmax
        self.world_size = _world_size()
        self.reset()

    def reset(self) -> None:
        """Forget everything seen (a new evaluation pass)."""
        self.videos: Dict[int, VideoScores] = {}
        self.dropped: List[str] = []
        self.rest = self.data_size
        self.next_id = 0
        self.result: Optional[Dict[str, Any]] = None
        self.confusion: Optional[np.ndarray] = None

    # --- collecting ---------------------------------------------------------------------------------------
    def update(self, batch_id: int, data: Any, outputs: Any) -> None:
        """Add one batch (PaddleVideo's signature); every rank must call it the same number of times."""
        batch = self.parse_batch(data, outputs)
        if self.world_size > 1:
            batch = self._gather(batch)
        if self.rest is not None:  # DistributedBatchSampler pads the last batches with repeated items
            keep = max(0, min(len(batch["labels"]), self.rest))
            batch = {k: None if v is None else v[:keep] for k, v in batch.items()}
            self.rest -= keep
        self.add(batch["scores"], batch["labels"], index=batch["index"], scored=batch["scored"],
                 names=batch["names"])
        if self.log_interval and batch_id % self.log_interval == 0:
            total = (f"/{self.data_size // (self.batch_size * self.world_size)}"
                     if self.data_size and self.batch_size else "")
            log.info("[TEST] processing batch %d%s", batch_id, total)

    def parse_batch(self, data: Any, outputs: Any) -> Dict[str, Any]:
        """{scores, labels, index, scored, names} as numpy arrays/lists from a list or dict batch."""
        scores = _numpy(outputs).astype(np.float64)
        if isinstance(data, Mapping):
            labels = _first(data, LABEL_KEYS)
            index, scored, names = (_first(data, INDEX_KEYS), _first(data, SCORED_KEYS), _first(data, NAME_KEYS))
        else:
            labels, index = _trailing_labels(data)
            scored = names = None
        if labels is None:
            raise SlowFastError(f"{type(self).__name__}: the batch carries no labels (dict keys "
                                f"{', '.join(LABEL_KEYS)}, or an integer entry at the end of a list batch)")
        count = scores.shape[0]
        return {"scores": scores, "labels": _numpy(labels).astype(np.int64).reshape(count),
                "index": None if index is None else _numpy(index).astype(np.int64).reshape(count),
                "scored": None if scored is None else _numpy(scored).astype(bool).reshape(count),
                "names": None if names is None else [str(n) for n in names]}

    def _gather(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        """Concatenate every rank's batch in rank order (which is dataset order under DistributedBatchSampler)."""
        import paddle.distributed as dist

        parts: List[Dict[str, Any]] = []
        dist.all_gather_object(parts, batch)
        merged: Dict[str, Any] = {}
        for key in batch:
            values = [p[key] for p in parts]
            if any(v is None for v in values):
                merged[key] = None
            elif key == "names":
                merged[key] = [n for v in values for n in v]
            else:
                merged[key] = np.concatenate(values, axis=0)
        return merged

    def add(self, scores: np.ndarray, labels: np.ndarray, *, index: Optional[np.ndarray] = None,
            scored: Optional[np.ndarray] = None, names: Optional[Sequence[str]] = None) -> None:
        """Add items directly: scores [N, C] (one view each) or [N, V, C]; index as `update` documents."""
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim == 2:
            scores = scores[:, None, :]
        if scores.ndim != 3:
            raise SlowFastError(f"{type(self).__name__}: scores must be [N, C] or [N, V, C], got {scores.shape}")
        if self.num_classes and scores.shape[-1] != self.num_classes:
            raise SlowFastError(f"{type(self).__name__}: scores have {scores.shape[-1]} classes, "
                                f"METRIC.num_classes is {self.num_classes}")
        if self.apply_softmax or (self.apply_softmax is None and not is_probability(scores)):
            scores = softmax(scores)
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        flat = index is not None and scores.shape[1] == 1 and self.clips_per_index > 1
        for i in range(scores.shape[0]):
            if index is None:
                video, views = self.next_id, range(scores.shape[1])
                self.next_id += 1
            elif flat:
                video, views = int(index[i]) // self.clips_per_index, [int(index[i]) % self.clips_per_index]
            else:
                video, views = int(index[i]), range(scores.shape[1])
            ok = labels[i] >= 0 and (scored is None or bool(scored[i]))
            name = names[i] if names is not None else f"video {video}"
            self._add_views(video, views, scores[i], int(labels[i]), ok, name)

    def _add_views(self, video: int, views: Iterable[int], scores: np.ndarray, label: int, ok: bool,
                   name: str) -> None:
        entry = self.videos.get(video)
        if entry is None:
            entry = self.videos[video] = VideoScores(np.zeros(scores.shape[-1]), label, ok, name)
        elif ok and entry.scored and label != entry.label:
            raise SlowFastError(f"{name}: its views carry different labels ({entry.label} and {label})")
        entry.scored = entry.scored and ok
        if entry.label < 0:
            entry.label = label
        for view, row in zip(views, scores):
            if view not in entry.views:  # a repeated view is padding from the distributed sampler
                entry.views.add(view)
                entry.scores += row

    def add_unscored(self, names: Iterable[str]) -> None:
        """Videos the loader could not deliver at all: reported and counted, never scored."""
        self.dropped.extend(str(n) for n in names)

    # --- results ------------------------------------------------------------------------------------------
    @property
    def unscored_names(self) -> List[str]:
        return [v.name for v in self.videos.values() if not v.scored] + self.dropped

    def accumulate(self) -> Dict[str, Any]:
        """Top-k accuracy over the scored videos, with the unscored count beside it (also logged)."""
        scored = [v for v in self.videos.values() if v.scored]
        unscored = len(self.videos) - len(scored) + len(self.dropped)
        num_classes = self.num_classes or (next(iter(self.videos.values())).scores.shape[0] if self.videos else 0)
        probs = np.stack([v.scores / len(v.views) for v in scored]) if scored else np.zeros((0, num_classes))
        labels = np.array([v.label for v in scored], dtype=np.int64)
        if labels.size and labels.max() >= num_classes:
            raise SlowFastError(f"label {labels.max()} out of range for {num_classes} classes")
        result: Dict[str, Any] = {}
        for k in self.topk:
            result[f"top{k}"] = float(topk_hits(probs, labels, k).mean()) if labels.size else 0.0
        self.confusion = confusion_matrix(labels, probs.argmax(axis=1) if labels.size else labels, num_classes)
        per_class = per_class_accuracy(self.confusion)[2]
        result["mean_class_accuracy"] = float(np.nanmean(per_class)) if labels.size else 0.0
        result["scored"], result["unscored"] = len(scored), unscored
        if self.expected_views:
            result["incomplete"] = sum(len(v.views) != self.expected_views for v in self.videos.values())
        self.result = result
        shown = ", ".join(f"top{k}={result[f'top{k}']:.4f}" for k in self.topk)
        log.info("[TEST] finished: %s over %d scored videos (%d unscored%s)", shown, len(scored), unscored,
                 f", {result['incomplete']} with views missing" if result.get("incomplete") else "")
        return result

    def save_report(self, folder: Union[str, Path]) -> Dict[str, Path]:
        """Per-class accuracy and confusion matrix (CSV + PNG), the unscored list and report.html (with strips of
        the misclassified videos), written into `folder`."""
        if self.confusion is None:
            self.accumulate()
        top1 = self.result.get("top1") if self.result else None
        title = f"{type(self).__name__}: top-1 {top1:.4f} over {self.result['scored']} videos" \
            if top1 is not None else ""
        paths = write_report(folder, self.confusion, self.label_names, self.unscored_names, title)
        paths["html"] = write_html_report(folder, self.confusion, list(self.videos.values()), self.result,
                                          self.label_names, self.unscored_names, title=title or "paddlevideo test")
        return paths
