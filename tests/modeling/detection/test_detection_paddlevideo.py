"""Against the real PaddleVideo (the snapshot, imported unmodified): the detector of configs/detection/ava/ava.yaml
has PaddleVideo's 552 state keys and shapes, scores every RoI as PaddleVideo's does on the same weights, and starts
from PaddleVideo's checkpoints (a detection one as is, a recognition 8x8 one for its backbone).

PaddleVideo's BBoxHeadAVA passes a 0-D index to index_select, which Paddle 3 refuses; only that call is shimmed,
inside these tests. Clips are 64 px, 8 Fast frames: each R50 is built once for the module.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.errors import CheckpointError
from paddlevideo_slowfast.interop.weights import load_weights, save_weights
from paddlevideo_slowfast.modeling import build_model

pytestmark = pytest.mark.slow

AVA_CONFIG = Path("configs") / "detection" / "ava" / "ava.yaml"
OURS_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "ava_slowfast_r50_8x8.yaml"
FC = ["roi_head.bbox_head.fc_cls.weight", "roi_head.bbox_head.fc_cls.bias"]
SIZE = 64
ROIS = [np.array([[0, 0, 63, 63], [10, 5, 40, 50], [20, 20, 20, 40], [-8, 30, 30, 80]], np.float32),  # zero width,
        np.array([[3, 7, 30, 33], [0, 0, 64, 64], [40, 40, 44, 46]], np.float32)]                    # partly outside


class IndexSelect0D:
    """`paddle` for PaddleVideo's bbox_head module, whose index_select gets a 0-D index (Paddle 2 took it as [1])."""

    def __getattr__(self, name):
        return getattr(paddle, name)

    @staticmethod
    def index_select(x, index, axis=0, name=None):
        return paddle.index_select(x, index.reshape([1]) if index.ndim == 0 else index, axis=axis, name=name)


@pytest.fixture(scope="module")
def paddlevideo(paddlevideo_dir, tmp_path_factory):
    from paddlevideo_slowfast.plugin.importer import PaddleVideoNotFound, import_paddlevideo, submodule

    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("pv"))  # its logger opens .log.txt in the cwd at import
    try:
        pv = import_paddlevideo(str(paddlevideo_dir))
        modules = {name: submodule(pv, name) for name in ("modeling.builder", "utils", "modeling.heads.bbox_head",
                                                           "modeling.assigners", "modeling.samplers")}
    except (PaddleVideoNotFound, ImportError) as exc:
        pytest.skip(f"PaddleVideo at {paddlevideo_dir} does not import: {exc}")
    finally:
        os.chdir(cwd)
    return modules


@pytest.fixture(scope="module")
def models(paddlevideo, paddlevideo_dir):
    """(ours, theirs) built from PaddleVideo's ava.yaml, each read by its own config loader."""
    path = str(paddlevideo_dir / AVA_CONFIG)
    theirs = paddlevideo["modeling.builder"].build_model(paddlevideo["utils"].get_config(path, show=False).MODEL)
    return build_model(load_config(path).MODEL), theirs


@pytest.fixture
def same_weights(models, paddlevideo, monkeypatch):
    """Both models in eval mode on one random state (no zero-initialised BN), PaddleVideo's head shimmed."""
    monkeypatch.setattr(paddlevideo["modeling.heads.bbox_head"], "paddle", IndexSelect0D())
    rng = np.random.default_rng(0)
    state = {key: _random(key, tuple(value.shape), rng) for key, value in models[1].state_dict().items()}
    for model in models:
        model.set_state_dict(state)
        model.eval()
    return models


def _random(key, shape, rng):
    if key.endswith("_variance"):
        array = rng.uniform(0.5, 1.5, shape)
    elif key.endswith("_mean") or key.endswith("bias"):
        array = rng.normal(0.0, 0.1, shape)
    elif len(shape) == 1:
        array = rng.uniform(0.3, 1.0, shape)
    elif len(shape) == 2:
        array = rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)
    else:
        array = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), shape)
    return array.astype("float32")


def _clips(n=2, seed=1):
    rng = np.random.default_rng(seed)
    return [paddle.to_tensor(rng.normal(size=(n, 3, t, SIZE, SIZE)).astype("float32")) for t in (2, 8)]


def _batch(clips, rois):
    """PaddleVideo's 14-entry test batch of these clips and RoIs (padded to 6 rows, one ground truth each)."""
    n, pad = len(rois), 6
    proposals = np.zeros((n, pad, 4), np.float32)
    for i, r in enumerate(rois):
        proposals[i, :len(r)] = r
    lengths = np.array([len(r) for r in rois])
    ones = np.ones(n, np.int64)
    return [*clips, paddle.to_tensor(proposals), paddle.to_tensor(proposals.copy()),
            paddle.to_tensor(np.zeros((n, pad, 81), np.float32)), paddle.to_tensor(np.zeros((n, pad), np.float32)),
            paddle.to_tensor(np.zeros((n, pad), np.float32)), paddle.to_tensor(np.array([[SIZE, SIZE]] * n)),
            paddle.to_tensor(np.arange(n)), paddle.to_tensor(lengths), *(paddle.to_tensor(ones) for _ in range(4))]


def test_state_dict_keys_and_shapes_are_paddlevideos(models):
    ours, theirs = ({k: tuple(v.shape) for k, v in m.state_dict().items()} for m in models)
    assert len(theirs) == 552 and list(ours) == list(theirs) and ours == theirs
    assert list(ours)[-2:] == FC and ours[FC[0]] == (2304, 81)


def test_our_config_states_paddlevideos_model(paddlevideo_dir):
    """configs/ava_slowfast_r50_8x8.yaml gives every MODEL value ava.yaml gives (its extra keys are defaults)."""
    def leaves(node, prefix=""):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from leaves(value, f"{prefix}.{key}" if prefix else key)
        else:
            yield prefix, node
    ours = dict(leaves(load_config(str(OURS_CONFIG)).MODEL.to_dict()))
    theirs = dict(leaves(load_config(str(paddlevideo_dir / AVA_CONFIG)).MODEL.to_dict()))
    assert {key: ours.get(key) for key in theirs} == theirs


def test_per_roi_scores_equal_paddlevideos(same_weights):
    ours, theirs = same_weights
    clips = _clips()
    rois_num = paddle.to_tensor(np.array([len(r) for r in ROIS], np.int32))
    with paddle.no_grad():
        scores = ours.forward_rois(*clips, paddle.to_tensor(np.concatenate(ROIS)), rois_num).numpy()
        for i, (start, rois) in enumerate(zip((0, len(ROIS[0])), ROIS)):  # PaddleVideo's test path: one clip
            features = theirs.extract_feat([clips[0][i:i + 1], clips[1][i:i + 1]])
            logits = theirs.roi_head._bbox_forward(features, [paddle.to_tensor(rois)], [len(rois)])["cls_score"]
            np.testing.assert_allclose(scores[start:start + len(rois)], paddle.nn.functional.sigmoid(logits).numpy(),
                                       atol=2e-6)
    assert np.isfinite(scores).all() and scores.std() > 0.05  # not a degenerate comparison


def test_test_step_of_two_clips_equals_paddlevideos_one_at_a_time(same_weights):
    ours, theirs = same_weights
    clips = _clips(seed=2)
    with paddle.no_grad():
        both = ours.test_step(_batch(clips, ROIS))
        for i, rois in enumerate(ROIS):
            reference = theirs.test_step(_batch([c[i:i + 1] for c in clips], [rois]))[0]
            assert len(both[i]) == len(reference) == 80
            for mine, expected in zip(both[i], reference):
                np.testing.assert_allclose(mine, expected, atol=2e-6)


def test_assignment_and_sampling_match_paddlevideos(paddlevideo):
    """PaddleVideo's assigner and sampler with ava.yaml's settings pick the same RoIs with the same labels."""
    from paddlevideo_slowfast.modeling.detection import MaxIoUAssignerAVA, RandomSampler

    rng = np.random.default_rng(5)
    gts = np.array([[10, 10, 60, 120], [80, 20, 150, 200], [120, 60, 250, 240]], np.float32)
    labels = np.zeros((3, 81), np.float32)
    labels[[0, 0, 1, 2, 2], [12, 80, 3, 1, 17]] = 1
    jitter = np.concatenate([gts + rng.uniform(-1.5, 1.5, gts.shape), gts + rng.uniform(-12, 12, gts.shape)])
    proposals = np.concatenate([jitter, rng.uniform(0, 128, (4, 2)) @ np.array([[1, 0, 1, 0], [0, 1, 0, 1]])
                                + np.array([0, 0, 60, 60])]).astype(np.float32)
    settings = dict(pos_iou_thr=0.9, neg_iou_thr=0.9, min_pos_iou=0.9)
    ours = MaxIoUAssignerAVA(**settings).assign(proposals, gts, labels)
    theirs = paddlevideo["modeling.assigners"].MaxIoUAssignerAVA(**settings).assign(
        paddle.to_tensor(proposals), paddle.to_tensor(gts), paddle.to_tensor(labels))
    assert ours.gt_inds.tolist() == theirs.gt_inds.numpy().reshape(-1).tolist()
    assert 0 < (ours.gt_inds > 0).sum() < len(proposals)
    np.testing.assert_array_equal(ours.labels, theirs.labels.numpy())
    sample = dict(num=32, pos_fraction=1, neg_pos_ub=-1, add_gt_as_proposals=True)
    mine = RandomSampler(**sample).sample(ours, proposals, gts, labels)
    reference = paddlevideo["modeling.samplers"].RandomSampler(**sample).sample(
        theirs, paddle.to_tensor(proposals), paddle.to_tensor(gts), paddle.to_tensor(labels))
    np.testing.assert_array_equal(mine.bboxes, reference.bboxes.numpy())
    np.testing.assert_array_equal(mine.pos_gt_labels, reference.pos_gt_labels.numpy())


def test_a_paddlevideo_detection_checkpoint_loads_unchanged(models, tmp_path):
    ours, theirs = models
    path = tmp_path / "SlowFastRCNN_AVA.pdparams"
    paddle.save(theirs.state_dict(), str(path))  # how PaddleVideo saves its checkpoints
    assert load_weights(ours, path, allow_head_reinit=False) == []
    for key in (FC[0], "backbone.s5.pathway1_res2.branch2.c_bn._variance"):
        np.testing.assert_array_equal(ours.state_dict()[key].numpy(), theirs.state_dict()[key].numpy())


def test_a_recognition_8x8_checkpoint_initialises_the_backbone(models, reference_dir, tmp_path, caplog):
    """PaddleVideo's SlowFast_8*8 layout (fusion kernel 7, a 400-class head): backbone in, kernel-7 fusion convs cut
    to their centre 5 taps, classifier dropped, fc_cls left fresh and logged; without a new head allowed it fails."""
    ours = models[0]
    rows = [line.split("\t") for line in (reference_dir / "paddlevideo_slowfast_r50_8x8_keys.txt").read_text()
            .splitlines() if line and not line.startswith("#")]
    rng = np.random.default_rng(3)
    given = {key: rng.normal(size=json.loads(shape)).astype("float32") for key, shape, _ in rows}
    path = tmp_path / "SlowFast_8x8.pdparams"
    save_weights(given, path)
    with pytest.raises(CheckpointError) as info:
        load_weights(ours, path, allow_head_reinit=False)
    assert info.value.missing == FC and "head.projection.weight" in info.value.unexpected
    fresh = ours.state_dict()[FC[0]].numpy().copy()
    with caplog.at_level(logging.INFO, logger="paddlevideo_slowfast"):
        assert load_weights(ours, path, allow_head_reinit=True) == FC
    state = ours.state_dict()
    np.testing.assert_array_equal(state[FC[0]].numpy(), fresh)
    np.testing.assert_array_equal(state["backbone.s4.pathway0_res5.branch2.b.weight"].numpy(),
                                  given["backbone.s4.pathway0_res5.branch2.b.weight"])
    np.testing.assert_array_equal(state["backbone.s2_fuse._conv_f2s.weight"].numpy(),
                                  given["backbone.s2_fuse._conv_f2s.weight"][:, :, 1:6])
    assert "centre 5 taps" in caplog.text and "kept fresh: " + ", ".join(FC) in caplog.text
