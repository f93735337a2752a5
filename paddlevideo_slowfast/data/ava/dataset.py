"""`AVADataset`: AVA keyframes with their person boxes, actions and proposals, from frames or straight from videos.

Config keys are PaddleVideo's (file_path, exclude_file, proposal_file, label_file, data_prefix, suffix,
person_det_score_thr, num_max_proposals, timestamp_start, timestamp_end, fps, num_classes, test_mode) plus:
- `custom_classes`: the action ids to learn (labels become 1 + their position; other rows are left out, counted);
- `source`: `frames` (PaddleVideo's `<data_prefix>/<video_id>/img_{:05}.jpg`), `video` (`<data_prefix>/
  <video_id>.mp4|mkv|webm|...`, decoding only each clip) or unset (per video: the folder if any, else the file);
- `video_start`: the annotation second at which the video files begin (default `timestamp_start`: the 15-minute
  cuts PaddleVideo extracts frames from; 0 for the full movies);
- `padding_len` (128, PaddleVideo's): rows every box array is padded to; keyframes with more proposals keep
  the best-scoring `padding_len`, counted;
- `no_proposal`: `fallback` (PaddleVideo: a keyframe missing from the proposals gets the whole frame) or `skip`
  (keyframes with no proposal reaching the threshold are left out; evaluation still counts their ground truth).

An item (`dataset[i]` or `dataset[(i, epoch)]`) is PaddleVideo's 14-entry list: slow, fast, proposals [P, 4],
gt_bboxes [P, 4], gt_labels [P, num_classes], scores [P], entity_ids [P] (float32, zero-padded to P; boxes in
pixels of the transformed clip), img_shape [2] int64, idx, and the five true lengths. `info[idx]` holds
video_id, timestamp and img_key.

Nothing is lost silently; each loss is logged and kept: `problems` (bad CSV lines as "file:line: why"),
`missing_videos` ((video_id, why, keyframes)), `no_proposal_keyframes` (img_keys that got the whole-frame
proposal), `below_threshold_keyframes` (no proposal reached person_det_score_thr: PaddleVideo keeps the best),
`skipped` (counts per reason), and while running `bad_videos`/`unscored` (clips that failed to decode; training
draws another item, evaluation returns zeros with all lengths 0) and `item_counts()` (boxes crops dropped ...).
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ...errors import ConfigError, VideoDecodeError
from ...registry import DATASETS
from ..bad_videos import BadVideo, RecordsBadVideos
from ..compose import Compose, build_pipeline
from ..rng import item_rng
from ..sampling import DEFAULT_BACKEND
from .annotations import proposal_key, read_annotations, read_excluded, read_proposals
from .decode import RawFrameDecode, boxes_to_pixels, read_frame_clip, read_video_clip
from .item_log import AVAItemLog
from .keyframes import Keyframe, group_keyframes, select_proposals
from .sources import SOURCES, SourceFinder, VideoSource

logger = logging.getLogger("paddlevideo_slowfast.data")
MODES = ("train", "valid", "test")
NO_PROPOSAL = ("fallback", "skip")
SHOWN = 10  # problems logged one by one; the rest as a count


def pad_rows(array: np.ndarray, rows: int) -> np.ndarray:
    """`array` as float32 with zero rows appended up to `rows`."""
    out = np.zeros((rows,) + array.shape[1:], np.float32)
    out[:len(array)] = array
    return out


@DATASETS.register()
class AVADataset(RecordsBadVideos):
    """AVA spatio-temporal detection dataset; see the module docstring."""

    def __init__(self, file_path: str, pipeline: Union[Compose, Mapping[str, Any], Callable],
                 data_prefix: Optional[str] = None, exclude_file: Optional[str] = None,
                 label_file: Optional[str] = None, proposal_file: Optional[str] = None,
                 person_det_score_thr: float = 0.9, num_classes: Optional[int] = None,
                 num_max_proposals: int = 1000, timestamp_start: int = 900, timestamp_end: int = 1800,
                 suffix: Optional[str] = None, fps: int = 30, test_mode: bool = False,
                 custom_classes: Optional[Sequence[int]] = None, source: Optional[str] = None,
                 video_start: Optional[float] = None, padding_len: int = 128, no_proposal: str = "fallback",
                 num_retries: int = 10, mode: Optional[str] = None, backend: Optional[str] = None, seed: int = 0):
        self.mode = mode or ("test" if test_mode else "train")
        if self.mode not in MODES:
            raise ConfigError(f"unknown dataset mode '{self.mode}'", key="mode", expected=" or ".join(MODES))
        where = f"DATASET.{self.mode}"
        self.test_mode = bool(test_mode) or self.mode != "train"
        self._check(where, person_det_score_thr, timestamp_start, timestamp_end, fps, padding_len, no_proposal,
                    source, custom_classes)
        self.num_classes = self._num_classes(where, num_classes, custom_classes)
        self.file_path, self.exclude_file, self.label_file = str(file_path), exclude_file, label_file
        self.proposal_file, self.data_prefix, self.suffix = proposal_file, data_prefix, suffix
        self.person_det_score_thr, self.num_max_proposals = float(person_det_score_thr), int(num_max_proposals)
        self.timestamp_start, self.timestamp_end, self.fps = int(timestamp_start), int(timestamp_end), int(fps)
        self.custom_classes = list(custom_classes) if custom_classes is not None else None
        self.source = source
        self.video_start = float(timestamp_start if video_start is None else video_start)
        self.padding_len, self.no_proposal = int(padding_len), no_proposal
        self.num_retries, self.backend, self.seed, self.epoch = max(1, int(num_retries)), backend, int(seed), 0
        self.pipeline = pipeline if callable(pipeline) else build_pipeline(pipeline, where=f"PIPELINE.{self.mode}")
        self.bad = AVAItemLog()
        self.problems: List[str] = []
        self.skipped: Counter = Counter()
        self.missing_videos: List[Tuple[str, str, int]] = []
        self.no_proposal_keyframes: List[str] = []
        self.below_threshold_keyframes: List[str] = []
        self._last_shape: Optional[Tuple[int, int]] = None
        self.info = self._load()
        self._log_summary()

    # ---- configuration checks -------------------------------------------------------------------------------
    @staticmethod
    def _check(where: str, thr: float, start: int, end: int, fps: int, padding_len: int, no_proposal: str,
               source: Optional[str], custom_classes: Any) -> None:
        if not 0 <= float(thr) <= 1:
            raise ConfigError(f"person_det_score_thr {thr} outside [0, 1]", key=f"{where}.person_det_score_thr")
        if int(start) >= int(end):
            raise ConfigError(f"timestamp_start {start} >= timestamp_end {end}", key=f"{where}.timestamp_start")
        if int(fps) < 1:
            raise ConfigError(f"fps {fps} < 1", key=f"{where}.fps")
        if int(padding_len) < 1:
            raise ConfigError(f"padding_len {padding_len} < 1", key=f"{where}.padding_len")
        if no_proposal not in NO_PROPOSAL:
            raise ConfigError(f"no_proposal '{no_proposal}'", key=f"{where}.no_proposal",
                              expected=" or ".join(NO_PROPOSAL))
        if source is not None and source not in SOURCES:
            raise ConfigError(f"source '{source}'", key=f"{where}.source", expected="frames, video or unset")
        if custom_classes is not None and (isinstance(custom_classes, (str, int)) or
                                           not all(isinstance(c, int) and c >= 1 for c in custom_classes)):
            raise ConfigError(f"custom_classes {custom_classes!r}", key=f"{where}.custom_classes",
                              expected="a list of AVA action ids (integers >= 1)")

    @staticmethod
    def _num_classes(where: str, num_classes: Optional[int], custom_classes: Optional[Sequence[int]]) -> int:
        """81 for AVA, or 1 + len(custom_classes); both given must agree."""
        if custom_classes is None:
            return int(num_classes) if num_classes is not None else 81
        derived = len(custom_classes) + 1
        if num_classes is not None and int(num_classes) != derived:
            raise ConfigError(f"num_classes {num_classes} disagrees with custom_classes ({len(custom_classes)} "
                              f"classes + background = {derived})", key=f"{where}.num_classes",
                              expected=f"{derived}, or leave num_classes out")
        return derived

    # ---- loading --------------------------------------------------------------------------------------------
    def _load(self) -> List[Dict[str, Any]]:
        ann = read_annotations(self.file_path)
        self.problems.extend(ann.problems)
        self.skipped["bad_csv_lines"] += len(ann.problems)
        keyframes, problems, not_custom = group_keyframes(ann, self.num_classes, self.custom_classes)
        self.problems.extend(problems)
        self.skipped["action_out_of_range_rows"] += len(problems)
        self.skipped["rows_not_in_custom_classes"] += not_custom
        keyframes = self._in_range(keyframes)
        keyframes = self._not_excluded(keyframes)
        proposals = read_proposals(self.proposal_file) if self.proposal_file else None
        finder = SourceFinder(self.data_prefix, self.source, self.suffix)
        sources: Dict[str, Tuple[Optional[VideoSource], str]] = {}
        missing: Counter = Counter()
        info = []
        for kf in keyframes:
            if kf.video_id not in sources:
                sources[kf.video_id] = finder.find(kf.video_id)
            found = sources[kf.video_id][0]
            if found is None:
                missing[kf.video_id] += 1
                continue
            boxes = self._proposals(kf, proposals)
            if boxes is not None:
                info.append(self._info(kf, found, *boxes))
        self.missing_videos = [(video_id, sources[video_id][1], n) for video_id, n in missing.items()]
        self.skipped["keyframes_missing_video"] += sum(missing.values())
        return info

    def _in_range(self, keyframes: List[Keyframe]) -> List[Keyframe]:
        kept = [k for k in keyframes if self.timestamp_start <= k.timestamp <= self.timestamp_end]
        self.skipped["keyframes_outside_timestamps"] += len(keyframes) - len(kept)
        return kept

    def _not_excluded(self, keyframes: List[Keyframe]) -> List[Keyframe]:
        if not self.exclude_file:
            return keyframes
        problems: List[str] = []
        excluded = read_excluded(self.exclude_file, problems)
        self.problems.extend(problems)
        self.skipped["bad_excluded_lines"] += len(problems)
        kept = [k for k in keyframes if (k.video_id, k.timestamp) not in excluded]
        self.skipped["keyframes_excluded"] += len(keyframes) - len(kept)
        return kept

    def _proposals(self, kf: Keyframe, proposals: Optional[Dict[str, np.ndarray]]
                   ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(boxes, scores) the keyframe keeps, or None when `no_proposal: skip` leaves it out."""
        key = proposal_key(kf.video_id, kf.timestamp)
        if proposals is None:  # no detector boxes: the ground-truth boxes are the proposals
            return kf.gt_bboxes, np.ones(len(kf.gt_bboxes), np.float32)
        boxes, scores, status = select_proposals(proposals.get(key), self.person_det_score_thr,
                                                 self.num_max_proposals)
        if status != "ok" and self.no_proposal == "skip":
            self.skipped["keyframes_without_proposal"] += 1
            return None
        if status == "missing":
            self.no_proposal_keyframes.append(key)
        elif status == "below":
            self.below_threshold_keyframes.append(key)
        if len(boxes) > self.padding_len:
            best = np.argsort(-scores, kind="stable")[:self.padding_len]
            boxes, scores = boxes[np.sort(best)], scores[np.sort(best)]
            self.skipped["keyframes_proposals_capped"] += 1
        return boxes, scores

    def _info(self, kf: Keyframe, found: VideoSource, boxes: np.ndarray, scores: np.ndarray) -> Dict[str, Any]:
        gt = (kf.gt_bboxes, kf.gt_labels, kf.entity_ids)
        if len(kf.gt_bboxes) > self.padding_len:
            gt = tuple(a[:self.padding_len] for a in gt)
            self.skipped["keyframes_gt_capped"] += 1
        info = dict(video_id=kf.video_id, timestamp=kf.timestamp, img_key=proposal_key(kf.video_id, kf.timestamp),
                    shot_info=(0, (self.timestamp_end - self.timestamp_start) * self.fps), fps=self.fps,
                    gt_bboxes=gt[0], gt_labels=gt[1], entity_ids=gt[2], proposals=boxes, scores=scores)
        if found.kind == "frames":
            info.update(frame_dir=found.path, suffix=found.suffix, total_frames=found.total_frames)
        else:
            info.update(filename=found.path, video_offset=self.timestamp_start - self.video_start)
        return info

    def _log_summary(self) -> None:
        for problem in self.problems[:SHOWN]:
            logger.warning("skipped %s", problem)
        if len(self.problems) > SHOWN:
            logger.warning("... and %d more skipped lines (dataset.problems lists them all)",
                           len(self.problems) - SHOWN)
        for video_id, why, count in self.missing_videos[:SHOWN]:
            logger.warning("skipped video %s (%d keyframes): %s", video_id, count, why)
        if len(self.missing_videos) > SHOWN:
            logger.warning("... and %d more missing videos (dataset.missing_videos lists them all)",
                           len(self.missing_videos) - SHOWN)
        losses = {k: v for k, v in self.skipped.items() if v}
        losses.update(whole_frame_proposal=len(self.no_proposal_keyframes),
                      below_threshold=len(self.below_threshold_keyframes))
        logger.info("AVA %s (%s): %d keyframes of %d videos; %s", self.file_path, self.mode, len(self.info),
                    len({i["video_id"] for i in self.info}),
                    ", ".join(f"{k} {v}" for k, v in losses.items() if v) or "nothing skipped")

    # ---- what was lost while running (bad_videos, unscored, ... from RecordsBadVideos) ---------------------
    def item_counts(self) -> Dict[str, int]:
        """Per-item losses so far from every worker: dropped_gt, dropped_proposals, proposal_fallback,
        clips_without_gt."""
        return self.bad.totals()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    # ---- items ----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.info)

    def __getitem__(self, key: Union[int, Tuple[int, int]]) -> List[Any]:
        index, epoch = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (int(key), self.epoch)
        if self.mode == "train":
            index, results = self._train_results(index, epoch)
            return self._pack(results, index)
        try:
            results = self.pipeline(self._results(index, epoch, 0))
        except VideoDecodeError as exc:
            self.bad.record(BadVideo(index, exc.path, exc.reason, self.mode, None))
            return self._pack(self._placeholder(index, epoch), index, empty=True)
        return self._pack(results, index)

    def _results(self, index: int, epoch: int, attempt: int) -> Dict[str, Any]:
        results = dict(self.info[index])
        results.update(timestamp_start=self.timestamp_start, timestamp_end=self.timestamp_end,
                       rng=item_rng(self.seed, epoch, index, attempt), test_mode=self.test_mode)
        if self.backend:
            results["backend"] = self.backend
        return results

    def _train_results(self, index: int, epoch: int) -> Tuple[int, Dict[str, Any]]:
        tried = index
        for attempt in range(self.num_retries):
            try:
                return tried, self.pipeline(self._results(tried, epoch, attempt))
            except VideoDecodeError as exc:
                substitute = int(np.random.default_rng([self.seed, epoch, index, attempt, 1]).integers(len(self)))
                self.bad.record(BadVideo(tried, exc.path, exc.reason, self.mode, substitute))
                tried = substitute
        info = self.info[index]
        raise VideoDecodeError(info.get("filename") or info.get("frame_dir", ""),
                               f"{self.num_retries} clips in a row could not be read while filling this item")

    def _placeholder(self, index: int, epoch: int) -> Dict[str, Any]:
        """An all-black clip through the stages after the decoder, for an evaluation item that cannot be read."""
        stages = getattr(self.pipeline, "stages", None)
        decoders = [i for i, s in enumerate(stages or []) if isinstance(s, RawFrameDecode)]
        if not decoders:
            raise ConfigError("cannot build a placeholder for an unreadable clip", key=f"PIPELINE.{self.mode}",
                              expected="a pipeline with a RawFrameDecode stage")
        results = self._results(index, epoch, 0)
        height, width = self._last_shape or self._source_shape(results)
        length = int(results.get("clip_len") or getattr(stages[0], "clip_len", 32))
        results.update(imgs=np.zeros((length, height, width, 3), np.uint8), img_shape=(height, width),
                       original_shape=(height, width))
        for key in ("gt_bboxes", "proposals"):
            results[key] = boxes_to_pixels(results[key], height, width)
        for stage in stages[decoders[-1] + 1:]:
            results = stage(results)
        return results

    def _source_shape(self, results: Dict[str, Any]) -> Tuple[int, int]:
        """(height, width) of the item's first frame when it reads, else 256 x 256 (for a placeholder only)."""
        try:
            if results.get("filename"):
                frames = read_video_clip(results["filename"], np.ones(1, np.int64), self.fps,
                                         float(results.get("video_offset", 0.0)), self.backend or DEFAULT_BACKEND)[1]
            else:
                frames = read_frame_clip(results["frame_dir"], results["suffix"], np.ones(1, np.int64))
            return int(frames.shape[1]), int(frames.shape[2])
        except VideoDecodeError:
            return 256, 256

    def _pack(self, results: Dict[str, Any], index: int, empty: bool = False) -> List[Any]:
        imgs = results["imgs"]
        if not isinstance(imgs, (list, tuple)) or len(imgs) != 2:
            raise ConfigError("an AVA pipeline must end with PackOutput (slow and fast pathways)",
                              key=f"PIPELINE.{self.mode}.transform", expected="... - PackOutput: {alpha: 4}")
        if not empty:
            self._last_shape = tuple(results.get("original_shape") or results["img_shape"])
        arrays = [results["proposals"], results["gt_bboxes"], results["gt_labels"], results["scores"],
                  results["entity_ids"]]
        lengths = [0] * 5 if empty else [len(a) for a in arrays]
        self.bad.count(dropped_gt=results.get("dropped_gt", 0), dropped_proposals=results.get("dropped_proposals", 0),
                       proposal_fallback=int(bool(results.get("proposal_fallback"))),
                       clips_without_gt=int(not empty and lengths[1] == 0))
        padded = [pad_rows(np.asarray(a)[:n] if not empty else np.asarray(a)[:0], self.padding_len)
                  for a, n in zip(arrays, lengths)]
        return [imgs[0], imgs[1], *padded, np.asarray(results["img_shape"], np.int64), index, *lengths]
