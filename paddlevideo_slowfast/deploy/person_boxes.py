"""Person boxes per keyframe for `detect`: read from a box file, or found by a person detector on the keyframe.

A box file holds boxes normalised to [0, 1] (x1, y1, x2, y2) with a person score, at timestamps on the file's clock
(seconds; `video_start` is the file's timestamp of the video's first frame, 900 for AVA's 15-minute cuts):
- AVA CSV, no header: `video_id,timestamp,x1,y1,x2,y2[,action_id[,person_id|score]]`: AVA's annotation rows (score
  1), result rows (an 8th column written as a decimal is a score) or bare boxes. Rows of one box at one timestamp
  are one person (AVA lists a person once per action) with the highest score of its rows;
- JSON lines: `{"timestamp": t, "box": [x1, y1, x2, y2], "score": s}` (score optional: 1; `video_id` optional),
  which is also what `detect --json` prints, so its output can be fed back;
- an AVA proposal pickle (`.pkl`, "video_id,%04d" -> [n, 5] or [n, 4]): FAIR's person proposals, read through the
  restricted unpickler.
Rows naming another video (AVA's video_id is the file's stem) are left out. A line that cannot be read is a one-line
AnnotationError naming file:line.
"""
from __future__ import annotations

import csv
import json
import logging
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from ..errors import AnnotationError

logger = logging.getLogger("paddlevideo_slowfast.deploy")

MATCH_SECONDS = 0.01  # a file timestamp belongs to the keyframe within this many seconds of it
PICKLE_SUFFIXES = (".pkl", ".pickle")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")

PersonFinder = Callable[[np.ndarray], np.ndarray]  # keyframe RGB (H, W, 3) uint8 -> [n, 5] normalised + score


class BoxTimeline:
    """Person boxes [n, 5] (x1, y1, x2, y2 normalised, score) by timestamp (seconds on the box file's clock)."""

    def __init__(self, boxes: Mapping[float, np.ndarray], source: str = "boxes"):
        self.source = source
        self.boxes = {float(t): np.asarray(b, np.float64).reshape(-1, 5) for t, b in boxes.items()}

    def __len__(self) -> int:
        return len(self.boxes)

    def by_keyframe(self, video_start: float, fps: float, count: int) -> Dict[int, np.ndarray]:
        """Keyframe index -> its boxes, for keyframes k at `video_start + k / fps`; timestamps between keyframes or
        outside the video are logged once and left out."""
        out: Dict[int, np.ndarray] = {}
        missed: List[float] = []
        for timestamp, boxes in sorted(self.boxes.items()):
            k = int(round((timestamp - video_start) * fps))
            if 0 <= k < count and abs(video_start + k / fps - timestamp) <= MATCH_SECONDS:
                out[k] = boxes
            else:
                missed.append(timestamp)
        if missed:
            logger.warning("%s: %d of %d timestamps are not keyframes of this video at --fps %g from --video-start "
                           "%g (first: %g); their boxes are not scored", self.source, len(missed), len(self.boxes),
                           fps, video_start, missed[0])
        return out


def as_box_array(value: Any, where: str) -> np.ndarray:
    """[n, 4] or [n, 5] boxes as float64 [n, 5] (score 1 when absent), clipped to [0, 1]; AnnotationError when the
    shape is wrong or x2 < x1 / y2 < y1."""
    array = np.asarray(value, np.float64)
    if array.size == 0:
        return np.zeros((0, 5))
    if array.ndim != 2 or array.shape[1] not in (4, 5) or not np.isfinite(array).all():
        raise AnnotationError(where, f"person boxes must be finite [n, 4] or [n, 5] arrays, got {list(array.shape)}")
    if array.shape[1] == 4:
        array = np.concatenate([array, np.ones((len(array), 1))], axis=1)
    array = array.copy()
    array[:, :4] = np.clip(array[:, :4], 0.0, 1.0)
    if ((array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1])).any():
        raise AnnotationError(where, "a person box has x2 < x1 or y2 < y1")
    return array


def read_box_file(path: Union[str, Path], video_id: str) -> BoxTimeline:
    """The boxes of video `video_id` in a box file (module docstring for the formats)."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(str(path), "no such box file" if not path.exists() else "not a file")
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        rows = _pickle_rows(path, video_id)
    elif suffix in JSON_SUFFIXES or _starts_with_brace(path):
        rows = _json_rows(path, video_id)
    else:
        rows = _csv_rows(path, video_id)
    merged: "OrderedDict[float, OrderedDict[Tuple[float, ...], float]]" = OrderedDict()
    for timestamp, box, score in rows.kept:
        people = merged.setdefault(timestamp, OrderedDict())
        people[box] = max(score, people.get(box, -math.inf))
    if not merged and rows.others:
        shown = ", ".join(sorted(rows.others)[:5]) + (" ..." if len(rows.others) > 5 else "")
        raise AnnotationError(str(path), f"no boxes of video '{video_id}' (the video file's stem); the file names "
                                         f"{shown}")
    return BoxTimeline({t: np.array([list(b) + [s] for b, s in people.items()]) for t, people in merged.items()},
                       source=str(path))


class _Rows:
    def __init__(self) -> None:
        self.kept: List[Tuple[float, Tuple[float, ...], float]] = []
        self.others: set = set()

    def add(self, where: str, video: Optional[str], wanted: str, timestamp: Any, box: Any, score: Any) -> None:
        if video is not None and video != wanted:
            self.others.add(video)
            return
        try:
            timestamp, score = float(timestamp), float(score)
            values = [float(v) for v in box]
        except (TypeError, ValueError):
            raise AnnotationError(where, "timestamp, box and score must be numbers") from None
        if len(values) != 4:
            raise AnnotationError(where, f"a box has 4 numbers (x1, y1, x2, y2), got {len(values)}")
        if not all(math.isfinite(v) and -1e-6 <= v <= 1 + 1e-6 for v in values):
            raise AnnotationError(where, f"box {values} is not normalised to [0, 1]")
        if values[2] < values[0] or values[3] < values[1]:
            raise AnnotationError(where, f"box {values} has x2 < x1 or y2 < y1")
        if not (math.isfinite(timestamp) and math.isfinite(score)):
            raise AnnotationError(where, "timestamp and score must be finite")
        self.kept.append((timestamp, tuple(min(max(v, 0.0), 1.0) for v in values), score))


def _starts_with_brace(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(64).lstrip().startswith(b"{")


def _csv_rows(path: Path, video_id: str) -> _Rows:
    rows = _Rows()
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for number, row in enumerate(csv.reader(fh), start=1):
                if not row or (len(row) == 1 and not row[0].strip()) or row[0].lstrip().startswith("#"):
                    continue
                where = f"{path}:{number}"
                if len(row) not in (6, 7, 8):
                    raise AnnotationError(where, f"{len(row)} columns; a box row is video_id,timestamp,x1,y1,x2,y2"
                                                 "[,action_id[,person_id|score]]")
                score = row[7].strip() if len(row) == 8 and _is_decimal(row[7]) else 1.0
                rows.add(where, row[0].strip(), video_id, row[1], row[2:6], score)
    except UnicodeDecodeError:
        raise AnnotationError(str(path), "not a text box file (AVA CSV, JSON lines or a .pkl of proposals)") from None
    except OSError as exc:
        raise AnnotationError(str(path), f"cannot read the box file ({exc.strerror or exc})") from None
    return rows


def _is_decimal(text: str) -> bool:
    """AVA's 8th column: a person id is an integer, a score a decimal."""
    text = text.strip().lower()
    return any(c in text for c in ".e") and not text.lstrip("+-").isdigit()


def _json_rows(path: Path, video_id: str) -> _Rows:
    rows = _Rows()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(str(path), f"cannot read the box file ({getattr(exc, 'strerror', None) or exc})") \
            from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AnnotationError(where, f"not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "timestamp" not in record or "box" not in record:
            raise AnnotationError(where, 'a JSON line is {"timestamp": t, "box": [x1, y1, x2, y2], "score": s}')
        box = record["box"]
        if not isinstance(box, (list, tuple)):
            raise AnnotationError(where, "box must be a list [x1, y1, x2, y2]")
        video = record.get("video_id")
        rows.add(where, str(video) if video is not None else None, video_id, record["timestamp"], box,
                 record.get("score", 1.0))
    return rows


def _pickle_rows(path: Path, video_id: str) -> _Rows:
    from ..data.ava.annotations import read_proposals

    rows = _Rows()
    for key, array in read_proposals(path).items():
        video, _, stamp = key.rpartition(",")
        boxes = as_box_array(array, f"{path} [{key}]")
        for box in boxes:
            rows.add(f"{path} [{key}]", video, video_id, stamp, box[:4], box[4])
    return rows


def keyframe_boxes(source: Any, video_id: str) -> Union[BoxTimeline, PersonFinder]:
    """A box file path, a {timestamp: [n, 4|5]} mapping, a BoxTimeline, or a person detector (a callable on the
    keyframe, or an object with a `boxes(frame)` method such as PersonDetector)."""
    if isinstance(source, BoxTimeline):
        return source
    if isinstance(source, (str, Path)):
        return read_box_file(source, video_id)
    if isinstance(source, Mapping):
        return BoxTimeline({t: as_box_array(b, f"boxes[{t}]") for t, b in source.items()})
    finder = getattr(source, "boxes", source)
    if callable(finder):
        return finder
    raise TypeError(f"boxes must be a box file, a mapping timestamp -> boxes or a person detector, "
                    f"got {type(source).__name__}")


def threshold_boxes(boxes: np.ndarray, threshold: float) -> np.ndarray:
    """The boxes whose person score is at least `threshold`."""
    return boxes[boxes[:, 4] >= threshold] if len(boxes) else boxes
