"""build_optimizer: decay groups checked numerically on a tiny model, PaddleVideo's L2, config errors."""
from __future__ import annotations

import numpy as np
import paddle
import pytest
from paddle import nn

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.solver import build_optimizer, split_decay_parameters

LR, MU, WD = 0.1, 0.9, 0.05
CONSTANT_LR = {"name": "LinearWarmupCosineDecay", "iter_step": True, "base_lr": LR, "max_epoch": 1000}


class Tiny(nn.Layer):
    """conv (no bias) -> BN -> pool -> FC (weight + bias), like SlowFast's layer kinds."""

    def __init__(self, bn_attr=None):
        super().__init__()
        self.conv = nn.Conv3D(2, 4, 3, padding=1, bias_attr=False)
        self.bn = nn.BatchNorm3D(4, weight_attr=bn_attr, bias_attr=bn_attr)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = nn.functional.relu(self.bn(self.conv(x)))
        return self.fc(x.mean(axis=[2, 3, 4]))


def tiny(bn_attr=None) -> Tiny:
    paddle.seed(3)
    return Tiny(bn_attr)


def batch():
    paddle.seed(4)
    return paddle.randn([2, 2, 3, 4, 4]), paddle.to_tensor([0, 2])


def loss_of(model):
    x, y = batch()
    return nn.functional.cross_entropy(model(x), y)


def one_step(model, optimizer):
    """(weights before, gradients, weights after) of one step, by structured name."""
    before = {n: p.numpy().copy() for n, p in model.named_parameters() if not p.stop_gradient}
    loss_of(model).backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters() if not p.stop_gradient}
    optimizer.step()
    optimizer.clear_grad()
    after = {n: p.numpy().copy() for n, p in model.named_parameters() if not p.stop_gradient}
    return before, grads, after


def section(name="Momentum", **decay):
    cfg = {"name": name, "learning_rate": dict(CONSTANT_LR), "weight_decay": {"name": "L2", "value": WD, **decay}}
    if name == "Momentum":
        cfg.update(momentum=MU, use_nesterov=True)
    return cfg


@pytest.mark.parametrize("exclude_bn, exclude_bias, decayed", [
    (True, False, {"conv.weight", "fc.weight", "fc.bias"}),
    (False, False, {"conv.weight", "fc.weight", "fc.bias", "bn.weight", "bn.bias"}),
    (True, True, {"conv.weight", "fc.weight"}),
])
def test_momentum_step_decays_exactly_the_chosen_parameters(exclude_bn, exclude_bias, decayed):
    """First Nesterov step from zero velocity: w1 = w0 - lr * (1 + mu) * (g + wd * w0 if decayed else g)."""
    model = tiny()
    optimizer, _ = build_optimizer(section(exclude_bn=exclude_bn, exclude_bias=exclude_bias), model, num_iters=5)
    before, grads, after = one_step(model, optimizer)
    assert set(before) == {"conv.weight", "bn.weight", "bn.bias", "fc.weight", "fc.bias"}
    for name in before:
        g = grads[name] + (WD * before[name] if name in decayed else 0.0)
        np.testing.assert_allclose(after[name], before[name] - LR * (1 + MU) * g, rtol=1e-5, atol=1e-7,
                                   err_msg=name)


def test_sgd_step_is_coupled_l2():
    model = tiny()
    optimizer, _ = build_optimizer(section("SGD"), model, num_iters=5)
    before, grads, after = one_step(model, optimizer)
    for name in before:
        decay = 0.0 if name.startswith("bn.") else WD * before[name]
        np.testing.assert_allclose(after[name], before[name] - LR * (grads[name] + decay), rtol=1e-5, atol=1e-7)


def test_matches_paddlevideo_l2_over_several_steps():
    """PaddleVideo: Momentum(weight_decay=L2Decay(v)) with BN exempt through a ParamAttr L2Decay(0)."""
    ours = tiny()
    optimizer, _ = build_optimizer(section(), ours, num_iters=5)
    reference = tiny(paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(0.0)))
    ref_opt = paddle.optimizer.Momentum(LR, MU, parameters=reference.parameters(), use_nesterov=True,
                                        weight_decay=paddle.regularizer.L2Decay(WD))
    for _ in range(3):
        one_step(ours, optimizer)
        one_step(reference, ref_opt)
    for (name, mine), theirs in zip(ours.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-8, err_msg=name)


def test_config_overrides_a_layer_param_attr():
    """A model whose BN carries PaddleVideo's ParamAttr L2Decay(0) is still decayed when the switch is off."""
    model = tiny(paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(0.0)))
    optimizer, _ = build_optimizer(section(exclude_bn=False), model, num_iters=5)
    before, grads, after = one_step(model, optimizer)
    g = grads["bn.weight"] + WD * before["bn.weight"]
    np.testing.assert_allclose(after["bn.weight"], before["bn.weight"] - LR * (1 + MU) * g, rtol=1e-5, atol=1e-7)


def test_adamw_decay_is_decoupled_and_skips_bn_and_bias():
    model = tiny()
    optimizer, _ = build_optimizer(section("AdamW", exclude_bias=True), model, num_iters=5)
    reference = tiny()
    names = {p.name: n for n, p in reference.named_parameters()}
    ref_opt = paddle.optimizer.AdamW(LR, parameters=reference.parameters(), weight_decay=WD,
                                     apply_decay_param_fun=lambda pname: names[pname] in ("conv.weight", "fc.weight"))
    for _ in range(2):
        one_step(model, optimizer)
        one_step(reference, ref_opt)
    for (name, mine), theirs in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-8, err_msg=name)


def test_split_counts():
    decay, exempt = split_decay_parameters(tiny())
    assert len(decay) == 3 and len(exempt) == 4        # BN: weight, bias and the two running statistics
    decay, exempt = split_decay_parameters(list(tiny().parameters()), exclude_bn=True)
    assert sorted(len(p.shape) for p in decay) == [2, 5]


def test_recipe_configs_build(repo_root):
    for name, schedule in [("slowfast.yaml", "CustomWarmupCosineDecay"),
                           ("slowfast_8x8.yaml", "CustomWarmupPiecewiseDecay")]:
        cfg = load_config(str(repo_root / "configs" / name))
        optimizer, scheduler = build_optimizer(cfg.OPTIMIZER, tiny(), num_iters=100)
        assert type(optimizer).__name__ == "Momentum" and type(scheduler).__name__ == schedule
        assert optimizer.get_lr() == pytest.approx(0.01) and scheduler.iter_step


def test_adamw_fragment_builds(repo_root):
    cfg = load_config(str(repo_root / "configs" / "_base_" / "schedules" / "adamw_cosine_30e.yaml"))
    optimizer, scheduler = build_optimizer(cfg.OPTIMIZER, tiny(), num_iters=38)
    assert type(optimizer).__name__ == "AdamW" and scheduler.last_lr == pytest.approx(2e-4)
    assert cfg.epochs == cfg.OPTIMIZER.learning_rate.max_epoch == 30


def test_adamw_fragment_replaces_the_recipe_optimizer(repo_root, tmp_path):
    path = tmp_path / "quick.yaml"
    path.write_text(f"_BASE_:\n  - {repo_root / 'configs' / 'slowfast.yaml'}\n"
                    f"  - {repo_root / 'configs' / '_base_' / 'schedules' / 'adamw_cosine_30e.yaml'}\n")
    cfg = load_config(str(path))
    assert "momentum" not in cfg.OPTIMIZER
    build_optimizer(cfg.OPTIMIZER, tiny(), num_iters=38)


def test_grad_clip_and_multi_precision():
    cfg = dict(section(), grad_clip={"name": "ClipGradByGlobalNorm", "value": 40})
    optimizer, _ = build_optimizer(cfg, tiny(), num_iters=5, multi_precision=True)
    assert isinstance(optimizer._grad_clip, nn.ClipGradByGlobalNorm) and optimizer._multi_precision


def _write(tmp_path, text):
    path = tmp_path / "opt.yaml"
    path.write_text("OPTIMIZER:\n" + text + "  learning_rate: {name: LinearWarmupCosineDecay, base_lr: 0.1, "
                    "max_epoch: 10}\n")
    return path, load_config(str(path))


@pytest.mark.parametrize("text, key", [
    ("  name: Momentun\n", "OPTIMIZER.name"),
    ("  name: SGD\n  momentum: 0.9\n", "OPTIMIZER.momentum"),
    ("  name: Momentum\n  weight_decay: {name: L2, value: 1e-4, exclude_bnn: True}\n",
     "OPTIMIZER.weight_decay.exclude_bnn"),
    ("  name: Momentum\n  weight_decay: {name: L3, value: 1e-4}\n", "OPTIMIZER.weight_decay.name"),
    ("  name: Momentum\n  grad_clip: {name: Clipper, value: 1}\n", "OPTIMIZER.grad_clip.name"),
])
def test_config_errors_name_key_and_file(tmp_path, text, key):
    path, cfg = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        build_optimizer(cfg.OPTIMIZER, tiny(), num_iters=5)
    assert info.value.key == key and info.value.file == str(path)
