"""Config -> model through the registries: MODEL.framework, MODEL.backbone.name, MODEL.head.name pick the parts."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Optional

from paddle import nn

from ..errors import ConfigError
from ..registry import BACKBONES, DETECTORS, HEADS, RECOGNIZERS

# head keys PaddleVideo restates from the backbone; they must agree with it
RESTATED_HEAD_KEYS = ("width_per_group", "alpha", "beta")


def build_model(cfg_model: Mapping[str, Any], *, seed: Optional[int] = None) -> nn.Layer:
    """The model of a MODEL config node (a Recognizer3D for SlowFast, a FastRCNN detector for AVA), initialised
    from `seed` (default 0); MODEL.framework picks the recognizer or detector registry."""
    extra = {} if seed is None else {"init_seed": seed}
    framework = cfg_model.get("framework") if isinstance(cfg_model, Mapping) else None
    registry = DETECTORS if isinstance(framework, str) and framework in DETECTORS else RECOGNIZERS
    return registry.build(cfg_model, key="framework", where="MODEL", **extra)


def build_backbone(cfg: Mapping[str, Any]) -> nn.Layer:
    """The backbone named by `cfg['name']` with the other keys as arguments; its conv3d layers run on oneDNN in
    CPU eager mode where the operator builds (paddlevideo_slowfast/ops)."""
    from .conv3d_fast import use_onednn_conv3d

    with _source_of_errors(cfg):
        backbone = BACKBONES.build(cfg, where="MODEL.backbone")
    use_onednn_conv3d(backbone)
    return backbone


def build_head(cfg: Mapping[str, Any], backbone: nn.Layer,
               backbone_cfg: Optional[Mapping[str, Any]] = None) -> nn.Layer:
    """The head named by `cfg['name']`, its input widths taken from `backbone` (restated keys must agree)."""
    check_head_consistency(cfg, backbone, backbone_cfg)
    derived = {}
    if hasattr(backbone, "out_channels"):  # our backbones; any other must be matched by the head's own keys
        derived = {"in_channels": backbone.out_channels, "temporal_divisors": backbone.temporal_divisors,
                   "output_stride": backbone.output_stride}
    with _source_of_errors(cfg):
        return HEADS.build(cfg, where="MODEL.head", **derived)


def check_head_consistency(head_cfg: Mapping[str, Any], backbone: nn.Layer,
                           backbone_cfg: Optional[Mapping[str, Any]] = None) -> None:
    """Raise a ConfigError naming both keys when the head restates a backbone value differently."""
    for key in RESTATED_HEAD_KEYS:
        if key not in head_cfg or not hasattr(backbone, key):
            continue
        head_value, backbone_value = head_cfg[key], getattr(backbone, key)
        if head_value != backbone_value:
            head_where = _describe(head_cfg, key, "MODEL.head")
            backbone_where = (_describe(backbone_cfg, key, "MODEL.backbone")
                              if backbone_cfg is not None and key in backbone_cfg
                              else f"MODEL.backbone.{key} (default)")
            raise ConfigError(f"{head_where} = {head_value!r} disagrees with {backbone_where} = {backbone_value!r}",
                              file=_source(head_cfg, key), key=_path(head_cfg, key, "MODEL.head"),
                              expected=f"{backbone_value!r} like MODEL.backbone.{key}, or leave it out "
                              "(the head derives it from the backbone)")


@contextmanager
def _source_of_errors(cfg: Mapping[str, Any]) -> Iterator[None]:
    """Add the config file to ConfigErrors raised while building from `cfg` (the layers know only the key)."""
    try:
        yield
    except ConfigError as exc:
        if exc.file is None and exc.key:
            file = _source(cfg, exc.key.rpartition(".")[2])
            if file:
                exc.file = file
                exc.args = (f"{exc.args[0]}; file: {file}",)
        raise


def _source(cfg: Any, key: str) -> Optional[str]:
    source_of = getattr(type(cfg), "source_of", None)  # the class: PaddleVideo's AttrDict raises KeyError on getattr
    return source_of(cfg, key) if callable(source_of) else None


def _path(cfg: Any, key: str, where: str) -> str:
    path_of = getattr(type(cfg), "path_of", None)
    return path_of(cfg, key) if callable(path_of) else f"{where}.{key}"


def _describe(cfg: Any, key: str, where: str) -> str:
    file = _source(cfg, key)
    return f"{_path(cfg, key, where)}" + (f" ({file})" if file else "")
