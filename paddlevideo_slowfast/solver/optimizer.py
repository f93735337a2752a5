"""Optimizer and LR schedule from PaddleVideo's OPTIMIZER section, with weight decay on conv/FC weights only.

PySlowFast and PaddleVideo exempt BatchNorm scale/shift from L2 (`weight_decay.exclude_bn`, default on);
biases stay decayed as in both (`weight_decay.exclude_bias`, default off). The split is done with Paddle
parameter groups, which take precedence over any regularizer a layer's ParamAttr set, so the config alone
decides. L2 is coupled (`coeff * w` added to the gradient, as `weight_decay=L2Decay(coeff)` does) for
every optimizer except AdamW, whose `weight_decay` is its decoupled coefficient.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import paddle
from paddle import nn
from paddle.optimizer.lr import LRScheduler

from ..errors import ConfigError
from ..registry import accepted_arguments, check_kwargs, config_error
from .lr import build_lr

DECOUPLED = ("AdamW",)          # weight_decay is the optimizer's own decoupled coefficient
NORM_LAYERS = (nn.layer.norm._BatchNormBase, nn.BatchNorm, nn.LayerNorm, nn.GroupNorm,
               nn.layer.norm._InstanceNormBase)
SECTION_KEYS = ("name", "learning_rate", "weight_decay", "grad_clip")   # read here, not passed through
DECAY_KEYS = ("name", "value", "exclude_bn", "exclude_bias")


def _error(cfg: Any, key: str, message: str, where: str, expected: Optional[str] = None) -> ConfigError:
    """A ConfigError naming `where.key` and, when the node knows it, the file that set it."""
    return config_error(cfg, message, where, key, expected)


def split_decay_parameters(model: Union[nn.Layer, Iterable[paddle.Tensor]], *, exclude_bn: bool = True,
                           exclude_bias: bool = False) -> Tuple[List[paddle.Tensor], List[paddle.Tensor]]:
    """(decayed, exempt) parameters: norm-layer scale/shift and/or biases exempt as asked.

    Given a bare parameter list nothing is known of layers, so 1-D tensors count as norm parameters and
    biases alike (exempt when either switch is on).
    """
    decay: List[paddle.Tensor] = []
    exempt: List[paddle.Tensor] = []
    if not isinstance(model, nn.Layer):
        for param in model:
            (exempt if (exclude_bn or exclude_bias) and len(param.shape) <= 1 else decay).append(param)
        return decay, exempt
    for layer in model.sublayers(include_self=True):
        is_norm = isinstance(layer, NORM_LAYERS)
        for name, param in layer.named_parameters(include_sublayers=False):
            skip = (exclude_bn and is_norm) or (exclude_bias and not is_norm and name == "bias")
            (exempt if skip else decay).append(param)
    return decay, exempt


def _decay_settings(cfg: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """`weight_decay` as {kind: 'L2'|'L1', value, exclude_bn, exclude_bias}; a bare number is an L2 value."""
    settings = {"kind": "L2", "value": 0.0, "exclude_bn": True, "exclude_bias": False}
    spec = cfg.get("weight_decay")
    if spec is None or spec is False:
        return settings
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        settings["value"] = float(spec)
        return settings
    if not isinstance(spec, Mapping):
        raise _error(cfg, "weight_decay", f"weight_decay must be a number or a mapping, got {spec!r}", where,
                     "e.g. {name: L2, value: 1e-4}")
    node_where = f"{where}.weight_decay" if where else "weight_decay"
    for key in spec:
        if key not in DECAY_KEYS:
            raise _error(spec, key, f"weight_decay takes no key '{key}'", node_where,
                         f"one of: {', '.join(DECAY_KEYS)}")
    kind = str(spec.get("name", "L2")).upper()
    if "L2" in kind:
        settings["kind"] = "L2"
    elif "L1" in kind:
        settings["kind"] = "L1"
    else:
        raise _error(spec, "name", f"unknown weight decay '{spec.get('name')}'", node_where, "L2 or L1")
    value = spec.get("value", 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise _error(spec, "value", f"weight decay value must be a number >= 0, got {value!r}", node_where)
    settings["value"] = float(value)
    for switch in ("exclude_bn", "exclude_bias"):
        if switch in spec:
            if not isinstance(spec[switch], bool):
                raise _error(spec, switch, f"{switch} must be true or false, got {spec[switch]!r}", node_where)
            settings[switch] = spec[switch]
    return settings


def _grad_clip(cfg: Mapping[str, Any], where: str) -> Optional[nn.ClipGradBase]:
    """PaddleVideo's `grad_clip: {name: ClipGradByGlobalNorm, value: v}`; a bare number is a global norm."""
    spec = cfg.get("grad_clip")
    if spec is None or spec is False:
        return None
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return nn.ClipGradByGlobalNorm(float(spec))
    if not isinstance(spec, Mapping) or "value" not in spec:
        raise _error(cfg, "grad_clip", f"grad_clip must be a number or {{name, value}}, got {spec!r}", where,
                     "e.g. {name: ClipGradByGlobalNorm, value: 40}")
    name, value = str(spec.get("name", "global")).lower(), float(spec["value"])
    if "global" in name:
        return nn.ClipGradByGlobalNorm(value)
    if "value" in name:
        return nn.ClipGradByValue(max=value)
    if "norm" in name:
        return nn.ClipGradByNorm(value)
    raise _error(spec, "name", f"unknown grad_clip '{spec.get('name')}'",
                 f"{where}.grad_clip" if where else "grad_clip",
                 "ClipGradByGlobalNorm, ClipGradByNorm or ClipGradByValue")


def _optimizer_class(cfg: Mapping[str, Any], where: str) -> type:
    name = cfg.get("name")
    cls = getattr(paddle.optimizer, str(name), None) if name else None
    if not (isinstance(cls, type) and issubclass(cls, paddle.optimizer.Optimizer)):
        known = sorted(n for n in dir(paddle.optimizer) if isinstance(getattr(paddle.optimizer, n), type)
                       and issubclass(getattr(paddle.optimizer, n), paddle.optimizer.Optimizer)
                       and n != "Optimizer")
        raise _error(cfg, "name", f"unknown optimizer '{name}'", where, f"one of: {', '.join(known)}")
    return cls


def _param_groups(model: Any, settings: Dict[str, Any], decoupled: bool) -> List[Dict[str, Any]]:
    """One group with the decay and one exempt from it (empty groups dropped)."""
    value = settings["value"]
    if value > 0:
        decay, exempt = split_decay_parameters(model, exclude_bn=settings["exclude_bn"],
                                               exclude_bias=settings["exclude_bias"])
    else:
        decay, exempt = [], list(model.parameters() if isinstance(model, nn.Layer) else model)
    if decoupled:
        on, off = value, 0.0
        for param in decay + exempt:
            param.regularizer = None    # AdamW would add a ParamAttr's coupled term on top of its own
    else:
        on = paddle.regularizer.L2Decay(value) if settings["kind"] == "L2" else paddle.regularizer.L1Decay(value)
        off = None
    groups = [{"params": decay, "weight_decay": on}, {"params": exempt, "weight_decay": off}]
    return [g for g in groups if g["params"]]


def build_optimizer(cfg: Mapping[str, Any], model: Union[nn.Layer, Iterable[paddle.Tensor]], num_iters: int, *,
                    where: str = "OPTIMIZER", multi_precision: bool = False
                    ) -> Tuple[paddle.optimizer.Optimizer, LRScheduler]:
    """(optimizer, lr scheduler) from an OPTIMIZER section; `num_iters` = optimizer steps per epoch.

    Step the scheduler once per optimizer step when `scheduler.iter_step` is true, else once per epoch.
    `multi_precision` keeps float32 master weights (AMP O2) where the optimizer supports it.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where} must be a mapping", key=where, expected="name, learning_rate, ...")
    cls = _optimizer_class(cfg, where)
    lr_cfg = cfg.get("learning_rate")
    if not isinstance(lr_cfg, Mapping):
        raise _error(cfg, "learning_rate", f"learning_rate must be a schedule mapping, got {lr_cfg!r}", where,
                     "e.g. {name: CustomWarmupCosineDecay, iter_step: True, ...}")
    scheduler = build_lr(lr_cfg, num_iters, where=f"{where}.learning_rate" if where else "learning_rate")

    decoupled = cls.__name__ in DECOUPLED
    settings = _decay_settings(cfg, where)
    if decoupled and settings["kind"] != "L2":
        raise _error(cfg["weight_decay"], "name", f"{cls.__name__} supports only its own (L2-style) decay",
                     f"{where}.weight_decay", "L2")
    extra = {k: v for k, v in cfg.items() if k not in SECTION_KEYS}
    check_kwargs(cls.__init__, extra, what=f"optimizer '{cls.__name__}'", cfg=cfg, where=where)
    kwargs: Dict[str, Any] = dict(extra, learning_rate=scheduler, grad_clip=_grad_clip(cfg, where),
                                  parameters=_param_groups(model, settings, decoupled))
    if decoupled:
        kwargs["weight_decay"] = 0.0    # groups carry the coefficient; AdamW's own default would be 0.01
    if multi_precision and "multi_precision" in (accepted_arguments(cls.__init__) or ()):
        kwargs["multi_precision"] = True
    return cls(**kwargs), scheduler

