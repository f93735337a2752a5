"""`AVAMetric` (PaddleVideo's name and keys): collects the detector's per-keyframe detections and scores them with
the AVA frame-mAP against the annotation CSV, writing the detections in AVA's result format beside the report.

Each `update` takes PaddleVideo's 14-entry batch (entry 8 is each clip's record index) and `test_step`'s output, one
entry per clip: `num_classes - 1` arrays [n, 5] (x1, y1, x2, y2 normalised, score), class i + 1 in position i.
Index -> (video_id, timestamp) comes from `set_dataset_info(dataset.info, len(dataset))` (PaddleVideo's call) or
a callable. A repeated index (the distributed sampler's padding) is counted once; without an index the clips are
taken in dataset order, as PaddleVideo does.
"""
from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ...errors import ConfigError, SlowFastError
from ...registry import METRICS
from .frame_map import FrameMAP, frame_map
from .report import write_report
from .results_csv import DECIMALS, rounded, write_results
from .table import BoxTable

log = logging.getLogger(__name__)

INDEX_ENTRY = 8                     # position of the record index in PaddleVideo's AVA batch list
INDEX_KEYS = ("idx", "index")
KeyOf = Callable[[int], Tuple[str, int]]


def _numpy(value: Any) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def _world_size() -> int:
    """Processes of a running paddle.distributed job; 1 (and no Paddle import) when Paddle is not even loaded."""
    if "paddle" not in sys.modules:
        return 1
    import paddle.distributed as dist

    return dist.get_world_size() if dist.is_initialized() else 1


def _detections(value: Any, batch_id: int) -> np.ndarray:
    """One class's [n, 5] detections (x1, y1, x2, y2, score) as float64."""
    array = _numpy(value).astype(np.float64)
    if array.size == 0:
        return array.reshape(0, 5)
    if array.ndim != 2 or array.shape[1] != 5:
        raise SlowFastError(f"AVAMetric: batch {batch_id} has a detection array of shape {list(array.shape)}, "
                            "expected [n, 5] (x1, y1, x2, y2, score) per class")
    return array


def _class_ids(custom_classes: Any) -> Optional[List[int]]:
    """Action id of each output position (mmaction2's `custom_classes`, a leading background 0 dropped), or None
    for positions i -> i + 1; an integer (PaddleVideo's ava.yaml writes 81, the class count) maps nothing."""
    if custom_classes is None or isinstance(custom_classes, (int, np.integer)):
        return None
    ids = [int(c) for c in custom_classes]
    return ids[1:] if ids and ids[0] == 0 else ids


@METRICS.register()
class AVAMetric:
    """AVA frame-mAP@`iou` of the collected detections against `file_path` over `label_file`'s classes, without the
    keyframes of `exclude_file`; `max_per_frame` caps each keyframe's detections as the official script does (50),
    PaddleVideo does not (None, the default)."""

    def __init__(self, data_size: Optional[int] = None, batch_size: Optional[int] = None,
                 file_path: Optional[str] = None, exclude_file: Optional[str] = None,
                 label_file: Optional[str] = None, custom_classes: Union[None, int, Sequence[int]] = None,
                 log_interval: int = 1, iou: float = 0.5, max_per_frame: Optional[int] = None,
                 output_dir: Optional[str] = None):
        for key, value in (("file_path", file_path), ("label_file", label_file)):
            if not value:
                raise ConfigError("AVAMetric needs the AVA annotation files", key=f"METRIC.{key}",
                                  expected="a path (e.g. ava_val_v2.1.csv, ava_action_list_v2.1_*.pbtxt)")
        self.data_size, self.batch_size = data_size, batch_size
        self.file_path, self.exclude_file, self.label_file = file_path, exclude_file or None, label_file
        self.custom_classes = custom_classes
        self.class_ids = _class_ids(custom_classes)
        self.log_interval = max(0, int(log_interval or 0))
        self.iou, self.max_per_frame = float(iou), max_per_frame
        self.output_dir = output_dir
        self.key_of: Optional[KeyOf] = None
        self.world_size: Optional[int] = None  # asked at the first update, when paddle.distributed is set up
        self.reset()

    def reset(self) -> None:
        """Forget the collected detections (a new evaluation pass)."""
        self.clips: Dict[int, List[np.ndarray]] = {}
        self.next_index = 0
        self.dropped: List[str] = []
        self.result: Optional[FrameMAP] = None
        self.detections: Optional[BoxTable] = None

    def set_dataset_info(self, info: Union[Sequence[Mapping[str, Any]], KeyOf], dataset_len: Optional[int] = None
                         ) -> None:
        """Where an index points: PaddleVideo's `dataset.info` (dicts with video_id, timestamp) or a callable."""
        if callable(info):
            self.key_of = info
        else:
            self.key_of = lambda i: (str(info[i]["video_id"]), int(info[i]["timestamp"]))
        if dataset_len is not None:
            self.data_size = int(dataset_len)

    # --- collecting ---------------------------------------------------------------------------------------
    def update(self, batch_id: int, data: Any, outputs: Sequence[Sequence[Any]]) -> None:
        """Add one batch's detections; every rank must call it the same number of times."""
        clips = [[_detections(a, batch_id) for a in clip] for clip in outputs]
        index = self._batch_index(data, len(clips))
        if self.world_size is None:
            self.world_size = _world_size()
        if self.world_size > 1:
            index, clips = self._gather(index, clips)
        for i, clip in zip(index.tolist(), clips):
            if self.data_size is not None and i >= self.data_size:
                continue
            self.clips.setdefault(int(i), clip)
        if self.log_interval and batch_id % self.log_interval == 0:
            total = (f"/{math.ceil(self.data_size / (self.batch_size * self.world_size))}"
                     if self.data_size and self.batch_size else "")
            log.info("[TEST] processing batch %d%s", batch_id, total)

    def _batch_index(self, data: Any, count: int) -> np.ndarray:
        index = None
        if isinstance(data, Mapping):
            index = next((data[k] for k in INDEX_KEYS if k in data), None)
        elif isinstance(data, (list, tuple)) and len(data) > INDEX_ENTRY:
            index = data[INDEX_ENTRY]
        if index is None:
            index = np.arange(self.next_index, self.next_index + count)
            self.next_index += count
        index = _numpy(index).astype(np.int64).reshape(-1)
        if len(index) != count:
            raise SlowFastError(f"AVAMetric: the batch has {len(index)} indices for {count} clips of detections")
        return index

    def _gather(self, index: np.ndarray, clips: List[List[np.ndarray]]) -> Tuple[np.ndarray, List[List[np.ndarray]]]:
        import paddle.distributed as dist

        parts: List[Tuple[np.ndarray, List[List[np.ndarray]]]] = []
        dist.all_gather_object(parts, (index, clips))
        return np.concatenate([p[0] for p in parts]), [c for p in parts for c in p[1]]

    def add_unscored(self, names: Sequence[str]) -> None:
        """Keyframes the loader could not deliver: listed in the report (their ground truth counts as missed)."""
        self.dropped.extend(str(n) for n in names)

    # --- results ------------------------------------------------------------------------------------------
    def detection_table(self) -> BoxTable:
        """The collected detections as rows, rounded as the result CSV writes them (so the CSV scores the same)."""
        if self.key_of is None and self.clips:
            raise SlowFastError("AVAMetric: call set_dataset_info(dataset.info, len(dataset)) before accumulate(), "
                                "to map record indices to (video_id, timestamp)")
        videos, stamps, rows, actions, sizes = [], [], [], [], []
        for i in sorted(self.clips):
            clip = self.clips[i]
            ids = self.class_ids or list(range(1, len(clip) + 1))
            if len(ids) != len(clip):
                raise SlowFastError(f"AVAMetric: record {i} has detections for {len(clip)} classes, "
                                    f"METRIC.custom_classes names {len(ids)}")
            counts = [len(a) for a in clip]
            video, stamp = self.key_of(i)
            videos.append(video)
            stamps.append(stamp)
            sizes.append(sum(counts))
            rows.extend(clip)
            actions.append(np.repeat(np.asarray(ids, dtype=np.int64), counts))
        if not sum(sizes):
            return BoxTable.empty()
        rows = np.concatenate(rows)                                          # [N, 5] x1, y1, x2, y2, score
        table = BoxTable(np.repeat(np.asarray(videos, dtype=str), sizes),
                         np.repeat(np.asarray(stamps, dtype=np.int64), sizes), rows[:, :4], np.concatenate(actions),
                         rows[:, 4])
        return rounded(table, DECIMALS)

    def evaluate(self) -> FrameMAP:
        """Read the annotation files and score the collected detections."""
        from ...data.ava.annotations import read_annotations, read_excluded, read_label_map

        labels = read_label_map(self.label_file)
        if self.class_ids is not None:
            unknown = sorted(set(self.class_ids) - set(labels))
            if unknown:
                raise ConfigError(f"custom classes {unknown} are not in the label map", key="METRIC.custom_classes",
                                  file=str(self.label_file), expected="ids of the label map")
            labels = {k: v for k, v in labels.items() if k in set(self.class_ids)}
        annotations = read_annotations(self.file_path)
        if annotations.problems:
            log.warning("%s: %d ground-truth rows skipped, first: %s", self.file_path, len(annotations.problems),
                        annotations.problems[0])
        excluded = read_excluded(self.exclude_file) if self.exclude_file else set()
        self.detections = self.detection_table()
        return frame_map(annotations.records, self.detections, labels, excluded, iou=self.iou,
                         max_per_frame=self.max_per_frame)

    def accumulate(self) -> Dict[str, Any]:
        """{"mAP@0.5IOU": mAP, "per_class": {action_id: AP or None}, ...}; writes the report when output_dir is set."""
        self.result = result = self.evaluate()
        log.info("[TEST] finished: %s=%.4f over %d classes with ground truth, %d keyframes (%d without a detection)",
                 result.key, result.mean_ap, sum(not math.isnan(c.ap) for c in result.per_class.values()),
                 result.frames, len(result.missed_frames))
        if self.output_dir:
            self.save_report(self.output_dir)
        return {result.key: result.mean_ap,
                "per_class": {k: None if math.isnan(c.ap) else c.ap for k, c in result.per_class.items()},
                "keyframes": result.frames, "missed_keyframes": len(result.missed_frames),
                "detections": len(self.detections), "unscored": len(self.dropped)}

    @property
    def unscored_names(self) -> List[str]:
        """Keyframes not delivered, then keyframes with ground truth but no detection (`video,0902`)."""
        missed = [f"{v},{t:04d}" for v, t in self.result.missed_frames] if self.result else []
        return self.dropped + missed

    def save_report(self, folder: Union[str, Path]) -> Dict[str, Path]:
        """detections.csv (AVA result format), per_class_ap.csv, per_class_ap.txt (and missed_keyframes.txt)."""
        if self.result is None:
            self.accumulate()
        folder = Path(folder)
        paths = write_report(folder, self.result)
        paths["detections_csv"] = write_results(folder / "detections.csv", self.detections)
        if self.unscored_names:
            paths["missed"] = folder / "missed_keyframes.txt"
            paths["missed"].write_text("".join(f"{n}\n" for n in self.unscored_names), encoding="utf-8")
        return paths
