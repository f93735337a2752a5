"""Pipelines built from configs: PaddleVideo's own slowfast YAMLs, ours, and the errors of a wrong stage."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.data import build_pipeline
from paddlevideo_slowfast.data.rng import item_rng
from paddlevideo_slowfast.errors import ConfigError

STAGES = ["DecodeSampler", "JitterScale", "MultiCrop", "RandomFlip", "Image2Array", "Normalization", "PackOutput"]
PADDLEVIDEO_CONFIGS = {"slowfast.yaml": 8, "slowfast_multigrid.yaml": 4}
OURS = {"slowfast.yaml": (8, 256), "slowfast_8x8.yaml": (4, 224)}


@pytest.mark.parametrize("name", sorted(PADDLEVIDEO_CONFIGS))
def test_paddlevideo_slowfast_pipelines_build(name, paddlevideo_dir) -> None:
    cfg = load_config(str(paddlevideo_dir / "configs" / "recognition" / "slowfast" / name))
    for mode in ("train", "valid", "test"):
        pipeline = build_pipeline(cfg.PIPELINE[mode], where=f"PIPELINE.{mode}")
        names = [type(s).__name__ for s in pipeline.stages]
        assert names == (STAGES if mode != "test" else [n for n in STAGES if n != "RandomFlip"])
        assert pipeline.sampler.num_frames == 32 and pipeline.sampler.sampling_rate == 2
        assert pipeline.sampler.test_mode == (mode == "test")
    alpha = PADDLEVIDEO_CONFIGS[name]
    assert pipeline.clip_shapes()[0][1] == 32 // alpha


@pytest.mark.parametrize("name", sorted(OURS))
def test_our_configs_pipelines(name, repo_root, videos) -> None:
    alpha, test_size = OURS[name]
    cfg = load_config(str(repo_root / "configs" / name))
    train = build_pipeline(cfg.PIPELINE.train)
    assert repr(train) == "Compose(ScaleCrop, NormalizePack)"
    slow, fast = train({"filename": str(videos["main"]), "labels": 3, "rng": item_rng(0, 0, 0)})["imgs"]
    assert slow.shape == (3, 32 // alpha, 224, 224) and fast.shape == (3, 32, 224, 224)
    assert fast.dtype == np.float32 and abs(float(fast.mean())) < 3
    test = build_pipeline(cfg.PIPELINE.test)
    assert test.clip_shapes() == ((3, 32 // alpha, test_size, test_size), (3, 32, test_size, test_size))
    view = test({"filename": str(videos["main"]), "labels": 3, "temporal_sample_index": 9, "temporal_num_clips": 10,
                 "spatial_sample_index": 2, "spatial_num_clips": 3})
    assert view["imgs"][1].shape == (3, 32, test_size, test_size)


def test_wrong_stage_errors_name_the_key_and_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("PIPELINE:\n  train:\n    decode_sampler: {name: DecodeSampler, num_frames: 8, sampling_rate: 2}\n"
                      "    transform:\n      - MultiCrop: {target_size: 64, bogus: 1}\n")
    cfg = load_config(str(config))
    with pytest.raises(ConfigError) as err:
        build_pipeline(cfg.PIPELINE.train, where="PIPELINE.train")
    assert err.value.key == "PIPELINE.train.transform.MultiCrop.bogus" and err.value.file == str(config)
    config.write_text("PIPELINE:\n  train:\n    transform:\n      - NoSuchStage:\n")
    with pytest.raises(ConfigError, match="unknown pipelines 'NoSuchStage'") as err:
        build_pipeline(load_config(str(config)).PIPELINE.train, where="PIPELINE.train")
    assert err.value.file == str(config)


def test_unfused_pipeline_keeps_the_stages(repo_root) -> None:
    cfg = load_config(str(repo_root / "configs" / "slowfast.yaml"))
    pipeline = build_pipeline(cfg.PIPELINE.train, fuse=False)
    assert [type(s).__name__ for s in pipeline.fused] == STAGES[1:]
