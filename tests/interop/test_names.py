"""Key renaming: PySlowFast -> PaddleVideo reproduces the reference table row for row; Caffe2 and pytorchvideo
names reach the same keys over the whole R50."""
from __future__ import annotations

import ast

import numpy as np
import pytest

from interop_helpers import reference_file, to_caffe2, to_pytorchvideo
from paddlevideo_slowfast.interop import names


def _read_table(name: str):
    rows = []
    for line in reference_file(name).read_text().splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


def _reference_pyslowfast_state():
    """Stand-ins with the shapes of PySlowFast's R50 4x16 (broadcast views of one zero: no memory)."""
    return {key: np.broadcast_to(np.float32(0), ast.literal_eval(shape))
            for key, shape, *_ in _read_table("pyslowfast_slowfast_r50_4x16_keys.txt")}


def test_pyslowfast_rule_reproduces_every_row_of_the_reference_table() -> None:
    rows = _read_table("pyslowfast_to_paddlevideo_map_4x16.tsv")
    assert len(rows) == 662
    for src, src_shape, dst, dst_shape, transform in rows:
        if transform == "dropped":
            assert names.is_bookkeeping(src), src
            continue
        assert not names.is_bookkeeping(src)
        assert names.pyslowfast_to_paddlevideo(src) == dst, src
        assert names.transform_for(dst, ast.literal_eval(src_shape)) == transform, src
        shape = ast.literal_eval(src_shape)
        assert (shape[::-1] if transform == "transpose" else shape) == ast.literal_eval(dst_shape)


@pytest.mark.parametrize("keys_file", ["paddlevideo_slowfast_r50_4x16_keys.txt",
                                       "paddlevideo_slowfast_r50_8x8_keys.txt"])
def test_pyslowfast_names_cover_paddlevideo_key_lists(keys_file: str) -> None:
    pyslowfast = [row[0] for row in _read_table("pyslowfast_slowfast_r50_4x16_keys.txt")]
    mapped = {names.pyslowfast_to_paddlevideo(k) for k in pyslowfast if not names.is_bookkeeping(k)}
    assert mapped == {row[0] for row in _read_table(keys_file)}


@pytest.mark.parametrize("fmt, to_source", [("pytorchvideo", to_pytorchvideo), ("caffe2", to_caffe2)])
def test_other_formats_reach_the_pyslowfast_names_over_the_whole_r50(fmt: str, to_source) -> None:
    pyslowfast = _reference_pyslowfast_state()
    source = to_source(pyslowfast)
    kept = {k for k in source if not names.is_bookkeeping(k, fmt)}
    assert len(kept) == 332 + 110 * 2  # parameters, plus running mean and variance of every BN
    back = {names.to_pyslowfast(k, fmt) for k in kept}
    assert back == {k for k in pyslowfast if not names.is_bookkeeping(k)}


@pytest.mark.parametrize("key, expected", [
    # pytorchvideo create_slowfast (facts from its slowfast.py, resnet.py, stem.py, head.py)
    ("blocks.0.multipathway_blocks.1.conv.weight", "backbone.s1.pathway1_stem._conv.weight"),
    ("blocks.0.multipathway_blocks.0.norm.running_var", "backbone.s1.pathway0_stem._bn._variance"),
    ("blocks.0.multipathway_fusion.conv_fast_to_slow.weight", "backbone.s1_fuse._conv_f2s.weight"),
    ("blocks.3.multipathway_fusion.norm.running_mean", "backbone.s4_fuse._bn._mean"),
    ("blocks.1.multipathway_blocks.0.res_blocks.0.branch1_conv.weight", "backbone.s2.pathway0_res0.branch1.weight"),
    ("blocks.2.multipathway_blocks.1.res_blocks.0.branch1_norm.bias", "backbone.s3.pathway1_res0.branch1_bn.bias"),
    ("blocks.3.multipathway_blocks.0.res_blocks.5.branch2.conv_b.weight",
     "backbone.s4.pathway0_res5.branch2.b.weight"),
    ("blocks.4.multipathway_blocks.1.res_blocks.2.branch2.norm_c.weight",
     "backbone.s5.pathway1_res2.branch2.c_bn.weight"),
    ("blocks.6.proj.weight", "head.projection.weight"),
])
def test_pytorchvideo_names(key: str, expected: str) -> None:
    assert names.to_paddlevideo(key, "pytorchvideo") == expected


@pytest.mark.parametrize("blob, expected", [
    # PySlowFast's Caffe2 model zoo (facts from slowfast/utils/c2_model_loading.py)
    ("conv1_w", "backbone.s1.pathway0_stem._conv.weight"),
    ("t_conv1_w", "backbone.s1.pathway1_stem._conv.weight"),
    ("res_conv1_bn_s", "backbone.s1.pathway0_stem._bn.weight"),
    ("t_res_conv1_bn_riv", "backbone.s1.pathway1_stem._bn._variance"),
    ("t_pool1_subsample_w", "backbone.s1_fuse._conv_f2s.weight"),
    ("t_pool1_subsample_bn_rm", "backbone.s1_fuse._bn._mean"),
    ("t_res4_5_branch2c_bn_subsample_w", "backbone.s4_fuse._conv_f2s.weight"),
    ("t_res4_5_branch2c_bn_subsample_bn_b", "backbone.s4_fuse._bn.bias"),
    ("res2_0_branch1_w", "backbone.s2.pathway0_res0.branch1.weight"),
    ("t_res3_0_branch1_bn_s", "backbone.s3.pathway1_res0.branch1_bn.weight"),
    ("res4_12_branch2b_bn_rm", "backbone.s4.pathway0_res12.branch2.b_bn._mean"),
    ("t_res5_2_branch2c_bn_b", "backbone.s5.pathway1_res2.branch2.c_bn.bias"),
    ("res5_1_branch2a_w", "backbone.s5.pathway0_res1.branch2.a.weight"),
    ("pred_w", "head.projection.weight"),
    ("pred_b", "head.projection.bias"),
])
def test_caffe2_names(blob: str, expected: str) -> None:
    assert not names.is_bookkeeping(blob, "caffe2")
    assert names.to_paddlevideo(blob, "caffe2") == expected


@pytest.mark.parametrize("fmt, key", [("caffe2", "conv1_w_momentum"), ("caffe2", "lr"), ("caffe2", "model_iter"),
                                      ("pyslowfast", "s2_fuse.bn.num_batches_tracked"),
                                      ("pytorchvideo", "blocks.0.multipathway_blocks.0.norm.num_batches_tracked")])
def test_bookkeeping_entries_are_recognised(fmt: str, key: str) -> None:
    assert names.is_bookkeeping(key, fmt)


@pytest.mark.parametrize("fmt, key", [
    ("caffe2", "nonlocal_conv3_1_theta_s"), ("caffe2", "pred_bn_s"), ("caffe2", "res2_0_branch2a_s"),
    ("pytorchvideo", "blocks.5.pool.0.weight"), ("pytorchvideo", "s1.pathway0_stem.conv.weight"),
])
def test_unknown_keys_have_no_name(fmt: str, key: str) -> None:
    assert names.to_paddlevideo(key, fmt) is None
