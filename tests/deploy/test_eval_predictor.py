"""accelerate_for_eval (the oneDNN eval predictor of `test`) gives plain dygraph's outputs."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo_slowfast.deploy.eval_predictor import EvalAccelerated, accelerate_for_eval, folded_copy
from paddlevideo_slowfast.modeling import create_model


def tiny_clips(n: int = 2, slow: int = 2, alpha: int = 4, size: int = 64, seed: int = 0) -> list:
    """Random [slow, fast] paddle tensors for slowfast_tiny (alpha 4)."""
    rng = np.random.default_rng(seed)
    return [paddle.to_tensor(rng.normal(size=(n, 3, t, size, size)).astype("float32")) for t in (slow, slow * alpha)]


@pytest.fixture
def clips():
    return tiny_clips


@pytest.fixture(scope="module")
def tiny():
    model = create_model("slowfast_tiny", seed=1)
    model.eval()
    return model


@pytest.fixture(scope="module")
def accelerated(tiny):
    if not paddle.base.core.is_compiled_with_onednn():
        pytest.skip("this Paddle build has no oneDNN")
    net = accelerate_for_eval(tiny)
    assert isinstance(net, EvalAccelerated), "the oneDNN predictor failed to build (see the logged warning)"
    return net


@pytest.mark.parametrize("n,size", [(2, 64), (1, 96)])  # a second shape reuses the same predictor
def test_probabilities_equal_plain_dygraph(tiny, accelerated, clips, n, size):
    batch = clips(n=n, size=size, seed=n)
    with paddle.no_grad():
        expected = tiny(batch, mode="test").numpy()
        features = [f.numpy() for f in tiny.backbone(batch)]
    np.testing.assert_allclose(accelerated(batch, mode="test").numpy(), expected, rtol=1e-4, atol=1e-6)
    for got, want in zip(accelerated.backbone_features(batch), features):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_valid_mode_returns_plain_dygraphs_loss_dict(tiny, accelerated, clips):
    batch = clips(n=2, seed=3) + [paddle.to_tensor([[1], [4]], dtype="int64")]
    with paddle.no_grad():
        expected = tiny(batch, mode="valid")
    got = accelerated(batch, mode="valid")
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(got[key].numpy(), expected[key].numpy(), rtol=1e-5, atol=1e-6)


def test_model_like_interface(tiny, accelerated):
    assert accelerated.head is tiny.head and accelerated.model is tiny
    with pytest.raises(ValueError, match="train"):
        accelerated([], mode="train")


def test_one_pathway_backbone(clips):
    model = create_model("slowfast_tiny", {"backbone": {"name": "ResNetFastOnly"}}, seed=2)
    net = accelerate_for_eval(model)
    assert isinstance(net, EvalAccelerated) or not paddle.base.core.is_compiled_with_onednn()
    batch = clips(n=1, seed=4)
    with paddle.no_grad():
        expected = model(batch).numpy()
    np.testing.assert_allclose(net(batch).numpy(), expected, rtol=1e-4, atol=1e-6)


def test_disabled_returns_the_model_in_eval_mode():
    model = create_model("slowfast_tiny")
    model.train()
    assert accelerate_for_eval(model, enabled=False) is model
    assert not model.training


def test_folded_copy_leaves_the_model_alone(tiny, clips):
    before = {k: v.numpy().copy() for k, v in tiny.backbone.state_dict().items()}
    folded = folded_copy(tiny.backbone)
    assert {k: v.numpy().tolist() for k, v in tiny.backbone.state_dict().items()} == \
        {k: v.tolist() for k, v in before.items()}
    assert not any(isinstance(layer, paddle.nn.BatchNorm3D) for layer in folded.sublayers())
    batch = clips(n=1, seed=6)
    with paddle.no_grad():
        for got, want in zip(folded(batch[:2]), tiny.backbone(batch[:2])):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)
