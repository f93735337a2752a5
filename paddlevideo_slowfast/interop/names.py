"""Rename SlowFast weights from PySlowFast, its Caffe2 model zoo and pytorchvideo to PaddleVideo's names.

Everything goes through PySlowFast's names: Caffe2 and pytorchvideo keys are first renamed to PySlowFast's,
which then map to PaddleVideo's by a few word substitutions. Each rule returns None for a key it does not
know; optimiser and BN bookkeeping entries are recognised by `is_bookkeeping` and dropped on purpose.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, Optional, Sequence, Tuple

FORMATS = ("pyslowfast", "caffe2", "pytorchvideo")

# PaddleVideo prefixes the stem's and the fusion's sub-layers with '_'; residual blocks keep PySlowFast's names
_PADDLE_LAYERS = {"conv": "_conv", "bn": "_bn", "conv_f2s": "_conv_f2s"}
_PADDLE_BN_STATS = {"running_mean": "_mean", "running_var": "_variance"}


def is_bookkeeping(key: str, fmt: str = "pyslowfast") -> bool:
    """Entries that are not weights: BN's batch counter; Caffe2's momentum, learning-rate and iteration blobs."""
    if fmt == "caffe2":
        return any(word in key for word in ("momentum", "lr", "model_iter"))
    return key.endswith("num_batches_tracked")


def pyslowfast_to_paddlevideo(key: str) -> Optional[str]:
    """`s1.pathway0_stem.bn.running_var` -> `backbone.s1.pathway0_stem._bn._variance`; head keys keep no prefix.

    Non-local blocks (`s4.pathway0_nonlocal6.conv_theta.weight`, a layer PaddleVideo does not have) keep their
    names under `backbone.`; only BN statistics are renamed (`bn.running_mean` -> `bn._mean`).
    """
    *layers, param = key.split(".")
    if not layers:
        return None
    if not any("_nonlocal" in layer for layer in layers):  # a non-local block keeps PySlowFast's sub-layer names
        layers = [_PADDLE_LAYERS.get(layer, layer) for layer in layers]
    name = ".".join(layers + [_PADDLE_BN_STATS.get(param, param)])
    return name if layers[0] == "head" else "backbone." + name


# pytorchvideo's create_slowfast: blocks.0 = both stems + first fusion, blocks.1-4 = res2-res5 (+ fusions
# after res2-res4), blocks.5 = pooling (no weights), blocks.6 = head. `stage` is the block index + 1.
_RES = r"blocks\.(?P<block>\d+)\.multipathway_blocks\.(?P<p>\d+)\.res_blocks\.(?P<i>\d+)\."
_PYTORCHVIDEO_RULES: Sequence[Tuple[str, str]] = (
    (r"blocks\.0\.multipathway_blocks\.(?P<p>\d+)\.conv\.(?P<param>\w+)", "s1.pathway{p}_stem.conv.{param}"),
    (r"blocks\.0\.multipathway_blocks\.(?P<p>\d+)\.norm\.(?P<param>\w+)", "s1.pathway{p}_stem.bn.{param}"),
    (r"blocks\.(?P<block>\d+)\.multipathway_fusion\.conv_fast_to_slow\.(?P<param>\w+)",
     "s{stage}_fuse.conv_f2s.{param}"),
    (r"blocks\.(?P<block>\d+)\.multipathway_fusion\.norm\.(?P<param>\w+)", "s{stage}_fuse.bn.{param}"),
    (_RES + r"branch1_conv\.(?P<param>\w+)", "s{stage}.pathway{p}_res{i}.branch1.{param}"),
    (_RES + r"branch1_norm\.(?P<param>\w+)", "s{stage}.pathway{p}_res{i}.branch1_bn.{param}"),
    (_RES + r"branch2\.conv_(?P<x>[abc])\.(?P<param>\w+)", "s{stage}.pathway{p}_res{i}.branch2.{x}.{param}"),
    (_RES + r"branch2\.norm_(?P<x>[abc])\.(?P<param>\w+)", "s{stage}.pathway{p}_res{i}.branch2.{x}_bn.{param}"),
    (r"blocks\.(?P<block>\d+)\.proj\.(?P<param>\w+)", "head.projection.{param}"),
)


def _apply(rules: Sequence[Tuple[str, str]], text: str, **extra: str) -> Optional[str]:
    for pattern, template in rules:
        match = re.fullmatch(pattern, text)
        if match:
            fields = match.groupdict()
            if fields.get("block") is not None:
                fields["stage"] = str(int(fields["block"]) + 1)
            return template.format(**fields, **extra)
    return None


def pytorchvideo_to_pyslowfast(key: str) -> Optional[str]:
    """`blocks.1.multipathway_blocks.0.res_blocks.2.branch2.norm_b.weight` -> `s2.pathway0_res2.branch2.b_bn.weight`."""
    return _apply(_PYTORCHVIDEO_RULES, key)


# Caffe2 blob = <layer>[_bn]_<param>; the `t_` prefix marks the Fast pathway. Each layer rule gives the
# PySlowFast path of the conv (or FC) and of its BN; `{p}` is the pathway.
_CAFFE2_LAYER_RULES: Sequence[Tuple[str, str, str]] = (
    (r"(?P<t>t_)?(res_)?conv1", "s1.pathway{p}_stem.conv", "s1.pathway{p}_stem.bn"),
    (r"t_pool1_subsample", "s1_fuse.conv_f2s", "s1_fuse.bn"),
    (r"t_res(?P<s>\d+)_\d+_branch2c_bn_subsample", "s{s}_fuse.conv_f2s", "s{s}_fuse.bn"),
    (r"(?P<t>t_)?res(?P<s>\d+)_(?P<i>\d+)_branch1", "s{s}.pathway{p}_res{i}.branch1",
     "s{s}.pathway{p}_res{i}.branch1_bn"),
    (r"(?P<t>t_)?res(?P<s>\d+)_(?P<i>\d+)_branch2(?P<x>[abc])", "s{s}.pathway{p}_res{i}.branch2.{x}",
     "s{s}.pathway{p}_res{i}.branch2.{x}_bn"),
    # a non-local block after res block i (video-nonlocal-net's `nonlocal_conv{s}_{i}`; Slow pathway only)
    (r"nonlocal_conv(?P<s>\d+)_(?P<i>\d+)_(?P<x>theta|phi|g|out)", "s{s}.pathway0_nonlocal{i}.conv_{x}", ""),
    (r"nonlocal_conv(?P<s>\d+)_(?P<i>\d+)", "", "s{s}.pathway0_nonlocal{i}.bn"),
    (r"pred", "head.projection", ""),
)
_CAFFE2_CONV_PARAMS = {"w": "weight", "b": "bias"}
_CAFFE2_BN_PARAMS = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}


def caffe2_to_pyslowfast(name: str) -> Optional[str]:
    """`t_res4_5_branch2c_bn_riv` -> `s4.pathway1_res5.branch2.c_bn.running_var`;
    `nonlocal_conv4_6_theta_w` -> `s4.pathway0_nonlocal6.conv_theta.weight`."""
    blob = re.fullmatch(r"(?P<layer>.+?)(?P<bn>_bn)?_(?P<param>w|b|s|rm|riv)", name)
    if not blob:
        return None
    params = _CAFFE2_BN_PARAMS if blob["bn"] else _CAFFE2_CONV_PARAMS
    if blob["param"] not in params:
        return None
    for pattern, conv_path, bn_path in _CAFFE2_LAYER_RULES:
        layer = re.fullmatch(pattern, blob["layer"])
        path = bn_path if blob["bn"] else conv_path
        if layer and path:
            fields = {k: v for k, v in layer.groupdict().items() if k != "t"}
            return path.format(p=int(bool(layer.groupdict().get("t"))), **fields) + "." + params[blob["param"]]
    return None


_TO_PYSLOWFAST: Dict[str, Callable[[str], Optional[str]]] = {
    "pyslowfast": lambda key: key,
    "caffe2": caffe2_to_pyslowfast,
    "pytorchvideo": pytorchvideo_to_pyslowfast,
}


def to_pyslowfast(key: str, fmt: str) -> Optional[str]:
    """PySlowFast name of a `fmt` key (one of FORMATS), or None when no rule knows it."""
    return _TO_PYSLOWFAST[fmt](key)


def to_paddlevideo(key: str, fmt: str) -> Optional[str]:
    """PaddleVideo name of a `fmt` key (one of FORMATS), or None when no rule knows it."""
    name = to_pyslowfast(key, fmt)
    return pyslowfast_to_paddlevideo(name) if name is not None else None


def transform_for(paddle_key: str, source_shape: Sequence[int]) -> str:
    """'transpose' for a fully connected weight (torch and Caffe2 store [out, in], Paddle [in, out]), else 'copy'."""
    return "transpose" if len(source_shape) == 2 and paddle_key.endswith(".weight") else "copy"
