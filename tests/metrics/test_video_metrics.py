"""CenterCropMetric / MultiCropMetric numbers on hand-made arrays: view averaging, unscored videos, padding."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.metrics import CenterCropMetric, MultiCropMetric, build_metric
from paddlevideo_slowfast.metrics.accuracy import confusion_matrix, per_class_accuracy, softmax, topk_hits
from paddlevideo_slowfast.registry import METRICS

# 3 videos x 3 views, 2 classes (the rest of 4 classes get -inf-ish logits).
#  video 0: one confident view for class 0, two weak views for class 1: the mean softmax says 0, a vote says 1
#  video 1: one very confident logit for class 0, two moderate for class 1: mean logits say 0, mean softmax 1
#  video 2: all views for class 1
VIEWS = np.array([
    [[10.0, 0.0], [0.0, 0.1], [0.0, 0.1]],
    [[10.0, 0.0], [0.0, 3.0], [0.0, 3.0]],
    [[0.0, 2.0], [0.0, 1.0], [1.0, 1.5]],
])
LABELS = np.array([0, 1, 1])


def stacked_logits() -> np.ndarray:
    """[3 videos, 3 views, 4 classes]: VIEWS padded with two never-chosen classes."""
    return np.concatenate([VIEWS, np.full((3, 3, 2), -20.0)], axis=2)


def slowfast_batch(labels, index=None, b=None):
    """PaddleVideo's SlowFast batch: [slow, fast, label(, index)]; inputs are float, labels/index int64."""
    b = len(labels) if b is None else b
    items = [paddle.zeros([b, 3, 1, 2, 2]), paddle.zeros([b, 3, 4, 2, 2]), paddle.to_tensor(np.asarray(labels))]
    return items + ([paddle.to_tensor(np.asarray(index, dtype=np.int64))] if index is not None else [])


def test_registered():
    assert "CenterCropMetric" in METRICS and "MultiCropMetric" in METRICS


def test_accuracy_helpers():
    scores = np.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]])
    labels = np.array([2, 0, 2, 1])
    assert topk_hits(scores, labels, 1).tolist() == [False, True, True, False]
    assert topk_hits(scores, labels, 2).tolist() == [True, True, True, False]  # tie 0.3/0.3: class 0 ranks first
    cm = confusion_matrix(labels, scores.argmax(1), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    videos, correct, accuracy = per_class_accuracy(cm)
    assert videos.tolist() == [1, 1, 2] and correct.tolist() == [1, 0, 1]
    np.testing.assert_allclose(accuracy, [1.0, 0.0, 0.5])
    np.testing.assert_allclose(softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])


def test_multicrop_averages_softmax_over_views():
    metric = MultiCropMetric(num_ensemble_views=3, num_spatial_crops=1, num_classes=4, topk=(1, 2))
    metric.update(0, slowfast_batch(LABELS, index=[0, 1, 2]), paddle.to_tensor(stacked_logits()))
    result = metric.accumulate()
    # video 0 -> class 0 (right), video 1 -> class 1 (right), video 2 -> class 1 (right)
    assert result["top1"] == 1.0 and result["scored"] == 3 and result["unscored"] == 0 and result["incomplete"] == 0
    # the same logits scored per view (vote) or by mean logit would get one video wrong each
    votes = np.array([np.bincount(v.argmax(1), minlength=2).argmax() for v in VIEWS])
    assert (votes == LABELS).sum() == 2 and (VIEWS.mean(1).argmax(1) == LABELS).sum() == 2


def test_flat_view_stream_equals_stacked_views():
    """PaddleVideo's per-view stream (clip index = video * V + view), shuffled and with padding repeats."""
    logits = stacked_logits()
    clips = [(v, k) for v in range(3) for k in range(3)]
    order = np.random.default_rng(0).permutation(len(clips))
    rows = [clips[i] for i in order] + [clips[order[0]]]          # the distributed sampler's padding repeat
    scores = np.stack([logits[v, k] for v, k in rows])
    labels = [LABELS[v] for v, _ in rows]
    index = [v * 3 + k for v, k in rows]
    flat = MultiCropMetric(num_ensemble_views=3, num_spatial_crops=1, num_classes=4)
    for start in range(0, len(rows), 4):
        part = slice(start, start + 4)
        flat.update(start // 4, slowfast_batch(labels[part], index[part]), paddle.to_tensor(scores[part]))
    stacked = MultiCropMetric(num_ensemble_views=3, num_spatial_crops=1, num_classes=4)
    stacked.add(logits, LABELS)
    assert flat.accumulate() == stacked.accumulate()
    for v in range(3):
        np.testing.assert_allclose(flat.videos[v].scores, stacked.videos[v].scores)


def test_probabilities_are_not_softmaxed_twice():
    probs = softmax(stacked_logits())
    a = MultiCropMetric(num_ensemble_views=3, num_spatial_crops=1)
    a.add(probs, LABELS)
    b = MultiCropMetric(num_ensemble_views=3, num_spatial_crops=1)
    b.add(stacked_logits(), LABELS)
    for v in range(3):
        np.testing.assert_allclose(a.videos[v].scores, b.videos[v].scores)


def test_unscored_videos_are_excluded_and_counted():
    metric = MultiCropMetric(num_ensemble_views=3, num_spatial_crops=1, num_classes=4)
    logits = stacked_logits()
    wrong = logits.copy()
    wrong[2] = wrong[2][:, [1, 0, 2, 3]]                          # would score video 2 wrong if counted
    metric.update(0, {"label": paddle.to_tensor(LABELS), "video_index": np.arange(3),
                      "scored": np.array([True, True, False]), "path": ["a.mp4", "b.mp4", "broken.mp4"]},
                  paddle.to_tensor(wrong))
    metric.add(logits[:1], [-1], index=[7], names=["empty.mp4"])  # label -1: the loader could not read it
    metric.add_unscored(["missing.mp4"])
    result = metric.accumulate()
    assert result["top1"] == 1.0 and result["scored"] == 2 and result["unscored"] == 3
    assert metric.unscored_names == ["broken.mp4", "empty.mp4", "missing.mp4"]


def test_centercrop_top1_top5_and_padding_trim():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(10, 8))
    labels = np.argsort(-logits, axis=1)[np.arange(10), [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]]  # rank of the label
    metric = build_metric({"name": "CenterCropMetric"}, data_size=10, batch_size=4)
    padded_logits = np.concatenate([logits, logits[:2]])        # 12 items seen, 10 in the dataset
    padded_labels = np.concatenate([labels, labels[:2]])
    for b in range(3):
        part = slice(4 * b, 4 * b + 4)
        metric.update(b, slowfast_batch(padded_labels[part]), paddle.to_tensor(padded_logits[part]))
    result = metric.accumulate()
    assert result["scored"] == 10
    assert result["top1"] == pytest.approx(0.3) and result["top5"] == pytest.approx(0.7)


def test_two_entry_batch_and_no_index():
    metric = CenterCropMetric(topk=(1,))
    metric.update(0, [paddle.zeros([2, 3, 8, 8]), paddle.to_tensor([[1], [0]])],
                  paddle.to_tensor([[0.1, 0.9], [0.2, 0.8]]))
    assert metric.accumulate() == {"top1": 0.5, "mean_class_accuracy": 0.5, "scored": 2, "unscored": 0}


def test_incomplete_views_are_counted():
    metric = MultiCropMetric(num_ensemble_views=3, num_spatial_crops=1)
    metric.update(0, slowfast_batch([1, 1], index=[0, 1]), paddle.to_tensor(VIEWS[0][:2]))  # 2 of 3 views
    assert metric.accumulate()["incomplete"] == 1


def test_wrong_class_count_is_an_error():
    metric = MultiCropMetric(num_ensemble_views=1, num_spatial_crops=1, num_classes=400)
    with pytest.raises(Exception, match="400"):
        metric.add(np.zeros((1, 1, 10)), [0])


def test_recipe_metric_section_builds(repo_root):
    cfg = load_config(str(repo_root / "configs" / "slowfast.yaml"))
    metric = build_metric(cfg.METRIC, data_size=100, batch_size=1)
    assert isinstance(metric, MultiCropMetric) and metric.num_clips == 30 and metric.num_classes == 400


def test_unknown_metric_key_names_it(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("METRIC:\n  name: MultiCropMetric\n  num_ensemble_view: 10\n")
    with pytest.raises(ConfigError) as info:
        build_metric(load_config(str(path)).METRIC)
    assert info.value.key == "METRIC.num_ensemble_view" and info.value.file == str(path)
