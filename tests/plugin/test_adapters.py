"""The adapters under PaddleVideo's calling conventions, checked without PaddleVideo: validation leaves unreadable
items out, test folds the views of decode-once items, the dataset takes PaddleVideo's Compose and bare indices, the
metrics read our test batches."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from paddlevideo_slowfast.plugin.adapters import (PaddleVideoMultiCropMetric, PaddleVideoRecognizer3D,
                                                  PaddleVideoSFVideoDataset, our_pipeline)


@pytest.fixture(scope="module")
def model():
    from paddlevideo_slowfast.modeling.variants import variant_config

    cfg = variant_config("slowfast_tiny", {"head": {"num_classes": 4}})  # 8 fast frames, alpha 4, 64 px
    net = PaddleVideoRecognizer3D(cfg["backbone"], cfg["head"])
    net.eval()
    return net


def clips(*batch: int, seed: int = 0):
    import paddle

    rng = np.random.default_rng(seed)
    return [paddle.to_tensor(rng.standard_normal((*batch, 3, t, 64, 64)).astype(np.float32)) for t in (2, 8)]


def test_validation_leaves_unreadable_items_out(model):
    import paddle

    slow, fast = clips(3)
    labels = paddle.to_tensor(np.array([[0], [1], [2]], np.int64))
    readable = paddle.to_tensor(np.array([[True], [False], [True]]))
    out = model.val_step([slow, fast, labels, readable])
    keep = paddle.to_tensor([0, 2])
    expected = model.head.loss(model.forward_net([slow[keep], fast[keep]]), [labels[keep]], valid_mode=True)
    for key in ("loss", "top1", "top5"):
        np.testing.assert_allclose(float(out[key]), float(expected[key]), rtol=1e-6)
    assert model.val_step([slow, fast, labels, paddle.zeros([3, 1], dtype="bool")]) == {}


def test_test_step_folds_the_views_of_each_video(model):
    import paddle

    slow, fast = clips(2, 3)  # 2 videos x 3 views
    with paddle.no_grad():
        out = model.test_step([slow, fast]).numpy()
        flat = model.forward_net([slow.reshape([6, 3, 2, 64, 64]), fast.reshape([6, 3, 8, 64, 64])]).numpy()
        single = model.test_step(clips(2, seed=1)).numpy()
    assert out.shape == (2, 3, 4) and single.shape == (2, 4)
    np.testing.assert_allclose(out.reshape(6, 4), flat, atol=1e-6)


def test_dataset_takes_paddlevideos_compose_and_bare_indices(tiny_cfg):
    from paddlevideo_slowfast.data import Compose, build_pipeline

    stages = build_pipeline(tiny_cfg.PIPELINE.train).stages
    train = tiny_cfg.DATASET.train
    dataset = PaddleVideoSFVideoDataset(train.file_path, SimpleNamespace(pipelines=stages),
                                        data_prefix=train.data_prefix)
    assert isinstance(dataset.pipeline, Compose) and dataset.pipeline.stages == stages
    np.random.seed(5)
    first, again = dataset[3], dataset[3]
    np.random.seed(5)
    repeated = dataset[3]
    assert not np.array_equal(first[1], again[1])  # a fresh crop on every call, as PaddleVideo's sampler needs
    assert all(np.array_equal(a, b) for a, b in zip(first, repeated))  # drawn from NumPy's seeded state
    foreign = SimpleNamespace(pipelines=[lambda results: results])
    assert our_pipeline(foreign) is foreign


def test_metric_reads_our_test_batches():
    metric = PaddleVideoMultiCropMetric(data_size=2, batch_size=2, num_ensemble_views=1, num_spatial_crops=2,
                                        num_classes=3)
    clip = np.zeros((2, 2, 3, 1, 1, 1), np.float32)
    data = [clip, clip, np.array([[0], [2]], np.int64), np.array([[0], [1]], np.int64), np.array([[True], [False]])]
    probs = np.array([[[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]], [[0.1, 0.1, 0.8], [0.2, 0.2, 0.6]]])
    metric.update(0, data, probs)
    result = metric.accumulate()
    assert (result["scored"], result["unscored"], result["top1"]) == (1, 1, 1.0)
