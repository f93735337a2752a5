"""The detector's numpy parts: IoU, max-IoU assignment, RoI sampling, targets, stats and the result layout."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from detection_fakes import multi_hot
from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.modeling.detection import MaxIoUAssignerAVA, RandomSampler, bbox2result
from paddlevideo_slowfast.modeling.detection.bbox_head import multilabel_stats
from paddlevideo_slowfast.modeling.detection.boxes import box_iou
from paddlevideo_slowfast.registry import BBOX_ASSIGNERS, BBOX_SAMPLERS, DETECTORS, HEADS, ROI_EXTRACTORS

GT = np.array([[0, 0, 10, 10], [20, 20, 40, 40]], np.float32)
LABELS = multi_hot([[1, 3], [2]])


def test_registered_under_paddlevideos_names():
    assert "FastRCNN" in DETECTORS and "SingleRoIExtractor3D" in ROI_EXTRACTORS
    assert "MaxIoUAssignerAVA" in BBOX_ASSIGNERS and "RandomSampler" in BBOX_SAMPLERS
    assert {"AVARoIHead", "BBoxHeadAVA", "SlowFastHead"} <= set(HEADS.names())


def test_iou_identical_disjoint_partial_and_degenerate():
    boxes = np.array([[0, 0, 10, 10], [100, 100, 110, 110], [0, 0, 10, 5], [5, 5, 5, 9]], np.float32)
    np.testing.assert_allclose(box_iou(GT[:1], boxes), [[1.0, 0.0, 0.5, 0.0]])
    assert box_iou(np.zeros((0, 4)), boxes).shape == (0, 4) and box_iou(GT, []).shape == (2, 0)


def test_assignment_positive_negative_and_ignored():
    assigner = MaxIoUAssignerAVA(pos_iou_thr=0.9, neg_iou_thr=0.5, min_pos_iou=0.9)
    proposals = np.array([[0, 0, 10, 10.5, 0.9],   # IoU 0.95 with gt 0: positive (the score column is dropped)
                          [20, 20, 40, 32, 0.9],   # IoU 0.6 with gt 1: between the thresholds, ignored
                          [50, 50, 60, 60, 0.9],   # background
                          [0, 0, 10, 10, 0.8]], np.float32)
    result = assigner.assign(proposals, GT, LABELS)
    assert result.gt_inds.tolist() == [1, -1, 0, 1]
    np.testing.assert_allclose(result.max_overlaps, [10 / 10.5, 0.6, 0.0, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(result.labels, [LABELS[0], np.zeros(6), np.zeros(6), LABELS[0]])


def test_low_quality_match_takes_every_tied_best_and_the_later_gt_wins():
    overlaps = np.array([[0.95, 0.95, 0.2], [0.95, 0.3, 0.1]], np.float32)
    tied = MaxIoUAssignerAVA(pos_iou_thr=0.96, neg_iou_thr=0.5, min_pos_iou=0.9).assign_wrt_overlaps(overlaps)
    assert tied.gt_inds.tolist() == [2, 1, 0]   # gt 1 takes both its 0.95s, then gt 2 takes proposal 0
    first = MaxIoUAssignerAVA(pos_iou_thr=0.96, neg_iou_thr=0.5, min_pos_iou=0.9, gt_max_assign_all=False)
    assert first.assign_wrt_overlaps(overlaps).gt_inds.tolist() == [2, -1, 0]
    plain = MaxIoUAssignerAVA(pos_iou_thr=0.96, neg_iou_thr=0.5, match_low_quality=False)
    assert plain.assign_wrt_overlaps(overlaps).gt_inds.tolist() == [-1, -1, 0]
    apart = np.array([[0.0, 0.0], [0.0, 0.95]], np.float32)  # gt 1 overlaps nothing: min_pos_iou 0 gives it nothing
    assert MaxIoUAssignerAVA(pos_iou_thr=0.9, neg_iou_thr=0.9).assign_wrt_overlaps(apart).gt_inds.tolist() == [0, 2]


def test_no_ground_truth_or_no_proposal():
    assigner = MaxIoUAssignerAVA(pos_iou_thr=0.9, neg_iou_thr=0.9)
    none = assigner.assign(np.array([[0, 0, 5, 5]], np.float32), np.zeros((0, 4)), np.zeros((0, 6)))
    assert none.gt_inds.tolist() == [0] and none.labels.shape == (1, 6)
    empty = assigner.assign(np.zeros((0, 4)), GT, LABELS)
    assert empty.gt_inds.shape == (0,) and empty.labels.shape == (0, 6)


def test_unsupported_paddlevideo_keys_are_refused_not_ignored():
    with pytest.raises(ConfigError, match="ignore_iof_thr"):
        MaxIoUAssignerAVA(pos_iou_thr=0.9, neg_iou_thr=0.9, ignore_iof_thr=0.5)


def test_sampler_puts_ground_truths_first_and_fills_with_negatives():
    proposals = np.array([[0, 0, 10, 10.5], [50, 50, 60, 60], [60, 60, 70, 70], [21, 20, 40, 40]], np.float32)
    assign = MaxIoUAssignerAVA(pos_iou_thr=0.9, neg_iou_thr=0.9, min_pos_iou=0.9).assign(proposals, GT, LABELS)
    result = RandomSampler(num=32, pos_fraction=1).sample(assign, proposals, GT, LABELS)
    assert result.pos_inds.tolist() == [0, 1, 2, 5] and result.neg_inds.tolist() == [3, 4]
    assert result.pos_is_gt.tolist() == [1, 1, 0, 0] and result.pos_assigned_gt_inds.tolist() == [0, 1, 0, 1]
    np.testing.assert_array_equal(result.pos_gt_labels, LABELS[[0, 1, 0, 1]])
    np.testing.assert_array_equal(result.bboxes, np.concatenate([GT, proposals[[0, 3, 1, 2]]]))
    without = RandomSampler(num=32, pos_fraction=1, add_gt_as_proposals=False).sample(
        MaxIoUAssignerAVA(pos_iou_thr=0.9, neg_iou_thr=0.9).assign(proposals, GT, LABELS), proposals, GT, LABELS)
    assert without.pos_inds.tolist() == [0, 3] and without.num_gts == 2


def test_sampler_caps_at_random_reproducibly_and_bounds_negatives():
    proposals = np.concatenate([np.tile(GT[:1], (10, 1)), np.array([[50, 50, 60, 60]] * 10, np.float32)])
    assigner = MaxIoUAssignerAVA(pos_iou_thr=0.9, neg_iou_thr=0.9)

    def draw(**kwargs):
        paddle.seed(3)
        return RandomSampler(**kwargs).sample(assigner.assign(proposals, GT, LABELS), proposals, GT, LABELS)

    capped = draw(num=8, pos_fraction=0.5)
    assert len(capped.pos_inds) == 4 and len(capped.neg_inds) == 4
    assert capped.pos_inds.tolist() == sorted(capped.pos_inds) and set(capped.pos_inds) <= set(range(12))
    assert draw(num=8, pos_fraction=0.5).pos_inds.tolist() == capped.pos_inds.tolist()
    bounded = draw(num=32, pos_fraction=0.25, neg_pos_ub=1)
    assert len(bounded.pos_inds) == 8 and len(bounded.neg_inds) == 8
    only_gts = RandomSampler(num=4, pos_fraction=1).sample(assigner.assign(np.zeros((0, 4)), GT, LABELS),
                                                           np.zeros((0, 4)), GT, LABELS)
    assert only_gts.pos_inds.tolist() == [0, 1] and len(only_gts.neg_bboxes) == 0


def test_multilabel_stats_by_hand():
    logits = np.array([[3.0, -3.0, 1.0], [-2.0, 2.0, 0.5]], np.float32)   # probabilities > 0.5: {0, 2}, {1, 2}
    targets = np.array([[1, 0, 0], [0, 1, 1]], np.float32)
    stats = multilabel_stats(logits, targets, topk=(1,))
    assert stats["recall@thr=0.5"] == pytest.approx((1 + 1) / 2)
    assert stats["prec@thr=0.5"] == pytest.approx((1 / 2 + 2 / 2) / 2, rel=1e-5)
    assert stats["recall@top1"] == pytest.approx((1 + 0.5) / 2) and stats["prec@top1"] == pytest.approx(1, rel=1e-5)


def test_bbox2result_layout_normalisation_and_thresholds():
    boxes = np.array([[0, 0, 32, 16], [16, 8, 64, 32]], np.float32)
    scores = np.array([[0.9, 0.2, 0.7], [0.9, 0.6, 0.1]], np.float32)
    out = bbox2result(boxes, scores, 3, (32, 64), thr=0.5)
    assert len(out) == 2 and all(a.dtype == np.float32 for a in out)
    np.testing.assert_allclose(out[0], [[0.25, 0.25, 1.0, 1.0, 0.6]])
    np.testing.assert_allclose(out[1], [[0.0, 0.0, 0.5, 0.5, 0.7]])
    per_class = bbox2result(boxes, scores, 3, (32, 64), thr=[0, 0.1, 0.8])
    assert [len(a) for a in per_class] == [2, 0]
    assert [a.shape for a in bbox2result(np.zeros((0, 4)), np.zeros((0, 3)), 3, (32, 64))] == [(0, 5), (0, 5)]
    with pytest.raises(ConfigError, match="action_thr"):
        bbox2result(boxes, scores, 3, (32, 64), thr=[0.1, 0.2])
