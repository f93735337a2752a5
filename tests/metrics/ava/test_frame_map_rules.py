"""Hand-computed AVA frame-mAP cases that pin the protocol's edge rules (each also checked against PaddleVideo's
evaluator in test_frame_map_parity.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from paddlevideo_slowfast.errors import SlowFastError
from paddlevideo_slowfast.metrics.ava import frame_map, pair_iou, voc_ap

from ava_cases import CASES, FULL, LABELS, table  # tests/metrics/ava/ava_cases.py


def expected_map(aps):
    scored = [ap for ap in aps.values() if ap is not None]
    return sum(scored) / len(scored)


@pytest.mark.parametrize("name, gt, det, excluded, aps", CASES, ids=[c[0] for c in CASES])
def test_hand_computed(name, gt, det, excluded, aps):
    result = frame_map(table(gt), table(det), LABELS, excluded)
    for class_id, ap in aps.items():
        if ap is None:
            assert math.isnan(result.per_class[class_id].ap)
        else:
            assert result.per_class[class_id].ap == pytest.approx(ap, abs=1e-12)
    assert result.mean_ap == pytest.approx(expected_map(aps), abs=1e-12)
    assert result.key == "mAP@0.5IOU"


def test_counts_and_missed_keyframes():
    gt = table([("v", 902, FULL, 1), ("v", 903, FULL, 1), ("v", 904, FULL, 2), ("v", 905, FULL, 1)])
    det = table([("v", 902, FULL, 1, 0.9), ("v", 902, FULL, 1, 0.5), ("v", 904, FULL, 3, 0.4)])
    result = frame_map(gt, det, LABELS, excluded=[("v", 905)])
    stand = result.per_class[1]
    assert (stand.gt, stand.detections, stand.tp, stand.recall) == (2, 2, 1, 0.5)
    assert result.frames == 3 and result.missed_frames == (("v", 903),)
    assert result.dropped["gt_excluded"] == 1


def test_ties_do_not_depend_on_order():
    """Equal scores are one step of the curve: shuffling the rows never changes the AP."""
    gt = table([("v", t, FULL, 1) for t in range(902, 906)])
    det = table([("v", 902, FULL, 1, 0.5), ("v", 903, (0.0, 0.0, 0.1, 0.1), 1, 0.5), ("v", 904, FULL, 1, 0.5),
                 ("v", 905, (0.0, 0.0, 0.1, 0.1), 1, 0.5)])
    values = set()
    for seed in range(6):
        order = np.random.default_rng(seed).permutation(len(det))
        values.add(frame_map(gt, det.select(order), LABELS).mean_ap)
    assert values == {0.25}  # one step to recall 0.5 at precision 0.5


def test_cap_per_keyframe_keeps_the_best():
    gt = table([("v", 902, FULL, 1)])
    det = table([("v", 902, (0.0, 0.0, 0.1, 0.1), 2, 0.9), ("v", 902, FULL, 1, 0.8)])
    assert frame_map(gt, det, LABELS).mean_ap == 1.0
    capped = frame_map(gt, det, LABELS, max_per_frame=1)
    assert capped.mean_ap == 0.0 and capped.dropped["det_over_cap"] == 1


def test_voc_ap_interpolation():
    # TP, FP, TP against 2 instances: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> 1/2 * 1 + 1/2 * 2/3
    assert voc_ap(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2) == pytest.approx(5 / 6)
    assert voc_ap(np.array([0.9, 0.8]), np.array([False, True]), 1) == pytest.approx(0.5)
    assert math.isnan(voc_ap(np.array([0.9]), np.array([False]), 0)) and voc_ap(np.zeros(0), np.zeros(0, bool), 3) == 0


def test_pair_iou():
    boxes = np.array([FULL, FULL, (0.0, 0.0, 0.5, 0.5)])
    other = np.array([(0.0, 0.0, 0.5, 1.0), (2.0, 2.0, 3.0, 3.0), (0.25, 0.25, 0.75, 0.75)])
    assert pair_iou(boxes, other).tolist() == [0.5, 0.0, pytest.approx(1 / 7)]


def test_inverted_ground_truth_box_is_an_error():
    with pytest.raises(SlowFastError, match="v,902"):
        frame_map(table([("v", 902, (0.5, 0.0, 0.4, 1.0), 1)]), table([]), LABELS)


def test_nothing_to_score():
    result = frame_map(table([]), table([("v", 902, FULL, 1, 0.9)]), LABELS)
    assert math.isnan(result.mean_ap) and result.frames == 0
