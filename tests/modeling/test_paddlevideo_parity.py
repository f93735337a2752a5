"""Numerical parity with the real PaddleVideo: the same random weights give the same scores.

PaddleVideo's ResNetSlowFast + SlowFastHead are imported from the snapshot by path and loaded with one random
state dict shared with ours: eval at 224 and 256 (the 2x2 grid), train at 224 (dropout 0), for R50 4x16 with
the fixed pooling window and R50 8x8 with PaddleVideo's multigrid_short (our `pool: adaptive`). Clips are one
sample of 2 Slow frames to keep the CPU time down; every layer still sees more than one frame.
"""
from __future__ import annotations

import sys

import numpy as np
import paddle
import pytest
from paddle import nn

from paddlevideo_slowfast.modeling import create_model

GEOMETRY = {  # variant, alpha, fusion kernel, fast frames for 2 slow frames, pool
    "4x16": ("slowfast_r50_4x16", 8, 5, 16, "fixed"),
    "8x8": ("slowfast_r50_8x8", 4, 7, 8, "adaptive"),
}


@pytest.fixture(scope="module")
def paddlevideo_classes(paddlevideo_dir):
    sys.path.insert(0, str(paddlevideo_dir))
    try:
        from paddlevideo.modeling.backbones.resnet_slowfast import ResNetSlowFast
        from paddlevideo.modeling.heads.slowfast_head import SlowFastHead
    except ImportError as exc:  # its package import needs optional dependencies
        pytest.skip(f"PaddleVideo at {paddlevideo_dir} does not import: {exc}")
    finally:
        sys.path.remove(str(paddlevideo_dir))
    return ResNetSlowFast, SlowFastHead


class PaddleVideoModel(nn.Layer):
    """PaddleVideo's backbone + head under the names its Recognizer3D gives them."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, clips):
        return self.head(self.backbone(clips))


def random_state(model, seed=0):
    """He-scaled conv/FC weights and non-trivial BN scales, shifts and statistics (nothing zero-initialised)."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, value in model.state_dict().items():
        shape = value.shape
        if key.endswith("_variance"):
            array = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("_mean") or (key.endswith("bias")):
            array = rng.normal(0.0, 0.1, shape)
        elif len(shape) == 1:  # BN scale
            array = rng.uniform(0.3, 1.0, shape)
        elif len(shape) == 2:  # FC [in, out]
            array = rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)
        else:
            array = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), shape)
        state[key] = array.astype("float32")
    return state


@pytest.fixture(scope="module")
def model_pairs(paddlevideo_classes):
    backbone_cls, head_cls = paddlevideo_classes
    cache = {}

    def get(geometry):
        if geometry not in cache:
            variant, alpha, kernel, frames, pool = GEOMETRY[geometry]
            ours = create_model(variant, {"head": {"num_frames": frames, "dropout_rate": 0.0, "pool": pool}})
            theirs = PaddleVideoModel(
                backbone_cls(alpha=alpha, beta=8, depth=50, width_per_group=64, fusion_kernel_sz=kernel),
                head_cls(width_per_group=64, alpha=alpha, beta=8, num_classes=400, num_frames=frames, crop_size=224,
                         dropout_rate=0.0, multigrid_short=pool == "adaptive"))
            cache[geometry] = (ours, theirs, random_state(ours))
        return cache[geometry]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("geometry", sorted(GEOMETRY))
@pytest.mark.parametrize("mode,crop", [("eval", 224), ("eval", 256), ("train", 224)])
def test_scores_equal_paddlevideos(geometry, mode, crop, model_pairs):
    ours, theirs, state = model_pairs(geometry)
    _, alpha, _, frames, _ = GEOMETRY[geometry]
    rng = np.random.default_rng(1)
    clips = [rng.normal(size=(1, 3, t, crop, crop)).astype("float32") for t in (frames // alpha, frames)]
    outputs = []
    for model in (ours, theirs):
        model.set_state_dict(state)  # again each time: training mode moves the BN statistics
        model.train() if mode == "train" else model.eval()
        with paddle.no_grad():
            outputs.append(model([paddle.to_tensor(c) for c in clips]).numpy().astype("float64"))
    if mode == "eval":  # class probabilities: compare their logs, which live on the logits' scale
        outputs = [np.log(o) for o in outputs]
    scale = np.abs(outputs[1]).max()
    assert np.ptp(outputs[1]) > 0.1, "degenerate scores would make the comparison vacuous"
    assert np.abs(outputs[0] - outputs[1]).max() <= 1e-4 * scale
