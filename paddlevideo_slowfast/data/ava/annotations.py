"""AVA's annotation files, read and written in the official layout: label map `.pbtxt`, annotation CSV,
excluded-timestamps CSV and person-proposal pickles (the latter through the restricted unpickler only).

A bad CSV line is never fatal and never silent: it is skipped and reported as "file:line: why".
"""
from __future__ import annotations

import csv
import math
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Set, Tuple, Union

import numpy as np

from ...errors import AnnotationError
from ...interop.atomic_file import atomic_path
from ...interop.numpy_pickle import load_numpy_pickle

PathLike = Union[str, "os.PathLike[str]"]
Box = Tuple[float, float, float, float]


class AVABox(NamedTuple):
    """One CSV row: a person box (x1, y1, x2, y2 normalised to [0, 1]) doing `action_id` at second `timestamp`."""

    video_id: str
    timestamp: int
    box: Box
    action_id: int
    person_id: int = -1  # -1 when the row has no person column


@dataclass
class AVAAnnotations:
    """The rows read from one annotation CSV, their line numbers, and the "file:line: why" of every line skipped."""

    path: str
    records: List[AVABox] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)
    lines: List[int] = field(default_factory=list)  # line number of each record, for later "file:line" reasons


def proposal_key(video_id: str, timestamp: int) -> str:
    """The key of a keyframe in AVA's proposal pickles and PaddleVideo's `img_key`: "video_id,%04d"."""
    return f"{video_id},{int(timestamp):04d}"


def _parse_row(row: List[str]) -> Union[AVABox, str]:
    """An AVABox from 7 or 8 CSV columns, or the reason the row is unusable."""
    if len(row) not in (7, 8):
        return f"expected 7 or 8 columns (video_id,timestamp,x1,y1,x2,y2,action_id[,person_id]), got {len(row)}"
    video_id = row[0].strip()
    if not video_id:
        return "empty video_id"
    try:
        timestamp = int(row[1])
        box = tuple(float(v) for v in row[2:6])
        action_id = int(row[6])
        person_id = int(row[7]) if len(row) == 8 else -1
    except ValueError as exc:
        return f"unparsable number ({exc})"
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in box):
        return f"box {list(box)} outside [0, 1]"
    if box[2] < box[0] or box[3] < box[1]:
        return f"box {list(box)} has x2 < x1 or y2 < y1"
    if action_id < 1:
        return f"action_id {action_id} < 1 (AVA's ids start at 1)"
    return AVABox(video_id, timestamp, box, action_id, person_id)  # type: ignore[arg-type]


def read_annotations(path: PathLike) -> AVAAnnotations:
    """Rows of an AVA annotation CSV (no header); bad lines are skipped into `.problems` as "file:line: why"."""
    out = AVAAnnotations(str(path))
    try:
        with open(path, newline="") as fh:
            for line_no, row in enumerate(csv.reader(fh), start=1):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                parsed = _parse_row(row)
                if isinstance(parsed, str):
                    out.problems.append(f"{path}:{line_no}: {parsed}")
                else:
                    out.records.append(parsed)
                    out.lines.append(line_no)
    except OSError as exc:
        raise AnnotationError(str(path), f"cannot read annotation CSV ({exc.strerror or exc})") from exc
    return out


def read_excluded(path: PathLike, problems: Optional[List[str]] = None) -> Set[Tuple[str, int]]:
    """(video_id, timestamp) pairs of an excluded-timestamps CSV; bad lines go to `problems` when given."""
    excluded: Set[Tuple[str, int]] = set()
    found: List[str] = [] if problems is None else problems
    try:
        with open(path, newline="") as fh:
            for line_no, row in enumerate(csv.reader(fh), start=1):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != 2:
                    found.append(f"{path}:{line_no}: expected 2 columns (video_id,timestamp), got {len(row)}")
                    continue
                try:
                    excluded.add((row[0].strip(), int(row[1])))
                except ValueError as exc:
                    found.append(f"{path}:{line_no}: unparsable number ({exc})")
    except OSError as exc:
        raise AnnotationError(str(path), f"cannot read excluded-timestamps CSV ({exc.strerror or exc})") from exc
    return excluded


_PBTXT_FIELD = re.compile(r'^\s*(name|id|label_id|display_name|label_type)\s*:\s*(.+?)\s*$')


def read_label_map(path: PathLike, problems: Optional[List[str]] = None) -> Dict[int, str]:
    """Label id -> name from an AVA `.pbtxt` (v2.1 `item {name, id}` and v2.2 `label {name, label_id}` alike)."""
    labels: Dict[int, str] = {}
    found: List[str] = [] if problems is None else problems
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise AnnotationError(str(path), f"cannot read label map ({exc.strerror or exc})") from exc
    name: Optional[str] = None
    name_line = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        match = _PBTXT_FIELD.match(line)
        if not match:
            continue
        key, value = match.group(1), match.group(2)
        if key == "name":
            if name is not None:
                found.append(f"{path}:{name_line}: name {name!r} has no id")
            name, name_line = value.strip('"'), line_no
        elif key in ("id", "label_id"):
            if name is None:
                found.append(f"{path}:{line_no}: id without a name")
                continue
            try:
                label_id = int(value)
            except ValueError:
                found.append(f"{path}:{line_no}: unparsable id {value!r}")
            else:
                if label_id in labels:
                    found.append(f"{path}:{line_no}: id {label_id} repeated")
                labels[label_id] = name
            name = None
    if name is not None:
        found.append(f"{path}:{name_line}: name {name!r} has no id")
    if not labels:
        raise AnnotationError(str(path), "no label (name + id) in the label map")
    return labels


def read_proposals(path: PathLike) -> Dict[str, np.ndarray]:
    """Proposals "video_id,%04d" -> [n, 5] (x1, y1, x2, y2 normalised, score) or [n, 4] float arrays, unpickled
    with no globals but numpy's (never plain pickle: a proposal file is a download)."""
    try:
        obj = load_numpy_pickle(path)
    except OSError as exc:
        raise AnnotationError(str(path), f"cannot read proposals ({exc.strerror or exc})") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise AnnotationError(str(path), f"not a proposal pickle: {exc}") from exc
    if not isinstance(obj, dict):
        raise AnnotationError(str(path), f"expected a dict 'video_id,timestamp' -> array, got {type(obj).__name__}")
    out: Dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or key.count(",") != 1:
            raise AnnotationError(str(path), f"key {key!r} is not 'video_id,timestamp'")
        array = np.asarray(value)
        if array.size == 0:
            array = array.reshape(0, array.shape[-1] if array.ndim == 2 else 5)
        if array.ndim != 2 or array.shape[1] not in (4, 5) or array.dtype.kind not in "fiu":
            raise AnnotationError(str(path), f"proposals of {key!r}: expected a numeric [n, 4] or [n, 5] array, "
                                             f"got {array.dtype} {list(array.shape)}")
        out[key] = array.astype(np.float32 if array.dtype == np.float32 else np.float64, copy=False)
    return out


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def write_annotations(path: PathLike, records: Iterable[AVABox], *, decimals: int = 3) -> None:
    """AVA's annotation CSV: `video_id,%04d,x1,y1,x2,y2,action_id,person_id`, no header, boxes to `decimals`."""
    lines = []
    for r in records:
        lines.append(",".join([r.video_id, f"{int(r.timestamp):04d}", *(_fmt(v, decimals) for v in r.box),
                               str(int(r.action_id)), str(int(r.person_id))]))
    _write_text(path, "".join(line + "\n" for line in lines))


def write_excluded(path: PathLike, keyframes: Iterable[Tuple[str, int]]) -> None:
    """AVA's excluded-timestamps CSV: `video_id,%04d` per line, in the order given."""
    _write_text(path, "".join(f"{video_id},{int(ts):04d}\n" for video_id, ts in keyframes))


def write_label_map(path: PathLike, labels: Mapping[int, str]) -> None:
    """AVA's v2.1 label map layout: `item { name: "..." id: N }` per label, by id."""
    blocks = []
    for label_id in sorted(labels):
        name = labels[label_id].replace('"', "'")
        blocks.append(f'item {{\n  name: "{name}"\n  id: {int(label_id)}\n}}\n')
    _write_text(path, "".join(blocks))


def write_proposals(path: PathLike, proposals: Mapping[str, np.ndarray]) -> None:
    """AVA's proposal pickle, as `ava_dense_proposals_*.pkl`: a plain dict "video_id,%04d" -> float [n, 5] (or
    [n, 4]) array, at protocol 2 (Python 2 and 3 read it), for plain pickle (PaddleVideo) and `read_proposals`."""
    data = {}
    for key, value in proposals.items():
        array = np.asarray(value)
        if array.ndim != 2 or array.shape[1] not in (4, 5):
            raise AnnotationError(str(path), f"proposals of {key!r}: expected [n, 4] or [n, 5], "
                                             f"got {list(array.shape)}")
        data[str(key)] = np.ascontiguousarray(array, dtype=array.dtype if array.dtype.kind == "f" else np.float64)
    with atomic_path(path) as tmp:
        tmp.write_bytes(pickle.dumps(data, protocol=2))


def _write_text(path: PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
