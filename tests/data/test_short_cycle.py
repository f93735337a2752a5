"""Multigrid's data side: the short-cycle batch sampler (shapes per step, ranks' slices, accumulation), the train
pipeline of a long-cycle shape, and the dataset items each cycle position makes."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo_slowfast.data.sampling import DecodeSampler
from paddlevideo_slowfast.data.short_cycle import ShortCycleBatchSampler, shape_pipeline


def test_batches_cycle_through_the_sizes_and_drop_the_tail() -> None:
    sampler = ShortCycleBatchSampler(53, [8, 4, 2], seed=1)  # 3 x 14 + 8 = 50: the next 4 would pass 53
    batches = list(sampler)
    assert [len(b) for b in batches] == [8, 4, 2] * 3 + [8] and len(sampler) == 10
    assert [{key[2] for key in b} for b in batches] == [{0}, {1}, {2}] * 3 + [{0}]
    indices = [key[0] for b in batches for key in b]
    assert len(set(indices)) == len(indices) == 50 and {key[1] for b in batches for key in b} == {0}


def test_order_depends_on_seed_and_epoch_only() -> None:
    def order(seed: int, epoch: int) -> list:
        sampler = ShortCycleBatchSampler(30, [4, 2, 1], seed=seed)
        sampler.set_epoch(epoch)
        return [key for b in sampler for key in b]

    assert order(1, 2) == order(1, 2)
    assert [k[0] for k in order(1, 2)] != [k[0] for k in order(1, 3)] != [k[0] for k in order(2, 2)]
    assert {k[1] for k in order(1, 3)} == {3}


def test_ranks_take_slices_of_every_batch_as_one_process_accumulates_them() -> None:
    sizes = [6, 3, 2]
    ranks = [list(ShortCycleBatchSampler(40, sizes, seed=4, world_size=2, rank=r)) for r in (0, 1)]
    single = list(ShortCycleBatchSampler(40, sizes, seed=4, accumulation=2))
    assert len(ranks[0]) == len(ranks[1]) == len(single) // 2 == 5          # 12 + 6 + 4 + 12 + 6 = 40; 4 more > 40
    assert single == [b for pair in zip(*ranks) for b in pair]
    assert not {k[0] for b in ranks[0] for k in b} & {k[0] for b in ranks[1] for k in b}
    assert [len(b) for b in ranks[1]] == [6, 3, 2, 6, 3]
    plain = list(ShortCycleBatchSampler(40, [5], seed=4))                    # long cycle alone: (index, epoch)
    assert [len(b) for b in plain] == [5] * 8 and all(len(key) == 2 for b in plain for key in b)


def test_shape_pipeline_sets_the_clip_of_a_long_cycle_shape(tiny_cfg) -> None:
    out = shape_pipeline(tiny_cfg.PIPELINE.train, frames=4, crop=23, default_crop=32, short_cycle_factors=[0.5, 0.7071],
                         sampling_rates=(2, 4))
    assert out.decode_sampler.num_frames == 4 and out.decode_sampler.long_cycle_sampling_rate == 4
    stages = {next(iter(s)): s[next(iter(s))] for s in out.transform}
    assert stages["MultiCrop"] == {"target_size": 23, "default_crop_size": 32, "short_cycle_factors": [0.5, 0.7071]}
    assert stages["JitterScale"]["min_size"] == 23 and stages["JitterScale"]["default_min_size"] == 32  # 32 x 23/32
    assert tiny_cfg.PIPELINE.train.decode_sampler.num_frames == 8                        # a copy


def test_long_cycle_sampling_rate_spans_the_default_clip() -> None:
    sampler = DecodeSampler(num_frames=4, sampling_rate=2, long_cycle_sampling_rate=8)
    spans = {int(np.ptp(sampler.indices(300, 30.0, {"rng": np.random.default_rng(i)}))) for i in range(60)}
    assert min(spans) >= 4 * 2 - 2 and max(spans) <= 4 * 8 - 1 and len(spans) > 3      # rates 2..8 drawn
    fixed = DecodeSampler(num_frames=4, sampling_rate=2, long_cycle_sampling_rate=2)
    assert {int(np.ptp(fixed.indices(300, 30.0, {"rng": np.random.default_rng(i)}))) for i in range(9)} <= {6, 7}


def test_items_of_each_cycle_position(tiny_cfg, tmp_path) -> None:
    from paddlevideo_slowfast.data.loader import build_dataset
    from paddlevideo_slowfast.engine.multigrid_run import MultigridRun

    tiny_cfg["MULTIGRID"] = {"LONG_CYCLE": True, "SHORT_CYCLE": True, "epoch_factor": 1.0, "bn_base_size": 2,
                             "long_cycle_factors": [[0.5, 0.7071], [1, 1]]}
    tiny_cfg.MODEL.head["multigrid_short"] = True
    tiny_cfg["OPTIMIZER"] = {"name": "Momentum", "learning_rate": {
        "name": "CustomWarmupPiecewiseDecay", "warmup_epochs": 0, "warmup_start_lr": 0.01, "step_base_lr": 0.01,
        "lrs": [1, 0.1, 0.01], "gamma": 0.1, "steps": [0, 2], "max_epoch": 3}}
    run = MultigridRun.from_config(tiny_cfg, seed=0)
    dataset = build_dataset(run.shape_config(run.plan.epoch_shape(0)), "train", seed=0)
    for position, crop in enumerate((16, 23, 23)):
        slow, fast, _ = dataset[(3, 0, position)]
        assert slow.shape == (3, 1, crop, crop) and fast.shape == (3, 4, crop, crop)
    with pytest.raises(ValueError):
        DecodeSampler(num_frames=4, sampling_rate=4, long_cycle_sampling_rate=2)


def test_a_dataset_smaller_than_one_step_is_refused(tiny_cfg) -> None:
    from paddlevideo_slowfast.engine.multigrid_run import MultigridRun
    from paddlevideo_slowfast.errors import ConfigError

    tiny_cfg["MULTIGRID"] = {"SHORT_CYCLE": True}
    tiny_cfg.MODEL.head["multigrid_short"] = True
    tiny_cfg.DATASET["batch_size"] = 8                      # short cycle: 32 clips a step, 16 videos
    with pytest.raises(ConfigError) as info:
        MultigridRun.from_config(tiny_cfg, seed=0).loaders(0)
    assert info.value.key == "DATASET.batch_size" and "16 training clips make no step" in str(info.value)
