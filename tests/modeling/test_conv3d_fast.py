"""temporal_fold_conv3d / FastConv3D compute conv3d's numbers and gradients; the model's train step is unchanged."""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddlevideo_slowfast.modeling import create_model
from paddlevideo_slowfast.modeling.conv3d_fast import FastConv3D, shift_matrix, temporal_fold_conv3d

# x shape, weight shape, stride, padding, does x need a gradient
CASES = {
    "fast_stem": ((1, 3, 8, 30, 30), (4, 3, 5, 7, 7), (1, 2, 2), (2, 3, 3), False),
    "temporal_1x1": ((2, 6, 8, 5, 5), (4, 6, 3, 1, 1), (1, 1, 1), (1, 0, 0), True),
    "temporal_stride": ((2, 4, 8, 4, 4), (3, 4, 5, 1, 1), (2, 1, 1), (2, 0, 0), True),
    "no_temporal_padding": ((1, 2, 6, 9, 9), (3, 2, 3, 3, 3), (1, 2, 2), (0, 1, 1), True),
    "single_tap": ((1, 4, 3, 10, 10), (5, 4, 1, 3, 3), (1, 2, 2), (0, 1, 1), True),
}


def _stride_kernel_flag() -> bool:
    return paddle.get_flags(["FLAGS_use_stride_kernel"])["FLAGS_use_stride_kernel"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_fold_equals_conv3d_forward_and_gradients(case):
    x_shape, w_shape, stride, padding, x_grad = CASES[case]
    rng = np.random.default_rng(0)
    x = paddle.to_tensor(rng.standard_normal(x_shape, dtype=np.float32), stop_gradient=not x_grad)
    w = paddle.to_tensor(rng.standard_normal(w_shape, dtype=np.float32) * 0.1, stop_gradient=False)
    flag = _stride_kernel_flag()

    def run(conv):
        out = conv()
        upstream = paddle.to_tensor(np.random.default_rng(1).standard_normal(out.shape, dtype=np.float32))
        (out * upstream).sum().backward()
        grads = [w.grad.numpy().copy()] + ([x.grad.numpy().copy()] if x_grad else [])
        w.clear_gradient()
        if x_grad:
            x.clear_gradient()
        return [out.numpy()] + grads

    expected = run(lambda: F.conv3d(x, w, stride=list(stride), padding=list(padding)))
    got = run(lambda: temporal_fold_conv3d(x, w, stride=stride, padding=padding))
    for name, e, g in zip(("output", "weight grad", "input grad"), expected, got):
        assert g.shape == e.shape, name
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * np.abs(e).max(), err_msg=name)
    assert _stride_kernel_flag() == flag  # the dense-copy switch is restored after forward and backward


def test_shift_matrix_places_each_tap_at_its_frame():
    s = shift_matrix(4, 3, 1, 1).numpy().reshape(4, 4, 3)  # [t_out, t_in, tap]
    assert s[0, 0, 1] == 1 and s[0, 1, 2] == 1 and s[0].sum() == 2  # frame -1 is padding
    assert s[2, 1, 0] == 1 and s[2, 2, 1] == 1 and s[2, 3, 2] == 1 and s[2].sum() == 3
    assert shift_matrix(8, 5, 8, 2).shape == [1, 40]  # temporal stride: out frames = (8 + 4 - 5) // 8 + 1


def test_fast_conv3d_keeps_conv3d_parameters_and_falls_back_where_it_cannot_fold():
    plain = paddle.nn.Conv3D(3, 4, [3, 3, 3], padding=[1, 1, 1], bias_attr=False)
    fast = FastConv3D(3, 4, [3, 3, 3], padding=[1, 1, 1], bias_attr=False)
    assert isinstance(fast, paddle.nn.Conv3D) and fast.fast
    assert list(fast.state_dict()) == list(plain.state_dict())
    assert not FastConv3D(4, 4, 3, padding=1, groups=2, bias_attr=False).fast
    assert not FastConv3D(4, 4, 3, padding=2, dilation=2, bias_attr=False).fast
    assert not FastConv3D(3, 4, 3, padding=1, bias_attr=False, fast=False).fast


def test_fast_conv3d_adds_a_bias_once(clips):
    layer = FastConv3D(3, 4, [3, 3, 3], stride=[1, 2, 2], padding=[1, 1, 1])  # bias, as after a BN fold
    layer.bias.set_value(np.arange(4, dtype=np.float32))
    x = clips(n=1, size=16)[1]
    expected = paddle.nn.functional.conv3d(x, layer.weight, layer.bias, stride=[1, 2, 2], padding=[1, 1, 1])
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_fast_conv3d_takes_plain_conv3d_in_static_graphs():
    layer = FastConv3D(2, 3, [3, 1, 1], padding=[1, 0, 0], bias_attr=False)
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((1, 2, 4, 3, 3), dtype=np.float32))
    eager = layer(x).numpy()
    static = paddle.jit.to_static(layer.forward, full_graph=True)(x).numpy()
    np.testing.assert_allclose(static, eager, rtol=1e-5, atol=1e-6)


def _train_step(fast_conv: bool, clips):
    model = create_model("slowfast_tiny", {"backbone": {"cpu_fast_conv": fast_conv}}, seed=3)
    model.train()
    slow, fast = clips(n=2, seed=5)
    loss = model([slow, fast, paddle.to_tensor([[1], [7]], dtype="int64")], mode="train")["loss"]
    loss.backward()
    return model, float(loss), {name: p.grad.numpy() for name, p in model.named_parameters() if p.grad is not None}


def test_model_train_step_has_the_same_loss_and_gradients_with_and_without_fast_conv(clips):
    fast_model, fast_loss, fast_grads = _train_step(True, clips)
    _, plain_loss, plain_grads = _train_step(False, clips)
    folded = [name for name, layer in fast_model.named_sublayers() if isinstance(layer, FastConv3D) and layer.fast]
    assert "backbone.s1.pathway1_stem._conv" in folded and "backbone.s2.pathway1_res0.branch2.a" in folded
    assert not any("pathway0" in name for name in folded)  # the Slow pathway keeps conv3d (folding is slower)
    assert fast_loss == pytest.approx(plain_loss, rel=1e-5)
    assert sorted(fast_grads) == sorted(plain_grads)
    for name, expected in plain_grads.items():
        # relative to the whole tensor: a ReLU input within rounding of 0 may flip one element (docs/benchmarks.md)
        error = np.linalg.norm(fast_grads[name] - expected) / max(np.linalg.norm(expected), 1e-12)
        assert error < 1e-4, name
