"""`paddlevideo summary`: parameter count and GMACs of the configured model for its training clip."""
from __future__ import annotations

import re

import pytest

from paddlevideo_slowfast.cli import main


@pytest.mark.slow
def test_summary_of_the_r50_4x16_recipe(repo_root, capsys):
    assert main(["summary", "-c", str(repo_root / "configs" / "slowfast.yaml")]) == 0
    out = capsys.readouterr().out
    assert "input: slow [1, 3, 4, 224, 224], fast [1, 3, 32, 224, 224]" in out
    assert "34.48 M (34,480,216 trainable)" in out
    assert "27.8 GMAC" in out and "27.64 GMAC conv and FC" in out
    assert "backbone.s5" in out and "[1,2048,4,7,7] [1,256,32,7,7]" in out


def test_summary_follows_overrides_and_clip_options(repo_root, capsys):
    overrides = ["MODEL.backbone.depth=10", "MODEL.backbone.width_per_group=8", "MODEL.head.width_per_group=8",
                 "MODEL.backbone.fusion=time_to_channel"]
    assert main(["summary", "-c", str(repo_root / "configs" / "slowfast_8x8.yaml"), "-o", *overrides,
                 "--crop-size", "64", "--num-frames", "16"]) == 0
    out = capsys.readouterr().out
    assert "alpha 4" in out and "fusion time_to_channel" in out
    assert "input: slow [1, 3, 4, 64, 64], fast [1, 3, 16, 64, 64]" in out


def test_summary_config_error_exits_2(repo_root, capsys):
    assert main(["summary", "-c", str(repo_root / "configs" / "slowfast.yaml"), "-o", "MODEL.head.alpha=4"]) == 2
    assert "MODEL.backbone.alpha" in capsys.readouterr().err


def test_summary_of_a_detector_profiles_backbone_and_roi_head_on_the_test_clip(repo_root, capsys):
    tiny = ["MODEL.backbone.depth=10", "MODEL.backbone.width_per_group=8", "MODEL.head.bbox_head.in_channels=null"]
    config = str(repo_root / "configs" / "ava_slowfast_r50_8x8.yaml")
    assert main(["summary", "-c", config, "-o", *tiny]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FastRCNN: ResNetSlowFast (depth 10, alpha 4, beta 8") and "AVARoIHead (81 classes)" in out
    assert "input: slow [1, 3, 8, 256, 256], fast [1, 3, 32, 256, 256], 5 RoIs" in out  # 32 frames, short side 256
    assert "backbone.s5 " in out and "[1,256,8,16,16] [1,32,32,16,16]" in out            # res5 at stride 16
    assert re.search(r"roi_head\.bbox_roi_extractor +\[5,288,1,8,8\] +0 ", out)
    assert re.search(r"roi_head\.bbox_head +\[5,81\] +23,409 ", out)                      # (288 + 1) x 81

    assert main(["summary", "-c", config, "-o", *tiny, "--crop-size", "64", "--num-frames", "8", "--rois", "2"]) == 0
    out = capsys.readouterr().out
    assert "input: slow [1, 3, 2, 64, 64], fast [1, 3, 8, 64, 64], 2 RoIs" in out and "[2,81]" in out
