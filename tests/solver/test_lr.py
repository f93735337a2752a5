"""LR schedules: values at key iterations, exact parity with PaddleVideo's, state round trip, config errors."""
from __future__ import annotations

import importlib.util
import math

import paddle
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.registry import LRSCHEDULERS
from paddlevideo_slowfast.solver import build_lr

COSINE = {"name": "CustomWarmupCosineDecay", "iter_step": True, "warmup_start_lr": 0.01, "warmup_epochs": 34,
          "cosine_base_lr": 0.1, "max_epoch": 196}
PIECEWISE = {"name": "CustomWarmupPiecewiseDecay", "iter_step": True, "warmup_start_lr": 0.01, "warmup_epochs": 34,
             "step_base_lr": 0.1, "lrs": [1, 0.1, 0.01, 0.001, 0.0001, 0.00001], "gamma": 0.1,
             "steps": [0, 94, 154, 196], "max_epoch": 239}
QUICK = {"name": "LinearWarmupCosineDecay", "iter_step": True, "base_lr": 2e-3, "warmup_start_lr": 2e-4,
         "warmup_epochs": 2, "max_epoch": 30, "min_lr": 1e-5}


def lrs_by_iteration(scheduler, iterations: int) -> list:
    """lr in effect at iterations 0..iterations-1 (the scheduler is stepped after each)."""
    out = []
    for _ in range(iterations):
        out.append(scheduler())
        scheduler.step()
    return out


def test_registered_names():
    for name in ("CustomWarmupCosineDecay", "CustomWarmupPiecewiseDecay", "LinearWarmupCosineDecay"):
        assert name in LRSCHEDULERS


def test_cosine_key_values():
    n = 10
    lrs = lrs_by_iteration(build_lr(COSINE, n), 196 * n + 1)
    cos = lambda e: 0.1 * (math.cos(math.pi * e / 196) + 1) / 2  # noqa: E731
    assert lrs[0] == pytest.approx(0.01, rel=1e-12)
    assert lrs[17 * n] == pytest.approx(0.01 + (cos(34) - 0.01) / 2, rel=1e-9)   # half-way up the warmup line
    assert lrs[34 * n] == pytest.approx(cos(34), rel=1e-9)                       # end of warmup meets the cosine
    assert cos(34) == pytest.approx(0.092757, abs=1e-6)
    assert lrs[98 * n] == pytest.approx(0.05, rel=1e-9)                          # half of max_epoch
    assert lrs[196 * n] == pytest.approx(0.0, abs=1e-12)
    assert all(a <= b for a, b in zip(lrs[:34 * n], lrs[1:34 * n + 1]))
    assert all(a >= b for a, b in zip(lrs[34 * n:], lrs[34 * n + 1:]))


def test_piecewise_key_values():
    n = 5
    lrs = lrs_by_iteration(build_lr(PIECEWISE, n), 239 * n)
    assert lrs[0] == pytest.approx(0.01)
    assert lrs[17 * n] == pytest.approx(0.055, rel=1e-9)
    for epoch, value in [(35, 0.1), (93, 0.1), (95, 0.01), (153, 0.01), (155, 0.001), (197, 1e-4), (238, 1e-4)]:
        assert lrs[epoch * n] == pytest.approx(value, rel=1e-9), epoch


def test_linear_warmup_cosine_key_values():
    n = 4
    lrs = lrs_by_iteration(build_lr(QUICK, n), 32 * n)
    assert lrs[0] == pytest.approx(2e-4)
    assert lrs[n] == pytest.approx(1.1e-3, rel=1e-9)
    assert lrs[2 * n] == pytest.approx(2e-3, rel=1e-9)
    assert lrs[16 * n] == pytest.approx((2e-3 + 1e-5) / 2, rel=1e-9)   # middle of the 28 cosine epochs
    assert lrs[30 * n] == pytest.approx(1e-5, rel=1e-9)
    assert lrs[31 * n] == pytest.approx(1e-5, rel=1e-9)                # stays at min_lr past max_epoch


def test_epoch_stepping_when_not_iter_step():
    scheduler = build_lr(dict(COSINE, iter_step=False), num_iters=1000)
    assert not scheduler.iter_step
    lrs = lrs_by_iteration(scheduler, 100)
    assert lrs[98] == pytest.approx(0.05, rel=1e-9)


def _paddlevideo_lr_module(paddlevideo_dir):
    """PaddleVideo's custom_lr.py imported by path (it needs only paddle and numpy)."""
    path = paddlevideo_dir / "paddlevideo" / "solver" / "custom_lr.py"
    spec = importlib.util.spec_from_file_location("paddlevideo_custom_lr", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("num_iters", [7, 38, 250])
def test_exact_parity_with_paddlevideo(paddlevideo_dir, num_iters):
    """Every iteration of both schedules, bit for bit, including piecewise boundaries that PaddleVideo's
    float-accumulated epoch reaches one iteration late (num_iters 7 and 38 hit such boundaries)."""
    theirs = _paddlevideo_lr_module(paddlevideo_dir)
    pairs = [
        (build_lr(COSINE, num_iters),
         theirs.CustomWarmupCosineDecay(warmup_start_lr=0.01, warmup_epochs=34, cosine_base_lr=0.1, max_epoch=196,
                                        num_iters=num_iters)),
        (build_lr(PIECEWISE, num_iters),
         theirs.CustomWarmupPiecewiseDecay(warmup_start_lr=0.01, warmup_epochs=34, step_base_lr=0.1,
                                           lrs=PIECEWISE["lrs"], gamma=0.1, steps=[0, 94, 154, 196],
                                           max_epoch=239, num_iters=num_iters)),
    ]
    for ours, reference in pairs:
        iterations = int(reference.max_epoch * num_iters) + 2
        assert lrs_by_iteration(ours, iterations) == lrs_by_iteration(reference, iterations)


@pytest.mark.parametrize("cfg", [COSINE, PIECEWISE, QUICK], ids=lambda c: c["name"])
def test_state_dict_round_trip(cfg, tmp_path):
    run = build_lr(cfg, 13)
    lrs_by_iteration(run, 13 * 20 + 5)
    paddle.save({"lr": run.state_dict()}, str(tmp_path / "state.pdopt"))
    resumed = build_lr(cfg, 13)
    resumed.set_state_dict(paddle.load(str(tmp_path / "state.pdopt"))["lr"])
    assert resumed.last_epoch == run.last_epoch
    assert lrs_by_iteration(resumed, 400) == lrs_by_iteration(run, 400)


def test_optimizer_state_carries_the_schedule():
    """Paddle's optimizer state_dict holds the scheduler too (PaddleVideo's .pdopt), and restores it."""
    layer = paddle.nn.Linear(2, 2)
    first = build_lr(COSINE, 10)
    opt = paddle.optimizer.Momentum(first, parameters=layer.parameters())
    lrs_by_iteration(first, 57)
    second = build_lr(COSINE, 10)
    paddle.optimizer.Momentum(second, parameters=layer.parameters()).set_state_dict(opt.state_dict())
    assert second() == first() and second.last_epoch == first.last_epoch


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("OPTIMIZER:\n  learning_rate:\n    name: CustomWarmupCosineDecay\n    iter_step: True\n"
                    "    warmup_start_lr: 0.01\n    warmup_epochs: 34\n    cosine_base: 0.1\n    max_epoch: 196\n")
    cfg = load_config(str(path))
    with pytest.raises(ConfigError) as info:
        build_lr(cfg.OPTIMIZER.learning_rate, 10)
    assert info.value.key == "OPTIMIZER.learning_rate.cosine_base" and info.value.file == str(path)


def test_unknown_schedule_name():
    with pytest.raises(ConfigError) as info:
        build_lr({"name": "CosineOfSorts"}, 10)
    assert "CustomWarmupCosineDecay" in str(info.value) and info.value.key == "OPTIMIZER.learning_rate.name"


def test_bad_argument_names_key_and_file(tmp_path):
    path = tmp_path / "bad_steps.yaml"
    path.write_text("OPTIMIZER:\n  learning_rate:\n    name: CustomWarmupPiecewiseDecay\n    warmup_start_lr: 0.01\n"
                    "    warmup_epochs: 3\n    step_base_lr: 0.1\n    lrs: [1, 0.1]\n    steps: [5, 10]\n"
                    "    max_epoch: 20\n")
    cfg = load_config(str(path))
    with pytest.raises(ConfigError) as info:
        build_lr(cfg.OPTIMIZER.learning_rate, 10)
    assert info.value.key == "OPTIMIZER.learning_rate.steps" and info.value.file == str(path)
