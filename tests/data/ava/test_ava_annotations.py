"""AVA's annotation files: official layouts read and written back, bad lines named by file:line, proposals only
through the restricted unpickler."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.data.ava.annotations import (AVABox, proposal_key, read_annotations, read_excluded,
                                                       read_label_map, read_proposals, write_annotations,
                                                       write_excluded, write_label_map, write_proposals)
from paddlevideo_slowfast.errors import AnnotationError

V21 = '''item {
  name: "bend/bow (at the waist)"
  id: 1
}
item {
  name: "crawl"
  id: 2
}
'''
V22 = '''label {
  name: "bend/bow (at the waist)"
  label_id: 1
  label_type: PERSON_MOVEMENT
}
label {
  name: "watch (a person)"
  label_id: 80
  label_type: PERSON_INTERACTION
}
'''


def test_label_map_both_versions(tmp_path: Path) -> None:
    (tmp_path / "a.pbtxt").write_text(V21)
    (tmp_path / "b.pbtxt").write_text(V22)
    assert read_label_map(tmp_path / "a.pbtxt") == {1: "bend/bow (at the waist)", 2: "crawl"}
    assert read_label_map(tmp_path / "b.pbtxt") == {1: "bend/bow (at the waist)", 80: "watch (a person)"}


def test_label_map_round_trip_and_problems(tmp_path: Path) -> None:
    labels = {3: "stand", 1: "bend/bow (at the waist)", 80: "watch (a person)"}
    write_label_map(tmp_path / "l.pbtxt", labels)
    assert (tmp_path / "l.pbtxt").read_text().startswith('item {\n  name: "bend/bow (at the waist)"\n  id: 1\n}\n')
    assert read_label_map(tmp_path / "l.pbtxt") == labels
    (tmp_path / "bad.pbtxt").write_text('item {\n  name: "x"\n}\nitem {\n  name: "y"\n  id: 2\n}\n')
    problems: list = []
    assert read_label_map(tmp_path / "bad.pbtxt", problems) == {2: "y"}
    assert problems == [f"{tmp_path / 'bad.pbtxt'}:2: name 'x' has no id"]
    (tmp_path / "empty.pbtxt").write_text("")
    with pytest.raises(AnnotationError, match="empty.pbtxt"):
        read_label_map(tmp_path / "empty.pbtxt")


def test_annotation_csv_official_rows_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "ava_train_v2.1.csv"
    path.write_text("-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,80,1\n"
                    "-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811\n"          # line 2: 6 columns
                    "\n"
                    "-5KQ66BBWC4,09x2,0.077,0.151,0.283,0.811,80,1\n"     # line 4: bad timestamp
                    "-5KQ66BBWC4,0903,0.077,0.151,1.283,0.811,80,1\n"     # line 5: box outside
                    "-5KQ66BBWC4,0903,0.3,0.151,0.2,0.811,80,1\n"         # line 6: x2 < x1
                    "vid_b,1798,0,0,1,1,12\n")                             # 7 columns: no person id
    ann = read_annotations(path)
    assert ann.records == [AVABox("-5KQ66BBWC4", 902, (0.077, 0.151, 0.283, 0.811), 80, 1),
                           AVABox("vid_b", 1798, (0.0, 0.0, 1.0, 1.0), 12, -1)]
    assert [p.split(": ")[0] for p in ann.problems] == [f"{path}:{n}" for n in (2, 4, 5, 6)]
    assert "got 6" in ann.problems[0] and "unparsable" in ann.problems[1] and "outside [0, 1]" in ann.problems[2]


def test_annotation_csv_round_trip(tmp_path: Path) -> None:
    rows = [AVABox("abc", 902, (0.1, 0.2, 0.3, 0.4), 12, 0), AVABox("abc", 1000, (0.0, 0.0, 1.0, 1.0), 80, 3)]
    write_annotations(tmp_path / "a.csv", rows)
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == "abc,0902,0.100,0.200,0.300,0.400,12,0"
    assert read_annotations(tmp_path / "a.csv").records == rows
    with pytest.raises(AnnotationError, match="missing.csv"):
        read_annotations(tmp_path / "missing.csv")


def test_excluded_round_trip(tmp_path: Path) -> None:
    write_excluded(tmp_path / "ex.csv", [("abc", 902), ("-x_y", 1798)])
    assert (tmp_path / "ex.csv").read_text() == "abc,0902\n-x_y,1798\n"
    with open(tmp_path / "ex.csv", "a") as fh:
        fh.write("bad\nabc,zz\n")
    problems: list = []
    assert read_excluded(tmp_path / "ex.csv", problems) == {("abc", 902), ("-x_y", 1798)}
    assert [p.split(": ")[0] for p in problems] == [f"{tmp_path / 'ex.csv'}:{n}" for n in (3, 4)]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_proposals_any_protocol(tmp_path: Path, protocol: int) -> None:
    props = {proposal_key("abc", 902): np.array([[0.1, 0.2, 0.5, 0.9, 0.98]], np.float32),
             "abc,0903": np.zeros((0, 5)), "xyz,0902": np.array([[0.0, 0.0, 1.0, 1.0]])}
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(props, protocol=protocol))
    got = read_proposals(tmp_path / "p.pkl")
    assert set(got) == set(props)
    for key, value in props.items():
        assert got[key].shape == value.shape and np.array_equal(got[key], value)


def test_write_proposals_readable_by_plain_pickle(tmp_path: Path) -> None:
    props = {"abc,0902": np.array([[0.1, 0.2, 0.5, 0.9, 0.98]], np.float32)}
    write_proposals(tmp_path / "p.pkl", props)
    with open(tmp_path / "p.pkl", "rb") as fh:
        plain = pickle.load(fh)
    assert np.array_equal(plain["abc,0902"], props["abc,0902"])
    assert np.array_equal(read_proposals(tmp_path / "p.pkl")["abc,0902"], props["abc,0902"])


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_proposals_refuse_code(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"abc,0902": _Exploit(marker)}, protocol=2))
    with pytest.raises(AnnotationError, match="evil.pkl.*refused"):
        read_proposals(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_proposals_wrong_shape(tmp_path: Path) -> None:
    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"abc,0902": np.zeros((2, 3))}))
    with pytest.raises(AnnotationError, match="abc,0902"):
        read_proposals(tmp_path / "p.pkl")
    (tmp_path / "q.pkl").write_bytes(pickle.dumps([np.zeros((2, 5))]))
    with pytest.raises(AnnotationError, match="expected a dict"):
        read_proposals(tmp_path / "q.pkl")
