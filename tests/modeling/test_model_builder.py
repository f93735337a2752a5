"""build_model through the registries: errors name the key and file; every named variant builds and runs."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.errors import ConfigError, RegistryError
from paddlevideo_slowfast.modeling import build_model, count_parameters, create_model, variant_config, variant_names
from paddlevideo_slowfast.registry import BACKBONES, HEADS, LOSSES, RECOGNIZERS

TINY = ["MODEL.backbone.depth=10", "MODEL.backbone.width_per_group=8", "MODEL.head.width_per_group=8"]


def config_with(tmp_path, repo_root, text):
    base = repo_root / "configs" / "_base_" / "models" / "slowfast_r50_4x16.yaml"
    path = tmp_path / "model.yaml"
    path.write_text(f"_BASE_: {base}\n{text}")
    return path, load_config(str(path), TINY)


def test_registries_hold_paddlevideos_names():
    assert {"ResNetSlowFast", "ResNetSlowOnly", "ResNetFastOnly"} <= set(BACKBONES.names())
    assert "SlowFastHead" in HEADS and "Recognizer3D" in RECOGNIZERS and "CrossEntropyLoss" in LOSSES


def test_unknown_backbone_name_lists_the_registered_ones(tmp_path, repo_root):
    path, cfg = config_with(tmp_path, repo_root, "MODEL:\n  backbone:\n    name: ResNet3D\n")
    with pytest.raises(ConfigError) as err:
        build_model(cfg.MODEL)
    assert err.value.key == "MODEL.backbone.name" and err.value.file == str(path)
    assert "ResNetSlowFast" in str(err.value) and "ResNetSlowOnly" in str(err.value)


@pytest.mark.parametrize("part", ["backbone", "head"])
def test_unknown_key_names_the_key_and_its_file(part, tmp_path, repo_root):
    path, cfg = config_with(tmp_path, repo_root, f"MODEL:\n  {part}:\n    fusion_kernel: 5\n")
    with pytest.raises(ConfigError) as err:
        build_model(cfg.MODEL)
    assert err.value.key == f"MODEL.{part}.fusion_kernel" and err.value.file == str(path)


def test_unsupported_value_names_the_file_it_came_from(tmp_path, repo_root):
    path, cfg = config_with(tmp_path, repo_root, "MODEL:\n  backbone:\n    fusion: sum\n")
    with pytest.raises(ConfigError) as err:
        build_model(cfg.MODEL)
    assert err.value.key == "MODEL.backbone.fusion" and err.value.file == str(path)


def test_unknown_framework():
    with pytest.raises(ConfigError) as err:
        build_model({"framework": "Recognizer2D", "backbone": {}, "head": {}})
    assert "Recognizer3D" in str(err.value)


def test_unknown_variant_lists_the_variants():
    with pytest.raises(RegistryError, match="slowfast_tiny"):
        variant_config("slowfast_r18")


def test_variants_state_only_deltas():
    assert variant_config("slowfast_r50_4x16") == {
        "framework": "Recognizer3D", "backbone": {"name": "ResNetSlowFast"}, "head": {"name": "SlowFastHead"}}
    assert variant_config("slowfast_r50_8x8")["backbone"] == {"name": "ResNetSlowFast", "alpha": 4,
                                                              "fusion_kernel_sz": 7}


@pytest.mark.parametrize("name", variant_names())
def test_every_variant_builds_and_runs_small(name):
    """Each variant's geometry at depth 10 and width 8 runs a 64 px clip to probabilities."""
    cfg = variant_config(name, {"backbone": {"depth": 10, "width_per_group": 8},
                                "head": {"num_classes": 10, "crop_size": 64}})
    backbone = cfg["backbone"]  # depth 10 has one block per stage: per-block options keep what block 0 takes
    if backbone.get("num_block_temp_kernel"):
        backbone["num_block_temp_kernel"] = [[min(n, 1) for n in row] for row in backbone["num_block_temp_kernel"]]
    if backbone.get("nonlocal_location"):
        backbone["nonlocal_location"] = [[[0] if after else [] for after in row]
                                         for row in backbone["nonlocal_location"]]
    model = build_model(cfg)
    model.eval()
    alpha = model.backbone.alpha
    frames = model.head.num_frames
    with paddle.no_grad():
        scores = model([paddle.zeros([1, 3, frames // alpha, 64, 64]), paddle.zeros([1, 3, frames, 64, 64])])
    assert scores.shape == [1, 10]
    np.testing.assert_allclose(scores.numpy().sum(), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_r50_variant_parameter_counts(r50):
    assert count_parameters(r50["8x8"]) == 34_566_488  # only the lateral kernels grow from 4x16's 34,480,216
    assert count_parameters(create_model("slowonly_r50_4x16")) == 32_454_096


@pytest.mark.slow
@pytest.mark.parametrize("file,geometry", [("slowfast.yaml", "4x16"), ("slowfast_multigrid.yaml", "8x8")])
def test_paddlevideos_own_configs_build_its_checkpoint_layout(file, geometry, paddlevideo_dir, reference_keys):
    cfg = load_config(str(paddlevideo_dir / "configs" / "recognition" / "slowfast" / file))
    model = build_model(cfg.MODEL)
    got = [(k, str(list(v.shape)), str(v.dtype).replace("paddle.", "")) for k, v in model.state_dict().items()]
    assert got == reference_keys(geometry)
