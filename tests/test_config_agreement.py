"""Alpha, clip frames and crop sizes are stated in several keys: every shipped config agrees, and a config whose
keys disagree is refused at load naming both keys and their files (not a concat shape error in the fusion)."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.config_agreement import check_agreement
from paddlevideo_slowfast.config_schema import violations
from paddlevideo_slowfast.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = [p for p in sorted((REPO / "configs").rglob("*.yaml")) if p.name != "schema.yaml"]
SHIPPED += sorted((REPO / "pipelines").glob("*.yaml"))
SLOWFAST = str(REPO / "configs" / "slowfast.yaml")
PACKS = [f"PIPELINE.{m}.transform.PackOutput.alpha" for m in ("train", "valid", "test")]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_config_meets_the_schema_and_agrees(path: Path) -> None:
    cfg = load_config(str(path), check=False)
    assert violations(cfg) == []
    check_agreement(cfg)


def test_paddlevideo_configs_agree(paddlevideo_dir: Path) -> None:
    for path in sorted((paddlevideo_dir / "configs" / "recognition" / "slowfast").glob("*.yaml")):
        load_config(str(path))


def refused(overrides: List[str]) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_config(SLOWFAST, overrides)
    assert "\n" not in str(err.value)
    return err.value


def test_train_pack_alpha_against_the_backbone_names_both_keys_and_files() -> None:
    err = refused(["PIPELINE.train.transform.PackOutput.alpha=4"])
    assert err.key == "PIPELINE.train.transform.PackOutput.alpha" and err.file == "<override>"
    assert "MODEL.backbone.alpha = 8" in str(err) and "slowfast_r50_4x16.yaml" in str(err)
    err = refused(["MODEL.backbone.alpha=4"])                    # the backbone alone: every PackOutput disagrees
    assert err.key == PACKS[0] and "slowfast_train.yaml" in str(err)
    assert "MODEL.backbone.alpha = 4 (<override>)" in str(err)
    load_config(SLOWFAST, ["MODEL.backbone.alpha=4", "MODEL.head.alpha=4", "INFERENCE.alpha=4"]
                + [f"{key}=4" for key in PACKS])


def test_frames_and_crops_agree_with_the_head() -> None:
    err = refused(["PIPELINE.valid.decode_sampler.num_frames=16"])
    assert err.key == "PIPELINE.valid.decode_sampler.num_frames" and "MODEL.head.num_frames = 32" in str(err)
    err = refused(["PIPELINE.valid.transform.MultiCrop.target_size=192"])
    assert err.key == "PIPELINE.valid.transform.MultiCrop.target_size" and "MODEL.head.crop_size = 224" in str(err)
    assert load_config(SLOWFAST, ["INFERENCE.target_size=224"]).INFERENCE.target_size == 224   # export checks it
    err = refused(["INFERENCE.target_size=192"])
    assert err.key == "INFERENCE.target_size" and "MODEL.head.crop_size = 224" in str(err)


def test_a_test_crop_may_be_larger_but_not_smaller_with_the_fixed_pool() -> None:
    smaller = ["PIPELINE.test.transform.MultiCrop.target_size=192", "INFERENCE.target_size=192"]
    err = refused(smaller)
    assert err.key == "PIPELINE.test.transform.MultiCrop.target_size" and "MODEL.head.crop_size = 224" in str(err)
    assert load_config(SLOWFAST, smaller + ["MODEL.head.pool=adaptive"]).INFERENCE.target_size == 192


def test_frames_must_be_a_multiple_of_alpha() -> None:
    frames = ["MODEL.head.num_frames=36", "INFERENCE.num_frames=36"]
    frames += [f"PIPELINE.{m}.decode_sampler.num_frames=36" for m in ("train", "valid", "test")]
    err = refused(frames)
    assert err.key == "MODEL.head.num_frames" and "MODEL.backbone.alpha = 8" in str(err)


def test_crop_fits_the_scaled_frames() -> None:
    err = refused(["PIPELINE.train.transform.JitterScale.min_size=200"])
    assert err.key == "PIPELINE.train.transform.JitterScale.min_size"
    assert "PIPELINE.train.transform.MultiCrop.target_size = 224" in str(err)
    err = refused(["PIPELINE.train.transform.JitterScale.max_size=240"])
    assert err.key == "PIPELINE.train.transform.JitterScale.max_size"


def test_a_child_file_disagreeing_is_named(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(f"_BASE_: {SLOWFAST}\nPIPELINE: {{train: {{transform: {{PackOutput: {{alpha: 4}}}}}}}}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(child))
    assert err.value.file == str(child) and err.value.key == PACKS[0]


def test_check_config_refuses_a_disagreement_in_one_line(capsys) -> None:
    assert main(["check-config", "-c", SLOWFAST, "-o", "PIPELINE.train.transform.PackOutput.alpha=4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "PIPELINE.train.transform.PackOutput.alpha" in err[0] and "MODEL.backbone.alpha" in err[0]


def test_metric_view_counts_follow_the_test_dataset() -> None:
    err = refused(["DATASET.test.num_ensemble_views=2"])
    assert err.key == "METRIC.num_ensemble_views" and "DATASET.test.num_ensemble_views = 2" in str(err)
    err = refused(["METRIC.num_spatial_crops=1"])
    assert err.key == "METRIC.num_spatial_crops" and "DATASET.test.num_spatial_crops = 3" in str(err)
    cfg = load_config(SLOWFAST, ["DATASET.test.num_ensemble_views=2", "METRIC.num_ensemble_views=2"])
    assert cfg.METRIC.num_ensemble_views == cfg.DATASET.test.num_ensemble_views == 2


def test_an_ava_dataset_and_the_detector_head_count_the_same_classes() -> None:
    ava = str(REPO / "configs" / "ava_slowfast_r50_8x8.yaml")
    load_config(ava)                                              # both default to AVA's 81
    with pytest.raises(ConfigError) as err:
        load_config(ava, ["MODEL.head.bbox_head.num_classes=10"])
    assert "DATASET.train.num_classes (default) = 81" in str(err.value) and err.value.key.endswith("num_classes")
    load_config(ava, ["MODEL.head.bbox_head.num_classes=10"]
                + [f"+DATASET.{mode}.num_classes=10" for mode in ("train", "valid", "test")])
