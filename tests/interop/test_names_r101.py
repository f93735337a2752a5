"""Key renaming for the R101 family: every key of PySlowFast's R101 8x8 and 16x8 R101+NL state dicts gets its own
PaddleVideo name (the non-local blocks' included), and the Caffe2 blob names of both, non-local blocks and res4
blocks up to 22 among them, reach the PySlowFast names. Checked on the key lists; no R101 model is built."""
from __future__ import annotations

import ast
import re
from typing import Dict, List, Tuple

import numpy as np
import pytest

from interop_helpers import reference_file, to_caffe2, to_pyslowfast
from paddlevideo_slowfast.interop import names

KEY_LISTS = {"pyslowfast_keys_r101_8x8.txt": 1062, "pyslowfast_keys_r101_nln_16x8.txt": 1098}
NONLOCAL = re.compile(r"s(\d+)\.pathway0_nonlocal(\d+)\.(conv_theta|conv_phi|conv_g|conv_out|bn)\.(\w+)")


def _keys(name: str) -> List[Tuple[str, Tuple[int, ...]]]:
    """(PySlowFast key, shape) in state-dict order of a reference key list."""
    rows = []
    for line in reference_file(f"pyslowfast_r101/{name}").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, shape, _dtype = line.split("\t")
            rows.append((key, tuple(ast.literal_eval(shape))))
    return rows


def _stand_ins(name: str) -> Dict[str, np.ndarray]:
    """Zero views with the key list's shapes (no memory)."""
    return {key: np.broadcast_to(np.float32(0), shape) for key, shape in _keys(name)}


# video-nonlocal-net's blobs: `nonlocal_conv{stage}_{block}` + `_theta|_phi|_g|_out` + `_w|_b`, `_bn` + `_s|_b|_rm|_riv`
_C2_NONLOCAL_PARAM = {"weight": "w", "bias": "b"}
_C2_NONLOCAL_BN = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}


def _nonlocal_to_caffe2(key: str) -> str:
    stage, block, layer, param = NONLOCAL.fullmatch(key).groups()
    if layer == "bn":
        return f"nonlocal_conv{stage}_{block}_bn_{_C2_NONLOCAL_BN[param]}"
    return f"nonlocal_conv{stage}_{block}_{layer[len('conv_'):]}_{_C2_NONLOCAL_PARAM[param]}"


def _to_caffe2_with_nonlocal(state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    blobs = to_caffe2({k: v for k, v in state.items() if not NONLOCAL.fullmatch(k)})
    for key, value in state.items():
        if NONLOCAL.fullmatch(key):
            blob = _nonlocal_to_caffe2(key)
            blobs[blob] = value
            if blob.endswith("_w"):
                blobs[blob + "_momentum"] = value
    return blobs


@pytest.mark.parametrize("name, count", KEY_LISTS.items())
def test_every_r101_key_gets_its_own_paddle_name(name: str, count: int) -> None:
    keys = [key for key, _ in _keys(name)]
    assert len(keys) == count and not any(names.is_bookkeeping(k) for k in keys)
    mapped = {key: names.pyslowfast_to_paddlevideo(key) for key in keys}
    assert None not in mapped.values()
    assert len(set(mapped.values())) == count
    assert not [p for p in mapped.values() if "running_" in p]
    # the test helpers' inverse (written from the formats' facts, not from the rule) gives every key back
    back = to_pyslowfast({paddle: np.zeros(1) for paddle in mapped.values()})
    assert set(back) - {k for k in back if k.endswith("num_batches_tracked")} == set(keys)


def test_r101_8x8_paddle_names_extend_paddlevideo_r50_by_the_res4_blocks_6_to_22() -> None:
    r50 = {}
    for line in reference_file("paddlevideo_slowfast_r50_8x8_keys.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, shape, _dtype = line.split("\t")
            r50[key] = tuple(ast.literal_eval(shape))
    r101 = {}
    for key, shape in _keys("pyslowfast_keys_r101_8x8.txt"):
        paddle = names.pyslowfast_to_paddlevideo(key)
        r101[paddle] = shape[::-1] if names.transform_for(paddle, shape) == "transpose" else shape
    assert set(r50) <= set(r101)
    # the same names hold the same shapes in both depths, but for the fusion's temporal kernel: 5 in PySlowFast's
    # R101 8x8 (FUSION_KERNEL_SZ), 7 in PaddleVideo's R50 8x8
    differ = {k: (r101[k], r50[k]) for k in r50 if r101[k] != r50[k]}
    assert sorted(differ) == [f"backbone.s{s}_fuse._conv_f2s.weight" for s in range(1, 5)]
    assert all(a[2] == 5 and b[2] == 7 and a[:2] + a[3:] == b[:2] + b[3:] for a, b in differ.values())
    extra = {re.match(r"backbone\.s4\.pathway[01]_res(\d+)\.", k) for k in set(r101) - set(r50)}
    assert None not in extra and {int(m.group(1)) for m in extra} == set(range(6, 23))


def test_nonlocal_paddle_names() -> None:
    keys = [key for key, _ in _keys("pyslowfast_keys_r101_nln_16x8.txt")]
    nonlocal_keys = [k for k in keys if "_nonlocal" in k]
    assert len(nonlocal_keys) == 36 and all(NONLOCAL.fullmatch(k) for k in nonlocal_keys)
    assert {NONLOCAL.fullmatch(k).group(2) for k in nonlocal_keys} == {"6", "13", "20"}
    plain = {names.pyslowfast_to_paddlevideo(k) for k in keys if k not in nonlocal_keys}
    assert plain == {names.pyslowfast_to_paddlevideo(k) for k, _ in _keys("pyslowfast_keys_r101_8x8.txt")}


@pytest.mark.parametrize("key, expected", [
    ("s4.pathway0_nonlocal6.conv_theta.weight", "backbone.s4.pathway0_nonlocal6.conv_theta.weight"),
    ("s4.pathway0_nonlocal6.conv_theta.bias", "backbone.s4.pathway0_nonlocal6.conv_theta.bias"),
    ("s4.pathway0_nonlocal13.conv_phi.weight", "backbone.s4.pathway0_nonlocal13.conv_phi.weight"),
    ("s4.pathway0_nonlocal20.conv_g.bias", "backbone.s4.pathway0_nonlocal20.conv_g.bias"),
    ("s4.pathway0_nonlocal6.conv_out.weight", "backbone.s4.pathway0_nonlocal6.conv_out.weight"),
    ("s4.pathway0_nonlocal6.bn.weight", "backbone.s4.pathway0_nonlocal6.bn.weight"),
    ("s4.pathway0_nonlocal6.bn.bias", "backbone.s4.pathway0_nonlocal6.bn.bias"),
    ("s4.pathway0_nonlocal13.bn.running_mean", "backbone.s4.pathway0_nonlocal13.bn._mean"),
    ("s4.pathway0_nonlocal20.bn.running_var", "backbone.s4.pathway0_nonlocal20.bn._variance"),
    ("s4.pathway0_res22.branch2.c_bn.running_var", "backbone.s4.pathway0_res22.branch2.c_bn._variance"),
    ("s4_fuse.bn.running_mean", "backbone.s4_fuse._bn._mean"),
])
def test_pyslowfast_nonlocal_and_deep_res4_names(key: str, expected: str) -> None:
    assert names.to_paddlevideo(key, "pyslowfast") == expected
    assert names.transform_for(expected, (512, 1024, 1, 1, 1)) == "copy"


@pytest.mark.parametrize("blob, expected", [
    # video-nonlocal-net (lib/models/nonlocal_helper.py, resnet_helper.py) and PySlowFast's c2_model_loading.py
    ("nonlocal_conv4_6_theta_w", "s4.pathway0_nonlocal6.conv_theta.weight"),
    ("nonlocal_conv4_6_theta_b", "s4.pathway0_nonlocal6.conv_theta.bias"),
    ("nonlocal_conv4_6_phi_w", "s4.pathway0_nonlocal6.conv_phi.weight"),
    ("nonlocal_conv4_13_phi_b", "s4.pathway0_nonlocal13.conv_phi.bias"),
    ("nonlocal_conv4_13_g_w", "s4.pathway0_nonlocal13.conv_g.weight"),
    ("nonlocal_conv4_20_g_b", "s4.pathway0_nonlocal20.conv_g.bias"),
    ("nonlocal_conv4_20_out_w", "s4.pathway0_nonlocal20.conv_out.weight"),
    ("nonlocal_conv4_20_out_b", "s4.pathway0_nonlocal20.conv_out.bias"),
    ("nonlocal_conv4_6_bn_s", "s4.pathway0_nonlocal6.bn.weight"),
    ("nonlocal_conv4_6_bn_b", "s4.pathway0_nonlocal6.bn.bias"),
    ("nonlocal_conv4_6_bn_rm", "s4.pathway0_nonlocal6.bn.running_mean"),
    ("nonlocal_conv4_6_bn_riv", "s4.pathway0_nonlocal6.bn.running_var"),
    ("nonlocal_conv3_1_theta_w", "s3.pathway0_nonlocal1.conv_theta.weight"),
    ("res4_22_branch2b_bn_riv", "s4.pathway0_res22.branch2.b_bn.running_var"),
    ("t_res4_22_branch2c_bn_subsample_w", "s4_fuse.conv_f2s.weight"),
    ("t_res4_22_branch2c_bn_subsample_bn_rm", "s4_fuse.bn.running_mean"),
])
def test_caffe2_nonlocal_blobs(blob: str, expected: str) -> None:
    assert not names.is_bookkeeping(blob, "caffe2")
    assert names.to_pyslowfast(blob, "caffe2") == expected


@pytest.mark.parametrize("blob", ["nonlocal_conv4_6_theta_w_momentum", "nonlocal_conv4_6_out_b_momentum"])
def test_caffe2_nonlocal_optimiser_blobs_are_bookkeeping(blob: str) -> None:
    assert names.is_bookkeeping(blob, "caffe2")


@pytest.mark.parametrize("blob", ["nonlocal_conv4_6_theta_s", "nonlocal_conv4_6_theta_bn_s", "nonlocal_conv4_6_w",
                                  "nonlocal_conv4_6_pool_w", "t_nonlocal_conv4_6_theta_w", "nonlocal_conv4_6_bn_w"])
def test_caffe2_nonlocal_lookalikes_have_no_name(blob: str) -> None:
    assert names.to_pyslowfast(blob, "caffe2") is None


@pytest.mark.parametrize("name", KEY_LISTS)
def test_caffe2_names_of_the_r101_key_lists_round_trip(name: str) -> None:
    state = _stand_ins(name)
    blobs = _to_caffe2_with_nonlocal(state)
    kept = [b for b in blobs if not names.is_bookkeeping(b, "caffe2")]
    assert len(kept) == len(state)
    back = {b: names.to_pyslowfast(b, "caffe2") for b in kept}
    assert sorted(back.values()) == sorted(state)  # every blob has a name, no two share one
    assert "t_res4_22_branch2c_bn_subsample_bn_riv" in back and "res4_22_branch2c_bn_s" in back
