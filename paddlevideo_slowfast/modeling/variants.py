"""Named SlowFast variants (timm style): each states only its deltas from the defaults, which are R50 4x16, K400."""
from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Mapping, Optional

from paddle import nn

from ..errors import RegistryError
from .builder import build_model

VARIANTS: Dict[str, Callable[[], Dict[str, Any]]] = {}

# every variant starts here; the constructors' defaults fill in SlowFast R50 4x16 for 400 classes
BASE = {"framework": "Recognizer3D", "backbone": {"name": "ResNetSlowFast"}, "head": {"name": "SlowFastHead"}}


def variant(fn: Callable[[], Dict[str, Any]]) -> Callable[[], Dict[str, Any]]:
    """Register a function returning a MODEL-config delta under its own name."""
    VARIANTS[fn.__name__] = fn
    return fn


@variant
def slowfast_r50_4x16() -> Dict[str, Any]:
    """PaddleVideo's SlowFast R50 4x16 (slowfast.yaml): 27.8 GMAC at 224."""
    return {}


@variant
def slowfast_r50_8x8() -> Dict[str, Any]:
    """PaddleVideo's SlowFast R50 8x8 (slowfast_multigrid.yaml): alpha 4, fusion kernel 7; 50.6 GMAC at 224."""
    return {"backbone": {"alpha": 4, "fusion_kernel_sz": 7}}


@variant
def slowfast_r50_16x8() -> Dict[str, Any]:
    """SlowFast R50 16x8: the R50 8x8 layers (alpha 4, fusion kernel 7) on 64 Fast frames, 16 Slow."""
    return {"backbone": {"alpha": 4, "fusion_kernel_sz": 7}, "head": {"num_frames": 64}}


@variant
def slowfast_r101_8x8() -> Dict[str, Any]:
    """PySlowFast's SLOWFAST_8x8_R101_101_101: alpha 4, fusion kernel 5, every res4 block temporal; 96.8 GMAC at 224."""
    return {"backbone": {"depth": 101, "alpha": 4, "fusion_kernel_sz": 5}}


# PySlowFast's SLOWFAST_NLN_16x8_R101_50_50: res4 temporal kernels only in blocks 0-5 (the "50" of the name),
# non-local blocks after Slow res4 blocks 6, 13 and 20
R101_50_50_TEMPORAL_BLOCKS = [[3, 3], [4, 4], [6, 6], [3, 3]]
R101_NONLOCAL_LOCATION = [[[], []], [[], []], [[6, 13, 20], []], [[], []]]


@variant
def slowfast_r101_nl_16x8() -> Dict[str, Any]:
    """The paper's SlowFast 16x8 R101+NL (PySlowFast SLOWFAST_NLN_16x8_R101_50_50): 64 Fast frames, 183.8 GMAC."""
    return {"backbone": {"depth": 101, "alpha": 4, "fusion_kernel_sz": 5,
                         "num_block_temp_kernel": R101_50_50_TEMPORAL_BLOCKS,
                         "nonlocal_location": R101_NONLOCAL_LOCATION, "nonlocal_instantiation": "dot_product"},
            "head": {"num_frames": 64}}


@variant
def slowonly_r50_4x16() -> Dict[str, Any]:
    """The Slow pathway alone, 4 frames (paper Table 5 ablation)."""
    return {"backbone": {"name": "ResNetSlowOnly"}}


@variant
def fastonly_r50_4x16() -> Dict[str, Any]:
    """The Fast pathway alone, 32 frames at 1/8 width."""
    return {"backbone": {"name": "ResNetFastOnly"}}


@variant
def slowfast_tiny() -> Dict[str, Any]:
    """A few-MFLOP SlowFast for tests and smoke runs: 1 block per stage, width 8, 8 frames at 64 px, 10 classes."""
    return {"backbone": {"depth": 10, "width_per_group": 8, "alpha": 4, "beta": 4},
            "head": {"num_classes": 10, "num_frames": 8, "crop_size": 64, "dropout_rate": 0.0}}


def variant_names() -> List[str]:
    return sorted(VARIANTS)


def variant_config(name: str, overrides: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The MODEL config of variant `name`, with `overrides` ({'head': {'num_classes': 10}}) merged in."""
    if name not in VARIANTS:
        raise RegistryError(f"unknown model variant '{name}'; registered: {', '.join(variant_names())}")
    cfg = copy.deepcopy(BASE)
    for delta in (VARIANTS[name](), overrides or {}):
        _merge(cfg, delta)
    return cfg


def create_model(name: str, overrides: Optional[Mapping[str, Any]] = None, *, seed: int = 0) -> nn.Layer:
    """Build variant `name` (see `variant_names()`), initialised from `seed`."""
    return build_model(variant_config(name, overrides), seed=seed)


def _merge(base: Dict[str, Any], delta: Mapping[str, Any]) -> None:
    for key, value in delta.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
