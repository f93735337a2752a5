"""Our multigrid schedule against PaddleVideo's own `paddlevideo/utils/multigrid`, run on its
slowfast_multigrid.yaml: the phases, the rewritten LR schedule, and then epoch by epoch the long-cycle shape, batch
size, BN groups, long-cycle sampling rate, short-cycle batch sizes and evaluation epochs; and our sub-batch BN
against PaddleVideo's SubBatchNorm3D on the same input."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.engine.multigrid import build_plan
from paddlevideo_slowfast.plugin.importer import submodule


@pytest.fixture(scope="module")
def pv_multigrid(paddlevideo):
    return submodule(paddlevideo, "utils.multigrid")


@pytest.fixture(scope="module")
def multigrid_yaml(paddlevideo_dir: Path) -> Path:
    return paddlevideo_dir / "configs" / "recognition" / "slowfast" / "slowfast_multigrid.yaml"


def test_schedule_and_lr_equal_paddlevideo(pv_multigrid, multigrid_yaml: Path, capsys) -> None:
    cfg = load_config(str(multigrid_yaml))
    plan, lr = build_plan(cfg)
    theirs = pv_multigrid.MultigridSchedule()
    pv_cfg = theirs.init_multigrid(copy.deepcopy(cfg))
    assert [(p.step_index, [p.shape.batch_factor, p.shape.frames, p.shape.crop], p.end_epoch) for p in plan.phases] \
        == [(s[0], list(s[1]), s[2]) for s in theirs.schedule]
    assert lr["steps"] == list(pv_cfg.OPTIMIZER.learning_rate.steps)
    assert lr["lrs"] == list(pv_cfg.OPTIMIZER.learning_rate.lrs)          # bit for bit
    assert lr["max_epoch"] == pv_cfg.OPTIMIZER.learning_rate.max_epoch == 358
    assert plan.epochs == int(cfg.epochs * cfg.MULTIGRID.epoch_factor)   # train_model_multigrid's total_epochs
    capsys.readouterr()


def test_every_epoch_matches_paddlevideo(pv_multigrid, multigrid_yaml: Path, capsys) -> None:
    """PaddleVideo's train_model_multigrid loop, epoch by epoch: update_long_cycle's cfg edits and is_eval_epoch."""
    cfg = load_config(str(multigrid_yaml))
    plan, _ = build_plan(cfg)
    theirs = pv_multigrid.MultigridSchedule()
    pv_cfg = theirs.init_multigrid(copy.deepcopy(cfg))
    pv_cfg, _ = theirs.update_long_cycle(pv_cfg, 0)   # its call before the loop
    changes = []
    for epoch in range(plan.epochs):
        pv_cfg, changed = theirs.update_long_cycle(pv_cfg, epoch)
        if changed:
            changes.append(epoch)
        ours = plan.epoch_shape(epoch)
        crop = pv_cfg.PIPELINE.train.transform[1]["MultiCrop"]["target_size"]
        assert (ours.batch, ours.shape.frames, ours.shape.crop) == (
            pv_cfg.DATASET.batch_size, pv_cfg.PIPELINE.train.decode_sampler.num_frames, crop), epoch
        splits = pv_cfg.MODEL.backbone.get("bn_num_splits", 1) \
            if pv_cfg.MODEL.backbone.bn_norm_type == "sub_batchnorm" else 1
        assert ours.bn_splits == splits, epoch
        assert ours.sampling_rates[1] == pv_cfg.MULTIGRID.long_cycle_sampling_rate, epoch
        # construct_loader's short-cycle batch sizes, from the cfg update_long_cycle left
        factors = [int(round((float(crop) / (s * pv_cfg.MULTIGRID.default_crop_size)) ** 2))
                   for s in pv_cfg.MULTIGRID.short_cycle_factors]
        batch = pv_cfg.DATASET.batch_size
        assert list(ours.batch_sizes) == [batch * factors[0], batch * factors[1], batch], epoch
        due = pv_multigrid.is_eval_epoch(pv_cfg, epoch, plan.epochs, theirs.schedule)
        assert plan.is_eval_epoch(epoch) == bool(due), epoch
    assert changes == [e for e in range(1, plan.epochs) if plan.starts_shape(e)]
    assert len(changes) == 11  # 13 phases, the fine-tuning one keeping the last shape
    capsys.readouterr()


def test_short_cycle_positions_and_sizes_follow_paddlevideos_sampler(pv_multigrid) -> None:
    from paddlevideo_slowfast.data.short_cycle import ShortCycleBatchSampler

    sizes = [8, 4, 2]
    theirs = pv_multigrid.DistributedShortSampler(list(range(50)), batch_sizes=sizes, num_replicas=1, rank=0,
                                                  shuffle=True, drop_last=True)
    pv_batches = list(theirs)
    ours = list(ShortCycleBatchSampler(50, sizes, seed=3))
    assert [len(b) for b in ours] == [len(b) for b in pv_batches]
    assert [{k[2] for k in b} for b in ours] == [{k[1] for k in b} for b in pv_batches]


@pytest.mark.parametrize("splits", [1, 2, 4])
def test_sub_batchnorm_equals_paddlevideos(pv_multigrid, splits: int) -> None:
    import paddle

    from paddlevideo_slowfast.modeling.sub_bn import SubBatchNorm3D, enable_sub_batchnorm

    paddle.seed(0)
    channels = 6
    theirs = pv_multigrid.batchnorm_helper.SubBatchNorm3D(num_splits=splits, num_features=channels,
                                                          weight_attr=None, bias_attr=None, momentum=0.9,
                                                          epsilon=1e-5)
    holder = paddle.nn.Sequential(paddle.nn.BatchNorm3D(channels, momentum=0.9, epsilon=1e-5))
    assert enable_sub_batchnorm(holder) == 1
    ours = holder[0]
    assert isinstance(ours, SubBatchNorm3D) and list(ours.state_dict()) == ["weight", "bias", "_mean", "_variance"]
    ours.set_splits(splits)
    rng = np.random.default_rng(1)
    for param in ("weight", "bias"):
        value = rng.normal(size=channels).astype("float32")
        getattr(theirs, param).set_value(value)
        getattr(ours, param).set_value(value)
    for _ in range(3):
        x = paddle.to_tensor(rng.normal(2.0, 3.0, size=(8, channels, 2, 3, 3)).astype("float32"))
        x.stop_gradient = False
        mine, pv = ours(x), theirs(x)
        np.testing.assert_allclose(mine.numpy(), pv.numpy(), rtol=1e-5, atol=1e-5)
        (grad_mine,) = paddle.grad((mine * mine.detach()).sum(), [x])
        (grad_pv,) = paddle.grad((pv * pv.detach()).sum(), [x])
        np.testing.assert_allclose(grad_mine.numpy(), grad_pv.numpy(), rtol=1e-4, atol=1e-4)
    for layer in (ours, theirs):
        (layer(x) ** 2).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
    inner = theirs.split_bn if splits > 1 else None
    if inner is not None:  # their group averages live in split_bn, ours in the layer's running_stats()
        for a, b in zip(ours.running_stats(), (inner._mean, inner._variance)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
        theirs.aggregate_stats()
        ours.aggregate_stats()
        np.testing.assert_allclose(ours._mean.numpy(), theirs.bn._mean.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours._variance.numpy(), theirs.bn._variance.numpy(), rtol=1e-5, atol=1e-6)
        holder.eval()
        theirs.eval()
        x = paddle.to_tensor(rng.normal(size=(4, channels, 2, 3, 3)).astype("float32"))
        np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), rtol=1e-5, atol=1e-5)
