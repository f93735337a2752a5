"""Detection configs: PaddleVideo's ava.yaml loads as is, ours states its recipe and builds, and the AVA keys are
checked at load (schema rows, clip length against alpha and INFERENCE, one alpha)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.config_schema import load_schema, violations
from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.modeling import build_model
from paddlevideo_slowfast.modeling.detection import FastRCNN
from paddlevideo_slowfast.solver import build_lr

OURS = str(Path(__file__).resolve().parents[3] / "configs" / "ava_slowfast_r50_8x8.yaml")
TINY = ["MODEL.backbone.depth=10", "MODEL.backbone.width_per_group=8", "MODEL.head.bbox_head.in_channels=288"]


@pytest.fixture
def ava_yaml(paddlevideo_dir) -> str:
    return str(paddlevideo_dir / "configs" / "detection" / "ava" / "ava.yaml")


def test_paddlevideos_ava_yaml_loads_as_is(ava_yaml):
    cfg = load_config(ava_yaml)
    assert violations(cfg) == [] and cfg.MODEL.framework == "FastRCNN"
    assert cfg.PIPELINE.test.sample.clip_len == 32  # its test pipeline's own spelling


def test_our_config_is_paddlevideos_recipe_and_builds():
    cfg = load_config(OURS, TINY)
    assert cfg.epochs == 20 and cfg.OPTIMIZER.learning_rate.name == "CustomWarmupPiecewiseDecay"
    assert (cfg.OPTIMIZER.learning_rate.max_epoch, cfg.OPTIMIZER.weight_decay.value) == (20, 1e-5)
    assert cfg.MODEL.backbone.alpha == 4 and cfg.MODEL.backbone.fusion_kernel_sz == 5
    assert "loss_cfg" not in cfg.MODEL.head   # the recognizer's head keys are replaced, not merged
    model = build_model(cfg.MODEL)
    assert isinstance(model, FastRCNN) and model.roi_head.bbox_head.fc_cls.weight.shape == [288, 81]


def _paddlevideo_lr(paddlevideo_dir):
    spec = importlib.util.spec_from_file_location("paddlevideo_custom_lr_ava",
                                                  paddlevideo_dir / "paddlevideo" / "solver" / "custom_lr.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("num_iters", [3, 7])
def test_the_schedule_equals_paddlevideos_at_every_iteration(paddlevideo_dir, num_iters):
    settings = load_config(OURS).OPTIMIZER.learning_rate.to_dict()
    ours = build_lr(settings, num_iters)
    theirs = _paddlevideo_lr(paddlevideo_dir).CustomWarmupPiecewiseDecay(
        **{k: v for k, v in settings.items() if k not in ("name", "iter_step")}, num_iters=num_iters)
    lrs = []
    for _ in range(20 * num_iters + 2):
        lrs.append((ours(), theirs()))
        ours.step()
        theirs.step()
    assert [a for a, _ in lrs] == [b for _, b in lrs]
    assert lrs[0][0] == pytest.approx(0.0075) and lrs[5 * num_iters][0] == pytest.approx(0.075)
    assert lrs[12 * num_iters][0] == pytest.approx(0.0075) and lrs[16 * num_iters][0] == pytest.approx(0.00075)


CLIP_30 = [f"PIPELINE.{mode}.sampler.clip_len=30" for mode in ("train", "valid", "test")] + ["INFERENCE.num_frames=30"]


@pytest.mark.parametrize("overrides, key", [
    (CLIP_30, "PIPELINE.train.sampler.clip_len"),                                # not a multiple of alpha 4
    (["PIPELINE.valid.sampler.clip_len=64"], "PIPELINE.valid.sampler.clip_len"),  # another clip length
    (["INFERENCE.num_frames=64"], "INFERENCE.num_frames"),
    (["PIPELINE.valid.transform.PackOutput.alpha=8"], "PIPELINE.valid.transform.PackOutput.alpha"),
    (["MODEL.head.bbox_roi_extractor.roi_layer_type=RoIPool"], "MODEL.head.bbox_roi_extractor.roi_layer_type"),
    (["MODEL.head.sampler.pos_fraction=2"], "MODEL.head.sampler.pos_fraction"),
    (["DATASET.train.person_det_score_thr=1.5"], "DATASET.train.person_det_score_thr"),
])
def test_detection_keys_are_checked_at_load(overrides, key):
    with pytest.raises(ConfigError) as info:
        load_config(OURS, overrides)
    assert info.value.key == key and info.value.file == "<override>" and "\n" not in str(info.value)


def test_paddlevideos_test_sampler_spelling_is_checked_too(ava_yaml):
    for clip_len in (30, 36):  # not a multiple of 4; a multiple of 4 but another length than train's
        with pytest.raises(ConfigError) as info:
            load_config(ava_yaml, [f"PIPELINE.test.sample.clip_len={clip_len}"])
        assert info.value.key == "PIPELINE.test.sample.clip_len"


def test_schema_choices_mirror_the_detector():
    rules = {rule.key: rule for rule in load_schema()}
    assert rules["MODEL.head.bbox_roi_extractor.roi_layer_type"].choices == ("RoIAlign",)
    assert rules["MODEL.head.bbox_head.multilabel"].choices == (True,)
