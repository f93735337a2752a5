"""conv3d on oneDNN for Paddle's CPU eager mode, and the switch that puts it under a model's Conv3D layers.

Paddle 3's eager conv3d never reaches oneDNN (docs/paddle_cpu_limits.md, 1 and 5); the custom operator in
csrc/onednn_conv3d.cc runs oneDNN's forward, backward-data and backward-weights convolutions on the
libdnnl.so.3 that Paddle's wheel ships. It is compiled on first use (ops/build.py). Layers marked by
modeling.conv3d_fast.use_onednn_conv3d (the model builder does it) call `takes_onednn` and `onednn_forward`
from FastConv3D.forward: CPU eager mode, float32, groups 1; static graphs (to_static, export), other devices and
dtypes keep Paddle's conv3d. Which path runs is logged once, with why. PADDLEVIDEO_SLOWFAST_ONEDNN_CONV3D=0 (or
`set_enabled(False)`) turns it off.
"""
from __future__ import annotations

import logging
import os
from typing import Optional, Sequence, Tuple

import paddle
from paddle import nn

from ..errors import ExtensionBuildError
from .build import build_library, load_library

ENV_SWITCH = "PADDLEVIDEO_SLOWFAST_ONEDNN_CONV3D"
LIBRARY = "pvsf_ops"
OP = "pvsf_onednn_conv3d"

logger = logging.getLogger("paddlevideo_slowfast.ops")


class _State:
    enabled: Optional[bool] = None  # None: from the environment
    library: Optional[str] = None   # path of the loaded library
    reason: Optional[str] = None    # why the operator is unavailable (set once tried)
    said_off: bool = False          # the switched-off line was logged


def set_enabled(enabled: Optional[bool]) -> None:
    """Turn the oneDNN conv3d on or off for this process (None: back to PADDLEVIDEO_SLOWFAST_ONEDNN_CONV3D)."""
    _State.enabled = enabled
    _State.said_off = False


def enabled() -> bool:
    """Whether the oneDNN conv3d is wanted (set_enabled, else the environment switch; on by default)."""
    if _State.enabled is not None:
        return _State.enabled
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "off", "no")


def available() -> bool:
    """Whether the operator is built and loaded (building it on the first call); logs once which conv3d runs."""
    if _State.library is not None:
        return True
    if _State.reason is not None:
        return False
    try:
        path = build_library(LIBRARY, ["onednn_conv3d.cc"], ["libdnnl.so.3"])
        names = load_library(path)
        if OP not in names:
            raise ExtensionBuildError(str(path), f"registers {names}, not {OP}")
    except (ExtensionBuildError, OSError) as exc:  # OSError: e.g. a cache folder that cannot be written
        _State.reason = str(exc)
        logger.warning("conv3d: Paddle's own CPU kernel (the oneDNN operator is unavailable: %s)", exc)
        return False
    _State.library = str(path)
    logger.info("conv3d: oneDNN custom operator in CPU eager mode (%s)", path)
    return True


def in_use() -> bool:
    """Whether CPU eager conv3d layers take the operator now (switch on, library loaded); logs the choice once."""
    if enabled():
        return available()
    if not _State.said_off:
        _State.said_off = True
        logger.info("conv3d: Paddle's own CPU kernel (the oneDNN operator is switched off: %s=0 or set_enabled)",
                    ENV_SWITCH)
    return False


def status() -> str:
    """One line: which conv3d CPU eager mode uses and why."""
    if not enabled():
        return f"Paddle's conv3d ({ENV_SWITCH}=0 or set_enabled(False))"
    if available():
        return f"oneDNN custom operator ({_State.library})"
    return f"Paddle's conv3d ({_State.reason})"


def onednn_conv3d(x: paddle.Tensor, weight: paddle.Tensor, bias: Optional[paddle.Tensor] = None, *,
                  stride: Sequence[int], padding: Sequence[int], dilation: Sequence[int]) -> paddle.Tensor:
    """F.conv3d(x, weight, bias, stride, padding, dilation) (NCDHW, float32, groups 1) on oneDNN, with gradients.

    x [N, C, T, H, W], weight [O, C, kt, kh, kw] -> [N, O, T', H', W']; `padding` is symmetric per axis.
    Raises ExtensionBuildError where the operator is unavailable (see `available()`).
    """
    if not available():
        raise ExtensionBuildError(OP, _State.reason or "not loaded")
    grad = paddle.is_grad_enabled()
    out = paddle._C_ops._run_custom_op(OP, x, weight, _ints(stride), _ints(padding), _ints(dilation),
                                       grad and not x.stop_gradient, grad and not weight.stop_gradient)[0]
    if bias is not None:
        out = out + bias.reshape([1, -1, 1, 1, 1])
    return out


def describe(x: paddle.Tensor, weight: paddle.Tensor, *, stride: Sequence[int], padding: Sequence[int],
             dilation: Sequence[int]) -> Tuple[str, str, str]:
    """oneDNN's implementation names for the forward, backward-data and backward-weights primitives of a shape."""
    if not available():
        raise ExtensionBuildError(OP, _State.reason or "not loaded")
    raw = paddle._C_ops._run_custom_op(OP + "_describe", x, weight, _ints(stride), _ints(padding),
                                       _ints(dilation))[0]
    forward, data, weights = bytes(raw.numpy().astype("uint8")).decode().split(";")
    return forward, data, weights


def takes_onednn(layer: nn.Conv3D, x: paddle.Tensor) -> bool:
    """Whether `layer` runs `x` on the operator: CPU eager mode, float32, switch on, library loaded; not the
    weight gradient of a stem whose fold is faster (`_folds_for_training`)."""
    return (getattr(layer, "_onednn_ok", True) and paddle.in_dynamic_mode() and x.place.is_cpu_place()
            and x.dtype == paddle.float32 and layer.weight.dtype == paddle.float32
            and not (_folds_for_training(layer) and paddle.is_grad_enabled() and not layer.weight.stop_gradient)
            and in_use())


def onednn_forward(layer: nn.Conv3D, x: paddle.Tensor) -> Optional[paddle.Tensor]:
    """`layer(x)` on the operator; None (and Paddle's kernel for this layer from then on) where oneDNN fails."""
    try:
        return onednn_conv3d(x, layer.weight, layer.bias, stride=_triple(layer._stride),
                             padding=_triple(layer._padding), dilation=_triple(layer._dilation))
    except Exception as exc:  # e.g. no oneDNN primitive for this shape: Paddle's kernel then runs it
        layer._onednn_ok = False
        logger.warning("conv3d: Paddle's own kernel for a conv with weight %s on input %s: oneDNN failed: %s",
                       list(layer.weight.shape), list(x.shape), str(exc)[:300])
        return None


def _folds_for_training(layer: nn.Conv3D) -> bool:
    """A stem (fewer than 8 input channels, temporal kernel > 1) whose FastConv3D fold is on: its weight gradient
    is cheaper through the fold (oneDNN has only im2col + GEMM for it, about 0.5x the fold's speed), a forward
    without one cheaper on oneDNN (1.9-2.7x)."""
    return (getattr(layer, "fast", False) and layer.weight.shape[1] < 8 and layer.weight.shape[2] > 1)


def _triple(value) -> Tuple[int, int, int]:
    flat = _flat(value)
    return tuple(flat) * 3 if len(flat) == 1 else tuple(flat)


def _flat(value) -> list:
    return [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def _ints(values: Sequence[int]) -> list:
    return [int(v) for v in values]
