"""PySlowFast's initialisation: Kaiming fan_out convs, BN 1/0 with zeroed final BN, FC N(0, 0.01); seeded."""
from __future__ import annotations

import math

import numpy as np
import pytest
from paddle import nn

from paddlevideo_slowfast.modeling import create_model, initialize
from paddlevideo_slowfast.modeling.stage import Bottleneck


def test_final_bn_of_every_residual_branch_starts_at_zero():
    model = create_model("slowfast_tiny")
    finals = {id(layer.c_bn) for layer in model.sublayers() if isinstance(layer, Bottleneck)}
    assert len(finals) == 8  # 4 stages x 2 pathways x 1 block
    for layer in model.sublayers():
        if isinstance(layer, nn.BatchNorm3D):
            np.testing.assert_array_equal(layer.weight.numpy(), 0.0 if id(layer) in finals else 1.0)
            np.testing.assert_array_equal(layer.bias.numpy(), 0.0)
            np.testing.assert_array_equal(layer._mean.numpy(), 0.0)
            np.testing.assert_array_equal(layer._variance.numpy(), 1.0)


def test_zero_init_final_bn_can_be_turned_off():
    model = create_model("slowfast_tiny", {"backbone": {"zero_init_final_bn": False}})
    np.testing.assert_array_equal(model.backbone.s2.pathway0_res0.branch2.c_bn.weight.numpy(), 1.0)


def test_conv_is_kaiming_fan_out_and_fc_is_normal_001():
    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3D(64, 128, [3, 3, 3], bias_attr=False)
            self.fc = nn.Linear(2304, 400)

    net = Net()
    initialize(net, seed=3)
    conv = net.conv.weight.numpy()
    assert conv.mean() == pytest.approx(0.0, abs=2e-3)
    assert conv.std() == pytest.approx(math.sqrt(2.0 / (128 * 27)), rel=0.02)
    assert net.fc.weight.numpy().std() == pytest.approx(0.01, rel=0.02)
    np.testing.assert_array_equal(net.fc.bias.numpy(), 0.0)


def test_initialisation_is_reproducible_from_the_seed():
    a, b, c = (create_model("slowfast_tiny", seed=s).state_dict() for s in (5, 5, 6))
    key = "backbone.s3.pathway1_res0.branch2.a.weight"
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert not np.array_equal(a[key].numpy(), c[key].numpy())
