"""ResNetSlowFast: PaddleVideo's state-dict names and shapes, parameter count, shapes after every stage."""
from __future__ import annotations

import pytest

from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.modeling import count_parameters, create_model, profile


def entries(model):
    """(key, shape, dtype) per state-dict entry, in the reference files' notation."""
    return [(k, str(list(v.shape)), str(v.dtype).replace("paddle.", "")) for k, v in model.state_dict().items()]


def shapes_by_block(blocks):
    return {b.name.replace("backbone.", ""): b.output_shapes for b in blocks if b.name.startswith("backbone.")}


@pytest.mark.slow
@pytest.mark.parametrize("geometry", ["4x16", "8x8"])
def test_state_dict_equals_paddlevideo_reference(geometry, r50, reference_keys):
    expected = reference_keys(geometry)
    assert len(expected) == 552
    assert entries(r50[geometry]) == expected


@pytest.mark.slow
def test_r50_4x16_trainable_parameters(r50):
    assert count_parameters(r50["4x16"]) == 34_480_216


def r50_stage_shapes(t):
    """Shapes after each block at 224 for T slow frames and 32 fast frames (alpha*T), batch 1."""
    return {
        "s1": [[1, 64, t, 56, 56], [1, 8, 32, 56, 56]],
        "s1_fuse": [[1, 64 + 16, t, 56, 56], [1, 8, 32, 56, 56]],
        "s2": [[1, 256, t, 56, 56], [1, 32, 32, 56, 56]],
        "s2_fuse": [[1, 256 + 64, t, 56, 56], [1, 32, 32, 56, 56]],
        "s3": [[1, 512, t, 28, 28], [1, 64, 32, 28, 28]],
        "s3_fuse": [[1, 512 + 128, t, 28, 28], [1, 64, 32, 28, 28]],
        "s4": [[1, 1024, t, 14, 14], [1, 128, 32, 14, 14]],
        "s4_fuse": [[1, 1024 + 256, t, 14, 14], [1, 128, 32, 14, 14]],
        "s5": [[1, 2048, t, 7, 7], [1, 256, 32, 7, 7]],
    }


@pytest.mark.slow
@pytest.mark.parametrize("geometry,slow_frames", [("4x16", 4), ("8x8", 8)])
def test_r50_shapes_after_every_stage(geometry, slow_frames, r50_profile):
    assert shapes_by_block(r50_profile(geometry, 224)) == r50_stage_shapes(slow_frames)


# channels each lateral adds to Slow, as a multiple of the Fast width (alpha = 4 here)
LATERAL_WIDTH = {"time_strided_conv": 2, "time_to_channel": 4, "time_strided_sample": 1}


@pytest.mark.parametrize("fusion", sorted(LATERAL_WIDTH))
def test_shapes_after_every_stage_for_each_fusion(fusion, clips):
    """R50 widths scaled by 1/8 (width_per_group 8, beta 8: Fast is 1-32 channels) at 112 px, 4 x alpha=4 frames."""
    model = create_model("slowfast_tiny", {"backbone": {"fusion": fusion, "width_per_group": 8, "beta": 8},
                                           "head": {"crop_size": 112, "num_frames": 16}})
    shapes = shapes_by_block(profile(model, clips(n=1, slow=4, size=112)))
    k = LATERAL_WIDTH[fusion]
    assert shapes == {
        "s1": [[1, 8, 4, 28, 28], [1, 1, 16, 28, 28]],
        "s1_fuse": [[1, 8 + k * 1, 4, 28, 28], [1, 1, 16, 28, 28]],
        "s2": [[1, 32, 4, 28, 28], [1, 4, 16, 28, 28]],
        "s2_fuse": [[1, 32 + k * 4, 4, 28, 28], [1, 4, 16, 28, 28]],
        "s3": [[1, 64, 4, 14, 14], [1, 8, 16, 14, 14]],
        "s3_fuse": [[1, 64 + k * 8, 4, 14, 14], [1, 8, 16, 14, 14]],
        "s4": [[1, 128, 4, 7, 7], [1, 16, 16, 7, 7]],
        "s4_fuse": [[1, 128 + k * 16, 4, 7, 7], [1, 16, 16, 7, 7]],
        "s5": [[1, 256, 4, 4, 4], [1, 32, 16, 4, 4]],
    }
    assert model.backbone.out_channels == [256, 32]


def test_slow_only_and_fast_only_run_one_pathway(clips):
    slow = create_model("slowfast_tiny", {"backbone": {"name": "ResNetSlowOnly"}})
    fast = create_model("slowfast_tiny", {"backbone": {"name": "ResNetFastOnly"}})
    x = clips(n=1)
    assert shapes_by_block(profile(slow, x))["s5"] == [[1, 256, 2, 2, 2]]
    assert shapes_by_block(profile(fast, x))["s5"] == [[1, 64, 8, 2, 2]]  # beta 4 in slowfast_tiny
    assert not any("fuse" in k or "pathway1" in k for k in slow.state_dict())
    # no laterals: Slow's first block sees only its own width
    assert slow.state_dict()["backbone.s2.pathway0_res0.branch2.a.weight"].shape == [8, 8, 1, 1, 1]
    assert slow.head.projection.weight.shape == [256, 10]


@pytest.mark.slow
def test_fast_only_r50_is_a_subset_of_paddlevideo_names(reference_keys):
    """The Fast pathway takes no laterals, so its weights load from a SlowFast checkpoint by name."""
    model = create_model("fastonly_r50_4x16")
    reference = {key: (shape, dtype) for key, shape, dtype in reference_keys("4x16")}
    ours = [e for e in entries(model) if e[0].startswith("backbone.")]
    assert ours and all(reference[key] == (shape, dtype) for key, shape, dtype in ours)
    assert len(ours) == sum(1 for key in reference if key.startswith("backbone.s") and "pathway1" in key)


def test_temporal_kernels_follow_the_paper():
    """Slow: 1 in the stem, res2, res3 and 3 in res4/res5 first convs; Fast: 5 in the stem and 3 everywhere."""
    sd = create_model("slowfast_tiny").state_dict()
    assert sd["backbone.s1.pathway0_stem._conv.weight"].shape[2:] == [1, 7, 7]
    assert sd["backbone.s1.pathway1_stem._conv.weight"].shape[2:] == [5, 7, 7]
    for stage, slow_t in (("s2", 1), ("s3", 1), ("s4", 3), ("s5", 3)):
        assert sd[f"backbone.{stage}.pathway0_res0.branch2.a.weight"].shape[2:] == [slow_t, 1, 1]
        assert sd[f"backbone.{stage}.pathway1_res0.branch2.a.weight"].shape[2:] == [3, 1, 1]
        assert sd[f"backbone.{stage}.pathway0_res0.branch2.b.weight"].shape[2:] == [1, 3, 3]


@pytest.mark.parametrize("key,value", [("depth", 34), ("bn_norm_type", "sub_batchnorm"), ("num_pathways", 1),
                                       ("width_per_group", 1)])
def test_unsupported_backbone_values_name_the_key(key, value):
    with pytest.raises(ConfigError) as err:
        create_model("slowfast_tiny", {"backbone": {key: value}})
    assert err.value.key == f"MODEL.backbone.{key}"


def test_paddlevideos_pool_after_res2(clips):
    """pool_size_ratio with use_pool_af_s2 max-pools both pathways after the res2 lateral (PaddleVideo's AVA knob)."""
    ratio = [[1, 2, 2], [1, 2, 2]]
    model = create_model("slowfast_tiny", {"backbone": {"pool_size_ratio": ratio},
                                           "head": {"pool_size_ratio": ratio}})
    shapes = shapes_by_block(profile(model, clips(n=1)))
    assert shapes["s2_fuse"][0][3:] == [16, 16] and shapes["s3"][0][3:] == [4, 4]
    assert shapes["s5"] == [[1, 256, 2, 1, 1], [1, 64, 8, 1, 1]]
