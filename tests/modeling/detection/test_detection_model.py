"""The tiny FastRCNN end to end: build from a MODEL config, train_step (loss, stats, backward), test_step layout
with several clips a batch, and the config errors that name their key."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from detection_fakes import TINY_CLASSES, ava_batch, multi_hot, tiny_model_cfg
from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.modeling import build_model
from paddlevideo_slowfast.modeling.detection import FastRCNN

GT = [np.array([[8, 8, 40, 56]], np.float32), np.array([[0, 0, 30, 30], [30, 20, 62, 60]], np.float32)]
LABELS = [multi_hot([[1, 3]]), multi_hot([[2], [4, 5]])]
PROPOSALS = [np.array([[8, 8, 40, 57], [30, 30, 60, 60], [0, 0, 64, 64]], np.float32),
             np.array([[0, 0, 30, 31], [31, 20, 62, 60], [10, 40, 20, 60], [5, 5, 5, 25]], np.float32)]


def batch_of(proposals=PROPOSALS, gts=GT, labels=LABELS, **kwargs):
    return ava_batch(proposals, gts, labels, **kwargs)


def one_clip(batch, i):
    """Clip i of a batch as a batch of its own."""
    return [entry[i:i + 1] for entry in batch]


def test_builds_from_a_model_config_with_paddlevideos_keys(tiny_detector):
    model = tiny_detector()
    assert isinstance(model, FastRCNN) and model.num_classes == TINY_CLASSES
    keys = list(model.state_dict())
    assert all(k.startswith("backbone.") for k in keys[:-2])
    assert keys[-2:] == ["roi_head.bbox_head.fc_cls.weight", "roi_head.bbox_head.fc_cls.bias"]
    assert model.roi_head.bbox_head.fc_cls.weight.shape == [8 * 32 + 8 * 32 // 4, TINY_CLASSES]  # derived width
    assert model.roi_head.bbox_roi_extractor.featmap_stride == 16                      # res5 at stride 1


def test_train_step_loss_stats_and_backward(tiny_detector):
    model = tiny_detector()
    model.train()
    out = model(batch_of(), mode="train")
    assert set(out) == {"loss", "recall@thr=0.5", "prec@thr=0.5", "recall@top1", "prec@top1", "recall@top2",
                        "prec@top2"}
    assert np.isfinite(float(out["loss"]))
    out["loss"].backward()
    assert np.abs(model.roi_head.bbox_head.fc_cls.weight.grad.numpy()).sum() > 0
    assert np.abs(model.backbone.s1.pathway0_stem._conv.weight.grad.numpy()).sum() > 0


def test_the_loss_is_bce_over_the_positive_rois_and_their_labels(tiny_detector):
    """Positives: the ground truths, then the proposals at IoU >= 0.9, each with its person's actions; the
    negatives (IoU < 0.9) are sampled but enter no loss."""
    model = tiny_detector(bbox_head={"name": "BBoxHeadAVA", "num_classes": TINY_CLASSES, "dropout_ratio": 0.0})
    model.train()
    batch = batch_of()
    loss = float(model.train_step(batch)["loss"])
    rois = np.concatenate([GT[0], PROPOSALS[0][:1], GT[1], PROPOSALS[1][:2]])
    targets = np.concatenate([LABELS[0], LABELS[0], LABELS[1], LABELS[1]])[:, 1:]
    logits = model.roi_head.scores(model.backbone(batch[0:2]), paddle.to_tensor(rois),
                                   paddle.to_tensor(np.array([2, 4], np.int32))).numpy()[:, 1:]
    bce = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    assert loss == pytest.approx(float(bce.mean()), rel=1e-5)


def test_train_step_without_any_positive_gives_zero_loss_that_backpropagates(tiny_detector):
    model = tiny_detector()
    model.train()
    empty = [np.zeros((0, 4), np.float32)] * 2
    out = model.train_step(batch_of(gts=empty, labels=[np.zeros((0, TINY_CLASSES), np.float32)] * 2))
    assert float(out["loss"]) == 0.0 and float(out["recall@thr=0.5"]) == 0.0
    out["loss"].backward()
    assert model.backbone.s1.pathway0_stem._conv.weight.grad is not None
    nothing = model.train_step(batch_of(proposals=empty, gts=empty,
                                        labels=[np.zeros((0, TINY_CLASSES), np.float32)] * 2))
    assert float(nothing["loss"]) == 0.0
    nothing["loss"].backward()


def test_test_step_layout_with_two_clips_equals_each_clip_alone(tiny_detector):
    model = tiny_detector()
    model.eval()
    batch = batch_of(img_shapes=[[64, 64], [64, 128]])
    both = model.test_step(batch)
    assert len(both) == 2 and all(len(clip) == TINY_CLASSES - 1 for clip in both)
    for i, clip in enumerate(both):
        assert all(a.shape == (len(PROPOSALS[i]), 5) and a.dtype == np.float32 for a in clip)  # action_thr 0
        alone = model.test_step(one_clip(batch, i))[0]
        for ours, reference in zip(clip, alone):
            np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(both[1][0][:, :4], PROPOSALS[1] / np.array([128, 64, 128, 64]), rtol=1e-6)
    rois = paddle.to_tensor(np.concatenate(PROPOSALS))
    probabilities = model.forward_rois(batch[0], batch[1], rois, paddle.to_tensor(np.array([3, 4], np.int32)))
    np.testing.assert_allclose(both[0][2][:, 4], probabilities.numpy()[:3, 3], atol=1e-6)  # class 3 at position 2


def test_a_clip_without_proposals_gives_empty_arrays(tiny_detector):
    model = tiny_detector(action_thr=0.5)
    model.eval()
    out = model.test_step(batch_of(proposals=[np.zeros((0, 4), np.float32), PROPOSALS[1]]))
    assert [a.shape for a in out[0]] == [(0, 5)] * (TINY_CLASSES - 1)
    assert all(a.shape[1] == 5 and (a[:, 4] > 0.5).all() for a in out[1])


def test_zero_area_roi_scores_the_bias_alone(tiny_detector):
    model = tiny_detector()
    model.eval()
    bias = np.linspace(-2, 2, TINY_CLASSES).astype(np.float32)
    model.roi_head.bbox_head.fc_cls.bias.set_value(bias)
    batch = batch_of()
    rois = paddle.to_tensor(np.array([[5, 5, 5, 25], [10, 10, 40, 10]], np.float32))
    scores = model.forward_rois(batch[0][:1], batch[1][:1], rois, paddle.to_tensor(np.array([2], np.int32)))
    np.testing.assert_allclose(scores.numpy(), np.tile(1 / (1 + np.exp(-bias)), (2, 1)), rtol=1e-6)


@pytest.mark.parametrize("head, key", [
    ({"bbox_roi_extractor": {"name": "SingleRoIExtractor3D", "featmap_stride": 32}},
     "MODEL.head.bbox_roi_extractor.featmap_stride"),
    ({"bbox_roi_extractor": {"name": "SingleRoIExtractor3D", "roi_layer_type": "RoIPool"}},
     "MODEL.head.bbox_roi_extractor.roi_layer_type"),
    ({"bbox_head": {"name": "BBoxHeadAVA", "in_channels": 2304, "num_classes": 6}}, "MODEL.head.bbox_head.in_channels"),
    ({"bbox_head": {"name": "BBoxHeadAVA", "num_classes": 6, "multilabel": False}}, "MODEL.head.bbox_head.multilabel"),
    ({"assigner": {"name": "MaxIoUAssignerAVA", "pos_iou_thr": 0.9, "neg_iou_thr": 0.9, "pos_thr": 1}},
     "MODEL.head.assigner.pos_thr"),
])
def test_config_errors_name_their_key(head, key):
    with pytest.raises(ConfigError) as info:
        build_model(tiny_model_cfg(**head))
    assert info.value.key == key


def test_a_config_error_names_the_file(tmp_path):
    path = tmp_path / "det.yaml"
    path.write_text("MODEL:\n  framework: FastRCNN\n  backbone: {name: ResNetSlowFast, depth: 10, width_per_group: 8, "
                    "alpha: 4, beta: 4, spatial_strides: [[1, 1], [2, 2], [2, 2], [1, 1]]}\n"
                    "  head: {name: AVARoIHead, bbox_roi_extractor: {name: SingleRoIExtractor3D}, "
                    "bbox_head: {name: BBoxHeadAVA, in_channels: 99},\n"
                    "         assigner: {name: MaxIoUAssignerAVA, pos_iou_thr: 0.9, neg_iou_thr: 0.9},\n"
                    "         sampler: {name: RandomSampler, num: 8, pos_fraction: 1}}\n")
    with pytest.raises(ConfigError) as info:
        build_model(load_config(str(path)).MODEL)
    assert info.value.file == str(path) and "in_channels" in str(info.value)


def test_a_detection_checkpoint_for_other_classes_keeps_a_fresh_classifier_only_when_allowed(tiny_detector, tmp_path):
    from paddlevideo_slowfast.errors import CheckpointError
    from paddlevideo_slowfast.interop.weights import load_weights, save_weights

    source = build_model(tiny_model_cfg(bbox_head={"name": "BBoxHeadAVA", "num_classes": 9}), seed=1)
    path = tmp_path / "other_classes.pdparams"
    save_weights(source.state_dict(), path)
    model = tiny_detector()
    fresh = model.roi_head.bbox_head.fc_cls.bias.numpy().copy() + 0.5
    model.roi_head.bbox_head.fc_cls.bias.set_value(fresh)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_weights(model, path, allow_head_reinit=False)
    assert load_weights(model, path, allow_head_reinit=True) == ["roi_head.bbox_head.fc_cls.weight",
                                                                 "roi_head.bbox_head.fc_cls.bias"]
    np.testing.assert_array_equal(model.roi_head.bbox_head.fc_cls.bias.numpy(), fresh)
    key = "backbone.s5.pathway1_res0.branch2.c.weight"
    np.testing.assert_array_equal(model.state_dict()[key].numpy(), source.state_dict()[key].numpy())
