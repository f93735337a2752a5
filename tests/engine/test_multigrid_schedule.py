"""The multigrid schedule's rules without a model: what MULTIGRID sections are accepted or refused, the LR rewrite,
the short cycle alone, evaluation points and the warnings for keys the run does not drive (the anchors' own
numbers: tests/plugin/test_pv_multigrid.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.engine.multigrid import Phase, Shape, build_plan, is_eval_epoch, notes, read_settings
from paddlevideo_slowfast.engine.trainer import config_warnings
from paddlevideo_slowfast.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PIECEWISE = ("OPTIMIZER:\n  _delete_: true\n  name: Momentum\n  momentum: 0.9\n"
             "  learning_rate: {name: CustomWarmupPiecewiseDecay, warmup_epochs: 1, warmup_start_lr: 0.01,\n"
             "    step_base_lr: 0.1, lrs: [1, 0.1, 0.01], gamma: 0.1, steps: [0, 6], max_epoch: 10}\n")


def config(tmp_path: Path, text: str, overrides=()):
    path = tmp_path / "mg.yaml"
    path.write_text(f"_BASE_: {REPO / 'configs' / 'quickstart.yaml'}\nMODEL: {{head: {{multigrid_short: true}}}}\n"
                    + text)
    return load_config(str(path), list(overrides))


def test_off_absent_or_inert_section_builds_nothing(tmp_path: Path) -> None:
    assert build_plan(load_config(str(REPO / "configs" / "quickstart.yaml"))) is None
    inert = config(tmp_path, "MULTIGRID: {LONG_CYCLE: false, SHORT_CYCLE: false, epoch_factor: 2}\n")
    assert build_plan(inert) is None
    assert config_warnings(inert, distributed=False, device="cpu") == [
        "MULTIGRID turns neither LONG_CYCLE nor SHORT_CYCLE on: plain training"]


@pytest.mark.parametrize("text,key", [
    ("MULTIGRID: {LONG_CYCLE: true, EPOCH_FACTOR: 2}\n", "MULTIGRID.EPOCH_FACTOR"),              # unknown key
    ("MULTIGRID: {SHORT_CYCLE: true, short_cycle_factors: [0.5]}\n", "MULTIGRID.short_cycle_factors"),
    ("MULTIGRID: {LONG_CYCLE: true, long_cycle_factors: [[0.5, 2]]}\n" + PIECEWISE, "MULTIGRID.long_cycle_factors"),
    ("MULTIGRID: {LONG_CYCLE: true}\n", "OPTIMIZER.learning_rate.steps"),                     # AdamW + cosine
    ("MULTIGRID: {LONG_CYCLE: true, long_cycle_factors: [[0.125, 1]]}\n" + PIECEWISE,         # 2 frames, alpha 4
     "MULTIGRID.long_cycle_factors"),
    ("MULTIGRID: {LONG_CYCLE: true, SHORT_CYCLE: true, long_cycle_factors: [[1, 0.4]]}\n" + PIECEWISE,
     "MULTIGRID.short_cycle_factors"),                                                       # crop 22 < 40 / sqrt(2)
    ("MULTIGRID: {LONG_CYCLE: true, bn_base_size: 6, long_cycle_factors: [[1, 0.7071], [1, 1]]}\n" + PIECEWISE,
     "MULTIGRID.bn_base_size"),                                                              # 32 clips in 5 groups
    ("MULTIGRID: {LONG_CYCLE: true, lr_scaling: square_root}\n" + PIECEWISE, "MULTIGRID.lr_scaling"),
])
def test_bad_sections_are_refused_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_plan(config(tmp_path, text))
    assert info.value.key == key


def test_fixed_head_pooling_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fixed.yaml"
    path.write_text(f"_BASE_: {REPO / 'configs' / 'quickstart.yaml'}\nMULTIGRID: {{SHORT_CYCLE: true}}\n")
    with pytest.raises(ConfigError) as info:
        read_settings(load_config(str(path)))
    assert info.value.key == "MODEL.head.multigrid_short"


def test_long_cycle_rewrites_the_piecewise_schedule(tmp_path: Path) -> None:
    cfg = config(tmp_path, "MULTIGRID: {LONG_CYCLE: true, SHORT_CYCLE: true}\n" + PIECEWISE)
    plan, lr = build_plan(cfg)
    assert plan.epochs == 15 and lr["max_epoch"] == plan.phases[-1].end_epoch == 15
    assert lr["steps"] == [0] + [p.end_epoch for p in plan.phases[:-1]] + [(plan.phases[-2].end_epoch + 15) // 2]
    assert lr["lrs"][:4] == [8.0, 4.0, 2.0, 1.0] and lr["lrs"][-2:] == [1.0, pytest.approx(0.1)]
    assert [p.shape for p in plan.phases[:4]] == [Shape(8, 4, 40), Shape(4, 8, 40), Shape(2, 8, 56),
                                                  Shape(1, 16, 56)]
    first = plan.epoch_shape(0)  # quickstart: 16 frames, crop 56, batch 16; short cycle at crops 28 and 40
    assert (first.batch_sizes, first.crops, first.bn_splits, first.sampling_rates) == ((256, 128, 128), (28, 40, 40),
                                                                                         16, (2, 8))  # 128 / 8
    assert lr["warmup_epochs"] == 1 and lr["step_base_lr"] == 0.1                 # untouched, as in both anchors
    assert cfg.OPTIMIZER.learning_rate.steps == [0, 6]                           # the config itself is not edited
    # PySlowFast's [t, s] pairs and PaddleVideo's {value: [t, s]} are the same factors
    again = config(tmp_path, "MULTIGRID: {LONG_CYCLE: true, SHORT_CYCLE: true, long_cycle_factors: [{value: "
                   "[0.25, 0.7071]}, {value: [0.5, 0.7071]}, {value: [0.5, 1]}, {value: [1, 1]}]}\n" + PIECEWISE)
    assert build_plan(again)[0].state() == plan.state()


def test_sqrt_lr_scaling_scales_each_phase_by_the_root_of_its_batch_factor(tmp_path: Path) -> None:
    linear = build_plan(config(tmp_path, "MULTIGRID: {LONG_CYCLE: true, SHORT_CYCLE: true}\n" + PIECEWISE))
    cfg = config(tmp_path, "MULTIGRID: {LONG_CYCLE: true, SHORT_CYCLE: true, lr_scaling: sqrt}\n" + PIECEWISE)
    plan, lr = build_plan(cfg)
    factors = [p.shape.batch_factor for p in plan.phases]
    assert factors[:4] == [8, 4, 2, 1]
    assert lr["lrs"] == pytest.approx([0.1 ** p.step_index * p.shape.batch_factor ** 0.5 for p in plan.phases[:-1]]
                                      + [0.1 ** plan.phases[-2].step_index, 0.1 ** plan.phases[-1].step_index])
    assert lr["lrs"][:4] == pytest.approx([8 ** 0.5, 2.0, 2 ** 0.5, 1.0])
    assert (lr["steps"], lr["max_epoch"], plan.state()) == (linear[1]["steps"], linear[1]["max_epoch"],
                                                           linear[0].state())   # only the rates change
    assert "sqrt LR scaling" in plan.describe()[0] and "linear LR scaling" in linear[0].describe()[0]
    alone = config(tmp_path, "MULTIGRID: {SHORT_CYCLE: true, lr_scaling: sqrt}\n" + PIECEWISE)
    assert any(n.startswith("MULTIGRID.lr_scaling sqrt ignored: LONG_CYCLE is off")
               for n in notes(alone, build_plan(alone)[0]))


def test_short_cycle_alone_stretches_the_schedule_and_keeps_plain_bn(tmp_path: Path) -> None:
    cfg = config(tmp_path, "MULTIGRID: {SHORT_CYCLE: true, epoch_factor: 2.0, bn_base_size: 4}\n" + PIECEWISE)
    plan, lr = build_plan(cfg)
    assert plan.phases is None and plan.epochs == 20
    assert lr["steps"] == [0, 12] and lr["max_epoch"] == 20 and lr["lrs"] == [1, 0.1, 0.01]
    shape = plan.epoch_shape(7)
    assert (shape.batch_sizes, shape.crops, shape.bn_splits, shape.sampling_rates) == ((64, 32, 16), (28, 40, 56),
                                                                                         1, (2, 2))
    assert not plan.starts_shape(0) and not plan.is_eval_epoch(5) and plan.is_eval_epoch(19)
    assert any("bn_base_size ignored: LONG_CYCLE is off" in n for n in notes(cfg, plan))
    cosine = config(tmp_path, "MULTIGRID: {SHORT_CYCLE: true}\n")  # any schedule: max_epoch stretched
    assert build_plan(cosine)[1]["max_epoch"] == 15


def test_eval_epochs_fall_evenly_in_each_phase_ending_with_it() -> None:
    phases = [Phase(0, Shape(4, 8, 40), 9), Phase(0, Shape(1, 16, 56), 12), Phase(1, Shape(1, 16, 56), 20)]
    due = [e for e in range(20) if is_eval_epoch(phases, e, 20, 3)]
    assert due == [0, 4, 8, 9, 11, 13, 16, 19]
    assert [e for e in range(20) if is_eval_epoch(phases, e, 20, 1)] == [8, 11, 19]


def test_warnings_name_derived_and_disagreeing_keys(tmp_path: Path) -> None:
    cfg = config(tmp_path, "MULTIGRID: {LONG_CYCLE: true, default_crop_size: 200, long_cycle_sampling_rate: 0}\n"
                 + PIECEWISE, ["epochs=12"])
    plan, lr = build_plan(cfg)
    said = notes(cfg, plan)
    assert any(n.startswith("MULTIGRID.default_crop_size: 200 is ignored: it is derived from the config (56)")
               for n in said)
    assert any("int(epochs x epoch_factor) = 18 epochs" in n and "ends at epoch 15" in n for n in said)
    assert not any("long_cycle_sampling_rate" in n for n in said)   # PaddleVideo's placeholder 0
