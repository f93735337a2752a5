"""Fast->Slow laterals: each fusion trains end to end, and each transform does what the paper says."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.modeling import create_model
from paddlevideo_slowfast.modeling.fusion import FUSIONS, build_fusion
from paddlevideo_slowfast.modeling.norm import Norm


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_forward_backward_reaches_both_pathways(fusion, clips):
    model = create_model("slowfast_tiny", {"backbone": {"fusion": fusion}})
    model.train()
    out = model.train_step(clips() + [paddle.to_tensor([[1], [7]])])
    out["loss"].backward()
    assert np.isfinite(float(out["loss"]))
    for pathway in (0, 1):
        grad = getattr(model.backbone.s1, f"pathway{pathway}_stem")._conv.weight.grad.numpy()
        assert np.isfinite(grad).all() and np.abs(grad).max() > 0, f"pathway {pathway}"
    if fusion == "time_strided_conv":
        grad = model.backbone.s1_fuse._conv_f2s.weight.grad.numpy()
        assert np.isfinite(grad).all() and np.abs(grad).max() > 0


def fast_features(c=3, alpha=4, t=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(2, c, alpha * t, 5, 6)).astype("float32")


def test_time_to_channel_packs_alpha_frames_into_channels():
    fast = fast_features()
    slow = np.zeros((2, 7, 2, 5, 6), dtype="float32")
    lateral = build_fusion("time_to_channel", 3, alpha=4, norm=Norm())
    out = lateral([paddle.to_tensor(slow), paddle.to_tensor(fast)])[0].numpy()
    assert out.shape == (2, 7 + 4 * 3, 2, 5, 6)
    # channel c * alpha + j of slow frame t is Fast channel c at frame t * alpha + j
    for c in range(3):
        for j in range(4):
            np.testing.assert_array_equal(out[:, 7 + c * 4 + j], fast[:, c, j::4])


def test_time_strided_sample_keeps_every_alpha_th_frame():
    fast = fast_features()
    out = build_fusion("time_strided_sample", 3, alpha=4, norm=Norm())(
        [paddle.zeros([2, 7, 2, 5, 6]), paddle.to_tensor(fast)])
    np.testing.assert_array_equal(out[0].numpy()[:, 7:], fast[:, :, ::4])
    np.testing.assert_array_equal(out[1].numpy(), fast)


@pytest.mark.parametrize("alpha,kernel", [(8, 5), (4, 7), (4, 5)])
def test_time_strided_conv_lands_on_the_slow_frames(alpha, kernel):
    lateral = build_fusion("time_strided_conv", 3, alpha=alpha, kernel_size=kernel, norm=Norm())
    out = lateral([paddle.zeros([2, 7, 2, 5, 6]), paddle.to_tensor(fast_features(alpha=alpha))])
    assert out[0].shape == [2, 7 + 6, 2, 5, 6]
    assert lateral._conv_f2s.weight.shape == [6, 3, kernel, 1, 1]


def test_unknown_fusion_lists_the_choices():
    with pytest.raises(ConfigError) as err:
        create_model("slowfast_tiny", {"backbone": {"fusion": "sum"}})
    assert err.value.key == "MODEL.backbone.fusion"
    assert all(name in str(err.value) for name in FUSIONS)
