"""AVA's result CSV (`video_id,timestamp,x1,y1,x2,y2,action_id,score`, no header, boxes normalised): what the
official evaluator and the challenge server read."""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import List, NamedTuple, Union

import numpy as np

from ...errors import SlowFastError
from .table import BoxTable

log = logging.getLogger(__name__)

DECIMALS = 6  # 1e-6 of the frame: far below a pixel, and few equal scores (PaddleVideo writes 3)
CHUNK = 100_000  # rows formatted at a time


class ResultsFile(NamedTuple):
    """The rows read, and the lines skipped as `file:line: why`."""

    table: BoxTable
    problems: List[str]


def rounded(table: BoxTable, decimals: int = DECIMALS) -> BoxTable:
    """`table` with boxes and scores as `write_results` writes them and a reader parses them back (np.round: the
    same float but for values within an ulp of a half, where it may differ by that ulp)."""
    return BoxTable(table.video_id, table.timestamp, np.round(table.boxes, decimals), table.action_id,
                    np.round(table.score, decimals))


def write_results(path: Union[str, Path], table: BoxTable, decimals: int = DECIMALS) -> Path:
    """Write `table` as AVA result rows (timestamps as AVA's files write them, `0902`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    row = f"%s,%04d,%.{decimals}f,%.{decimals}f,%.{decimals}f,%.{decimals}f,%d,%.{decimals}f\n"
    with open(path, "w", encoding="utf-8", newline="") as f:
        for start in range(0, len(table), CHUNK):
            part = slice(start, start + CHUNK)
            columns = (table.video_id[part].tolist(), table.timestamp[part].tolist(), *table.boxes[part].T.tolist(),
                       table.action_id[part].tolist(), table.score[part].tolist())
            f.writelines(row % values for values in zip(*columns))
    return path


def read_results(path: Union[str, Path]) -> ResultsFile:
    """Read a result CSV; a row of 7 columns has score 1 (as the official reader does); bad rows are skipped, named
    and logged, never guessed."""
    path = Path(path)
    if not path.is_file():
        raise SlowFastError(f"{path}: no such result file")
    videos, stamps, boxes, actions, scores = [], [], [], [], []
    problems: List[str] = []
    with open(path, encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) not in (7, 8):
                problems.append(f"{path}:{number}: {len(row)} columns, expected 8 "
                                "(video_id,timestamp,x1,y1,x2,y2,action_id,score)")
                continue
            try:
                values = ([float(v) for v in row[2:6]], int(row[6]), float(row[7]) if len(row) == 8 else 1.0,
                          int(row[1]))
            except ValueError as exc:
                problems.append(f"{path}:{number}: {exc}")
                continue
            videos.append(row[0])
            boxes.append(values[0])
            actions.append(values[1])
            scores.append(values[2])
            stamps.append(values[3])
    if problems:
        log.warning("%s: %d rows skipped, first: %s", path, len(problems), problems[0])
    table = BoxTable.build(videos, stamps, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), actions, scores)
    return ResultsFile(table, problems)
