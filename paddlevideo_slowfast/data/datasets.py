"""`SFVideoDataset`: PaddleVideo's SlowFast video dataset, with multi-view test decoding each video once and bad
videos that never crash a run nor vanish silently.

The list file is PaddleVideo's: one `relative/path.mp4 label` per line, paths joined to `data_prefix`.
`label_file` (optional) names the classes: line i is class i's name, or `i name`.

What an item is (`dataset[i]`, or `dataset[(i, epoch)]` as the loader's sampler asks; multigrid's sampler asks
`dataset[(i, epoch, short_cycle_idx)]`, and the stages read `results['short_cycle_idx']` as PaddleVideo's do):
- train: `[slow (C, T/alpha, H, W) float32, fast (C, T, H, W) float32, label (1,) int64]`, PaddleVideo's triple.
  A video that cannot be read is logged and counted, and another item is drawn in its place (the only place
  a substitute is acceptable), up to `num_retries` reads.
- valid: `[slow, fast, label, valid (1,) bool]`; never substituted.
- test: `[slow (V, C, T/alpha, H, W), fast (V, C, T, H, W), label (1,) int64, index (1,) int64, valid (1,) bool]`,
  all V = num_ensemble_views * num_spatial_crops views of one video (decode_once, the default), so a test batch
  is a batch of videos and the metric averages the softmax over V per video. With `decode_once: False` the items
  are PaddleVideo's, one view each (`index` is then the view's item index), plus `valid`.
`valid` False marks an unscored item: its video could not be read, its arrays are zeros of the right shapes
(batches keep their shapes), and the metric must leave it out and list it. The dataset keeps the record:
`bad_videos` [(path, reason)], `bad_count`, `unscored` (item indices), `substitutions`, from every worker.

Randomness: each item draws from its own generator seeded by (seed, epoch, index, attempt), so crops depend on
neither the worker that made them nor the number of workers, and a resumed epoch repeats exactly.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import ConfigError, VideoDecodeError
from ..registry import DATASETS
from .bad_videos import BadVideo, BadVideoLog, RecordsBadVideos
from .compose import Compose, build_pipeline
from .multiview import decode_once_views
from .rng import item_rng

MODES = ("train", "valid", "test")


def read_list(file_path: str, data_prefix: Optional[str] = None, key: Optional[str] = None) -> List[Tuple[str, int]]:
    """(path, label) of each line `relative/path.mp4 label` of a PaddleVideo list file; paths joined to the prefix.
    `key` names the config key that gave `file_path`, for the error message."""
    try:
        lines = Path(file_path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the video list: {exc.strerror}", file=str(file_path), key=key,
                          expected="a text file of 'relative/path.mp4 label' lines") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.strip().rsplit(None, 1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ConfigError(f"line {number} is not 'path label': {line.strip()[:120]!r}", file=str(file_path),
                              expected="relative/path.mp4 <integer label>")
        path = os.path.join(data_prefix, parts[0]) if data_prefix else parts[0]
        items.append((path, int(parts[1])))
    return items


def read_label_names(label_file: str, *, key: Optional[str] = None, config_file: Optional[str] = None) -> List[str]:
    """Class names, line i = class i, written either `name` or `i name`; an unreadable file is a ConfigError
    naming the path, the config `key` that gave it and the `config_file` that set the key."""
    try:
        lines = [l.strip() for l in Path(label_file).read_text(encoding="utf-8").splitlines() if l.strip()]
    except OSError as exc:
        raise ConfigError(f"cannot read the label names {label_file}: {exc.strerror}", key=key,
                          file=config_file or (None if key else str(label_file))) from None
    names: Dict[int, str] = {}
    for position, line in enumerate(lines):
        head, _, rest = line.partition(" ")
        if head.isdigit() and rest.strip():
            names[int(head)] = rest.strip()
        else:
            names[position] = line
    return [names.get(i, str(i)) for i in range(max(names) + 1)] if names else []


@DATASETS.register()
class SFVideoDataset(RecordsBadVideos):
    """SlowFast video dataset over a PaddleVideo list file; see the module docstring for what an item holds."""

    def __init__(self, file_path: str, pipeline: Union[Compose, Mapping[str, Any], Callable],
                 data_prefix: Optional[str] = None, test_mode: bool = False, num_ensemble_views: int = 1,
                 num_spatial_crops: int = 1, num_retries: int = 10, num_samples_precise_bn: Optional[int] = None,
                 label_file: Optional[str] = None, mode: Optional[str] = None, backend: Optional[str] = None,
                 seed: int = 0, decode_once: bool = True):
        self.mode = mode or ("test" if test_mode else "train")
        if self.mode not in MODES:
            raise ConfigError(f"unknown dataset mode '{self.mode}'", key="mode", expected=" or ".join(MODES))
        self.test_mode = self.mode == "test"
        self.file_path = str(file_path)
        self.data_prefix = os.path.realpath(data_prefix) if data_prefix and os.path.isdir(data_prefix) \
            else data_prefix
        self.pipeline = pipeline if callable(pipeline) else build_pipeline(pipeline, where=f"PIPELINE.{self.mode}")
        self.num_ensemble_views = int(num_ensemble_views)
        self.num_spatial_crops = int(num_spatial_crops)
        self.num_retries = max(1, int(num_retries))
        self.num_samples_precise_bn = num_samples_precise_bn
        self.backend = backend
        self.seed = int(seed)
        self.epoch = 0
        self.decode_once = bool(decode_once) and self.test_mode
        self.label_names = read_label_names(label_file, key=f"DATASET.{self.mode}.label_file") \
            if label_file else None
        self.videos = read_list(self.file_path, self.data_prefix, key=f"DATASET.{self.mode}.file_path")
        self.info = self._expand(self.videos)
        self.bad = BadVideoLog()
        if self.decode_once and not isinstance(self.pipeline, Compose):
            raise ConfigError("decode-once multi-view test needs a pipeline built from PIPELINE.test",
                              key="DATASET.test.decode_once", expected="False for a custom pipeline callable")

    def _expand(self, videos: Sequence[Tuple[str, int]]) -> List[Dict[str, Any]]:
        """One info dict per item: per video, or per view for PaddleVideo-style (decode_once False) test."""
        views = 1 if not self.test_mode or self.decode_once else self.num_ensemble_views
        crops = 1 if not self.test_mode or self.decode_once else self.num_spatial_crops
        info = []
        for path, label in videos:
            for t in range(views):
                for s in range(crops):
                    info.append(dict(filename=path, labels=label, temporal_sample_index=t,
                                     spatial_sample_index=s, temporal_num_clips=self.num_ensemble_views,
                                     spatial_num_clips=self.num_spatial_crops))
        return info

    def set_epoch(self, epoch: int) -> None:
        """The epoch plain integer indices belong to (the loader's sampler passes it with each index)."""
        self.epoch = int(epoch)

    def class_name(self, label: int) -> str:
        names = self.label_names or []
        return names[label] if 0 <= label < len(names) else str(label)

    # ---- items ------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        if self.num_samples_precise_bn:
            return min(int(self.num_samples_precise_bn), len(self.info))
        return len(self.info)

    def __getitem__(self, key: Union[int, Tuple[int, int]]) -> List[np.ndarray]:
        index, epoch = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (int(key), self.epoch)
        cycle = int(key[2]) if isinstance(key, (tuple, list)) and len(key) > 2 else None
        if self.num_samples_precise_bn:
            index = int(self._subset(epoch)[index])
        if self.mode == "train":
            return self._train_item(index, epoch, cycle)
        return self._eval_item(index, epoch)

    def _subset(self, epoch: int) -> np.ndarray:
        """PaddleVideo reshuffles the PreciseBN subset on every pass; here it is drawn from (seed, epoch)."""
        if getattr(self, "_subset_of", (None,))[0] != epoch:
            self._subset_of = (epoch, np.random.default_rng([self.seed, epoch, 0xB4]).permutation(len(self.info)))
        return self._subset_of[1]

    def _results(self, index: int, epoch: int, attempt: int, cycle: Optional[int] = None) -> Dict[str, Any]:
        results = dict(self.info[index])
        results["rng"] = item_rng(self.seed, epoch, index, attempt)
        if cycle is not None:
            results["short_cycle_idx"] = cycle
        if self.backend:
            results["backend"] = self.backend
        return results

    def _train_item(self, index: int, epoch: int, cycle: Optional[int] = None) -> List[np.ndarray]:
        tried = index
        for attempt in range(self.num_retries):
            results = self._results(tried, epoch, attempt, cycle)
            try:
                results = self.pipeline(results)
            except VideoDecodeError as exc:
                substitute = int(np.random.default_rng([self.seed, epoch, index, attempt, 1]).integers(len(self.info)))
                self.bad.record(BadVideo(tried, exc.path, exc.reason, self.mode, substitute))
                tried = substitute
                continue
            slow, fast = results["imgs"]
            return [slow, fast, np.array([results["labels"]], np.int64)]
        raise VideoDecodeError(self.info[index]["filename"], f"{self.num_retries} videos in a row could not be read "
                               "while filling this item; check the data with `paddlevideo scan-data`")

    def _eval_item(self, index: int, epoch: int) -> List[np.ndarray]:
        results = self._results(index, epoch, 0)
        label = results["labels"]
        try:
            if self.decode_once:
                slow, fast = decode_once_views(self.pipeline, results, self.num_ensemble_views,
                                               self.num_spatial_crops)
            else:
                results = self.pipeline(results)
                slow, fast = results["imgs"]
                label = results["labels"]  # a flip may swap mirror-image classes
            valid = True
        except VideoDecodeError as exc:
            self.bad.record(BadVideo(index, exc.path, exc.reason, self.mode, None))
            slow, fast = self._placeholder()
            valid = False
        item = [slow, fast, np.array([label], np.int64)]
        if self.test_mode:
            item.append(np.array([index], np.int64))
        item.append(np.array([valid]))
        return item

    def _placeholder(self) -> Tuple[np.ndarray, np.ndarray]:
        """Zero arrays shaped like a real item, standing in for an unscored video."""
        shapes = self.pipeline.clip_shapes() if isinstance(self.pipeline, Compose) else None
        if shapes is None:
            raise ConfigError("cannot tell the clip shape for an unscored video's placeholder",
                              key=f"PIPELINE.{self.mode}", expected="a DecodeSampler, a MultiCrop and a PackOutput")
        slow, fast = shapes
        if self.decode_once:
            views = (self.num_ensemble_views * self.num_spatial_crops,)
            slow, fast = views + slow, views + fast
        return np.zeros(slow, np.float32), np.zeros(fast, np.float32)
