"""`paddlevideo summary`: parameter count and GMACs of the configured model for its training clip."""
from __future__ import annotations

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
