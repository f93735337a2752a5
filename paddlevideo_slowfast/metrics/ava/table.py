"""`BoxTable`: AVA boxes (ground truth or detections) as columns of numpy arrays, one row per (box, action)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class BoxTable:
    """Rows of `video_id,timestamp,x1,y1,x2,y2,action_id,score`; boxes normalised, score 1 for ground truth."""

    video_id: np.ndarray   # [N] str
    timestamp: np.ndarray  # [N] int64, whole seconds
    boxes: np.ndarray      # [N, 4] float64 x1, y1, x2, y2
    action_id: np.ndarray  # [N] int64
    score: np.ndarray      # [N] float64

    def __post_init__(self) -> None:
        count = len(self.video_id)
        shapes = {"timestamp": self.timestamp.shape, "boxes": self.boxes.shape[:1] if self.boxes.ndim == 2 else None,
                  "action_id": self.action_id.shape, "score": self.score.shape}
        for name, shape in shapes.items():
            if shape != (count,):
                raise ValueError(f"BoxTable.{name} has shape {getattr(self, name).shape}, expected {count} rows")

    def __len__(self) -> int:
        return len(self.video_id)

    @classmethod
    def build(cls, video_id: Iterable[str], timestamp: Iterable[int], boxes: Any, action_id: Iterable[int],
              score: Any = None) -> "BoxTable":
        """A table from any sequences/arrays; `score` defaults to 1 (ground truth)."""
        video_id = np.asarray(list(video_id), dtype=str)
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        score = np.ones(len(video_id)) if score is None else np.asarray(score, dtype=np.float64).reshape(-1)
        return cls(video_id, np.asarray(list(timestamp), dtype=np.int64).reshape(-1), boxes,
                   np.asarray(list(action_id), dtype=np.int64).reshape(-1), score)

    @classmethod
    def empty(cls) -> "BoxTable":
        return cls.build([], [], np.zeros((0, 4)), [])

    @classmethod
    def from_records(cls, records: Sequence[Any], score: Any = None) -> "BoxTable":
        """From `AVABox`-like records (video_id, timestamp, box, action_id), e.g. `read_annotations(...).records`."""
        if not len(records):
            return cls.empty()
        return cls.build([r.video_id for r in records], [r.timestamp for r in records],
                         [tuple(r.box) for r in records], [r.action_id for r in records], score)

    @classmethod
    def concat(cls, tables: Sequence["BoxTable"]) -> "BoxTable":
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls.empty()
        return cls(*(np.concatenate([getattr(t, f) for t in tables]) for f in cls.__dataclass_fields__))

    def select(self, mask: np.ndarray) -> "BoxTable":
        """The rows where `mask` (bool [N] or indices) holds."""
        return type(self)(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    def frame_keys(self) -> Iterable[Tuple[str, int]]:
        """(video_id, timestamp) of each row."""
        return zip(self.video_id.tolist(), self.timestamp.tolist())
