"""BN folding for export: the folded model computes the same function, and only conv->BN pairs are folded."""
from __future__ import annotations

import numpy as np
import paddle
from paddle import nn

from paddlevideo_slowfast.deploy.fold import conv_bn_pairs, fold_batchnorm


class Toy(nn.Layer):
    """conv->BN (foldable), conv with bias->BN (foldable), BN after a ReLU (not), a conv feeding two BNs (not)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3D(3, 8, 3, padding=1, bias_attr=False)
        self.bn1 = nn.BatchNorm3D(8)
        self.conv2 = nn.Conv3D(8, 8, 1)
        self.bn2 = nn.BatchNorm3D(8)
        self.bn_after_relu = nn.BatchNorm3D(8)
        self.shared = nn.Conv3D(8, 8, 1, bias_attr=False)
        self.bn_a = nn.BatchNorm3D(8)
        self.bn_b = nn.BatchNorm3D(8)

    def forward(self, inputs, mode="infer"):
        x = self.bn1(self.conv1(inputs[0]))
        x = self.bn_after_relu(paddle.nn.functional.relu(self.bn2(self.conv2(x))))
        y = self.shared(x)
        return self.bn_a(y) + self.bn_b(y)


def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.sublayers():
        if isinstance(layer, nn.BatchNorm3D):
            c = layer._mean.shape[0]
            layer._mean.set_value(rng.standard_normal(c).astype(np.float32))
            layer._variance.set_value((rng.random(c) + 0.2).astype(np.float32))
            layer.weight.set_value(rng.standard_normal(c).astype(np.float32))
            layer.bias.set_value(rng.standard_normal(c).astype(np.float32))


def test_only_single_conv_bn_pairs_are_found():
    model = Toy()
    model.eval()
    pairs = conv_bn_pairs(model, [paddle.randn([1, 3, 2, 8, 8])])
    assert sorted(pairs) == [("conv1", "bn1"), ("conv2", "bn2")]


def test_folded_model_computes_the_same():
    model = Toy()
    model.eval()
    _randomise(model)
    x = [paddle.randn([2, 3, 2, 8, 8])]
    with paddle.no_grad():
        before = model(x).numpy()
        assert fold_batchnorm(model, x) == 2
        after = model(x).numpy()
    assert isinstance(model.bn1, nn.Identity) and isinstance(model.bn2, nn.Identity)
    assert isinstance(model.bn_after_relu, nn.BatchNorm3D) and isinstance(model.bn_a, nn.BatchNorm3D)
    assert model.conv1.bias is not None and tuple(model.conv1.bias.shape) == (8,)
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-4 * np.abs(before).max())


def test_slowfast_folds_every_bn(tiny_model, clips, dygraph):
    import copy

    model = copy.deepcopy(tiny_model)
    inputs = [paddle.to_tensor(c) for c in clips]
    folded = fold_batchnorm(model, inputs)
    assert folded == sum(isinstance(m, nn.BatchNorm3D) for m in tiny_model.sublayers())
    assert not any(isinstance(m, nn.BatchNorm3D) for m in model.sublayers())
    with paddle.no_grad():
        assert np.abs(model(inputs, mode="infer").numpy() - dygraph).max() < 1e-5


def test_fold_refuses_a_training_model():
    import pytest

    model = Toy()
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(model, [paddle.randn([1, 3, 2, 8, 8])])
