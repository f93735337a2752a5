"""AVA's result CSV: written as the official tools read it, read back exactly, bad lines named and skipped."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo_slowfast.errors import SlowFastError
from paddlevideo_slowfast.metrics.ava import BoxTable, read_results, rounded, write_results


def test_round_trip_is_exact_after_rounding(tmp_path):
    rng = np.random.default_rng(0)
    table = BoxTable.build(["-5KQ66BBWC4", "vid_2", "vid_2"], [902, 1798, 905], rng.random((3, 4)), [1, 80, 12],
                           rng.random(3).astype(np.float32))
    path = write_results(tmp_path / "out" / "detections.csv", table)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("-5KQ66BBWC4,0902,") and lines[1].split(",")[1] == "1798"
    assert [len(line.split(",")) for line in lines] == [8, 8, 8]
    back = read_results(path)
    expected = rounded(table)
    assert not back.problems
    assert back.table.video_id.tolist() == table.video_id.tolist()
    assert back.table.timestamp.tolist() == [902, 1798, 905] and back.table.action_id.tolist() == [1, 80, 12]
    assert np.array_equal(back.table.boxes, expected.boxes) and np.array_equal(back.table.score, expected.score)
    assert np.abs(expected.boxes - table.boxes).max() <= 5e-7


def test_seven_columns_score_one_and_bad_lines(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("v,0902,0.1,0.2,0.3,0.4,5\n"
                    "v,0902,0.1,0.2,0.3\n"
                    "\n"
                    "v,0903,0.1,0.2,0.3,0.4,walk,0.5\n"
                    "v,0904,0.1,0.2,0.3,0.4,7,0.25\n")
    back = read_results(path)
    assert back.table.score.tolist() == [1.0, 0.25] and back.table.timestamp.tolist() == [902, 904]
    assert [p.split(": ")[0] for p in back.problems] == [f"{path}:2", f"{path}:4"]
    assert "5 columns" in back.problems[0]


def test_missing_file(tmp_path):
    with pytest.raises(SlowFastError, match="no such result file"):
        read_results(tmp_path / "none.csv")


def test_empty_table(tmp_path):
    path = write_results(tmp_path / "empty.csv", BoxTable.empty())
    assert path.read_text() == "" and len(read_results(path).table) == 0 and len(rounded(BoxTable.empty())) == 0
