"""SlowFastHead: PaddleVideo's fixed-window pooling with grid averaging, adaptive pooling, loss, consistency."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.modeling import build_model
from paddlevideo_slowfast.modeling.head import SlowFastHead


def head(**kwargs):
    """A head for 2 + 8 frames at 64 px (res5 2x2), widths 16 and 4, 5 classes."""
    args = dict(num_classes=5, num_frames=8, crop_size=64, dropout_rate=0.0, in_channels=[16, 4],
                temporal_divisors=[4, 1])
    args.update(kwargs)
    layer = SlowFastHead(**args)
    rng = np.random.default_rng(1)
    layer.projection.weight.set_value(rng.normal(size=(20, 5)).astype("float32"))
    layer.projection.bias.set_value(rng.normal(size=5).astype("float32"))
    return layer


def features(size, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, 16, 2, size, size)).astype("float32"),
            rng.normal(size=(3, 4, 8, size, size)).astype("float32")]


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_pool_windows_come_from_the_training_clip():
    layer = SlowFastHead(in_channels=[2048, 256], temporal_divisors=[8, 1], num_frames=32, crop_size=224)
    assert layer.pool_sizes == [[4, 7, 7], [32, 7, 7]]


def test_fixed_window_at_a_larger_crop_averages_softmax_over_the_grid():
    """At 96 px res5 is 3x3 and the 2x2 training window fits at 2x2 positions: softmax each, then average."""
    layer = head()
    layer.eval()
    slow, fast = features(3)
    got = layer([paddle.to_tensor(slow), paddle.to_tensor(fast)]).numpy()
    w, b = layer.projection.weight.numpy(), layer.projection.bias.numpy()
    expected = np.zeros((3, 5))
    for i in range(2):
        for j in range(2):
            pooled = np.concatenate([slow[..., i:i + 2, j:j + 2].mean((2, 3, 4)),
                                     fast[..., i:i + 2, j:j + 2].mean((2, 3, 4))], axis=1)
            expected += softmax(pooled @ w + b) / 4
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_adaptive_pool_is_one_global_average():
    layer = head(pool="adaptive")
    layer.eval()
    slow, fast = features(3)
    got = layer([paddle.to_tensor(slow), paddle.to_tensor(fast)]).numpy()
    pooled = np.concatenate([slow.mean((2, 3, 4)), fast.mean((2, 3, 4))], axis=1)
    w, b = layer.projection.weight.numpy(), layer.projection.bias.numpy()
    np.testing.assert_allclose(got, softmax(pooled @ w + b), rtol=1e-5, atol=1e-6)
    assert head(multigrid_short=True).adaptive  # PaddleVideo's name for it


def test_at_the_training_size_fixed_equals_adaptive_and_training_gives_logits():
    x = [paddle.to_tensor(a) for a in features(2)]
    fixed, adaptive = head(), head(pool="adaptive")
    for layer in (fixed, adaptive):
        layer.eval()
    np.testing.assert_allclose(fixed(x).numpy(), adaptive(x).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fixed(x).numpy().sum(1), 1.0, rtol=1e-5)
    fixed.train()
    logits = fixed(x).numpy()
    np.testing.assert_allclose(softmax(logits), adaptive(x).numpy(), rtol=1e-4, atol=1e-6)


def test_loss_dict_and_probability_loss_in_eval():
    layer = head()
    x = [paddle.to_tensor(a) for a in features(2)]
    labels = paddle.to_tensor([[0], [3], [4]], dtype="int64")
    layer.train()
    out = layer.loss(layer(x), [labels])
    assert set(out) == {"loss", "top1", "top5"}
    assert float(out["top5"]) == 1.0  # 5 classes
    layer.eval()
    probs = layer(x)
    loss = float(layer.loss(probs, [labels], valid_mode=True)["loss"])
    expected = -np.log(probs.numpy()[np.arange(3), [0, 3, 4]]).mean()
    assert loss == pytest.approx(expected, rel=1e-5)


def test_unknown_pool_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        head(pool="max")
    assert err.value.key == "MODEL.head.pool"


def test_restated_head_key_must_agree_with_the_backbone(tmp_path, repo_root):
    base = repo_root / "configs" / "_base_" / "models" / "slowfast_r50_4x16.yaml"
    cfg_file = tmp_path / "model.yaml"
    cfg_file.write_text(f"_BASE_: {base}\nMODEL:\n  head:\n    alpha: 4\n")
    cfg = load_config(str(cfg_file), ["MODEL.backbone.depth=10", "MODEL.backbone.width_per_group=8",
                                      "MODEL.head.width_per_group=8"])
    with pytest.raises(ConfigError) as err:
        build_model(cfg.MODEL)
    message = str(err.value)
    assert "MODEL.head.alpha" in message and "MODEL.backbone.alpha" in message
    assert err.value.file == str(cfg_file) and str(base) in message
    assert err.value.key == "MODEL.head.alpha"


def test_head_widths_follow_the_backbone():
    """Restated keys may be left out: the head's input widths come from the backbone."""
    model = build_model({"framework": "Recognizer3D",
                         "backbone": {"name": "ResNetSlowFast", "depth": 10, "width_per_group": 8, "beta": 4},
                         "head": {"name": "SlowFastHead", "num_classes": 7}})
    assert model.backbone.out_channels == [256, 64]
    assert model.head.projection.weight.shape == [320, 7]


def test_a_clip_smaller_than_the_window_is_a_clear_error():
    layer = head()
    layer.eval()
    with pytest.raises(ValueError, match="pooling window"):
        layer([paddle.to_tensor(a) for a in features(1)])
