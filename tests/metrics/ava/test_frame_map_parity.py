"""Our frame-mAP equals PaddleVideo's AVA evaluator (the official ActivityNet code it carries) on the same files."""
from __future__ import annotations

import math

import pytest

from paddlevideo_slowfast.data.ava.annotations import read_annotations, read_excluded, read_label_map
from paddlevideo_slowfast.metrics.ava import frame_map, read_results, write_results

from ava_cases import CASES, LABELS, random_ava, table, write_label_map, write_rows  # tests/metrics/ava/ava_cases.py


def ours(label_file, gt_file, det_file, excluded_file=None, max_per_frame=None):
    """Our side read as a user's files are: D's readers for the AVA files, ours for the result CSV."""
    annotations = read_annotations(gt_file)
    assert not annotations.problems
    excluded = read_excluded(excluded_file) if excluded_file else set()
    detections = read_results(det_file)
    assert not detections.problems
    return frame_map(annotations.records, detections.table, read_label_map(label_file), excluded,
                     max_per_frame=max_per_frame)


def assert_same(result, pv_map, pv_per_class):
    assert result.mean_ap == pytest.approx(pv_map, abs=1e-6)
    assert set(pv_per_class) == {c.name for c in result.per_class.values()}
    for c in result.per_class.values():
        if math.isnan(pv_per_class[c.name]):
            assert math.isnan(c.ap), c.name
        else:
            assert c.ap == pytest.approx(pv_per_class[c.name], abs=1e-6), c.name


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_detections_match_paddlevideo(seed, tmp_path, pv_evaluate):
    data = random_ava(seed)
    files = (write_label_map(tmp_path / "labels.pbtxt", data.labels),
             write_rows(tmp_path / "gt.csv", data.gt_rows),
             write_results(tmp_path / "detections.csv", data.detections),
             write_rows(tmp_path / "excluded.csv", data.excluded))
    pv_map, pv_per_class = pv_evaluate(*files)
    result = ours(*files)
    assert_same(result, pv_map, pv_per_class)
    assert 0.1 < result.mean_ap < 0.9 and sum(c.tp for c in result.per_class.values()) > 20
    assert all(result.dropped[k] for k in ("gt_other_class", "gt_excluded", "det_other_class", "det_excluded",
                                           "det_empty_box"))


def test_cap_per_keyframe_matches_the_official_reader(tmp_path, pv_evaluate):
    """The official script reads at most 50 detections a keyframe (PaddleVideo: no cap); here 3, so it bites."""
    data = random_ava(4)
    files = (write_label_map(tmp_path / "labels.pbtxt", data.labels),
             write_rows(tmp_path / "gt.csv", data.gt_rows),
             write_results(tmp_path / "detections.csv", data.detections),
             write_rows(tmp_path / "excluded.csv", data.excluded))
    pv_map, pv_per_class = pv_evaluate(*files, capacity=3)
    result = ours(*files, max_per_frame=3)
    assert_same(result, pv_map, pv_per_class)
    assert result.dropped["det_over_cap"] > 50 and result.mean_ap != ours(*files).mean_ap


@pytest.mark.parametrize("name, gt, det, excluded, aps", CASES, ids=[c[0] for c in CASES])
def test_hand_computed_cases_match_paddlevideo(name, gt, det, excluded, aps, tmp_path, pv_evaluate):
    files = [write_label_map(tmp_path / "labels.pbtxt", LABELS),
             write_rows(tmp_path / "gt.csv", [(v, t, *box, a, 0) for v, t, box, a in gt]),
             write_results(tmp_path / "detections.csv", table(det))]
    if excluded:
        files.append(write_rows(tmp_path / "excluded.csv", excluded))
    pv_map, pv_per_class = pv_evaluate(*files)
    assert_same(ours(*files), pv_map, pv_per_class)
