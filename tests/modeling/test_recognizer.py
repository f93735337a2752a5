"""Recognizer3D: PaddleVideo's step contract, to_static equivalence, and that it learns."""
from __future__ import annotations

import numpy as np
import paddle
import pytest
from paddle.static import InputSpec

from paddlevideo_slowfast.modeling import create_model
from paddlevideo_slowfast.modeling.fusion import FUSIONS

LABELS = [[1], [7]]


def test_steps_follow_paddlevideos_contract(clips):
    model = create_model("slowfast_tiny")
    batch = clips() + [paddle.to_tensor(LABELS)]
    model.train()
    assert set(model(batch, mode="train")) == {"loss", "top1", "top5"}
    model.eval()
    with paddle.no_grad():
        assert set(model(batch, mode="valid")) == {"loss", "top1", "top5"}
        for mode in ("test", "infer"):
            scores = model(batch, mode=mode).numpy()
            assert scores.shape == (2, 10)
            np.testing.assert_allclose(scores.sum(1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="mode"):
        model(batch, mode="predict")


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_to_static_matches_dygraph(fusion, clips):
    model = create_model("slowfast_tiny", {"backbone": {"fusion": fusion}})
    model.eval()
    x = clips()
    with paddle.no_grad():
        expected = model(x).numpy()
    spec = [[InputSpec([None, 3, 2, 64, 64], "float32", "slow"), InputSpec([None, 3, 8, 64, 64], "float32", "fast")]]
    static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
    with paddle.no_grad():
        got = static(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_a_few_steps_fit_a_fixed_batch(clips):
    paddle.seed(0)
    model = create_model("slowfast_tiny")
    model.train()
    optimizer = paddle.optimizer.Momentum(learning_rate=0.05, momentum=0.9, parameters=model.parameters())
    batch = clips() + [paddle.to_tensor(LABELS)]
    losses = []
    for _ in range(8):
        loss = model.train_step(batch)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


def test_bn_scale_and_shift_have_no_weight_decay():
    """PaddleVideo and PySlowFast exempt BN parameters from L2; convs and the FC keep the optimizer's."""
    model = create_model("slowfast_tiny")
    bn = model.backbone.s1.pathway0_stem._bn
    assert bn.weight.regularizer is not None and bn.weight.regularizer._coeff == 0.0
    assert model.backbone.s1.pathway0_stem._conv.weight.regularizer is None
