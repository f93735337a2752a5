"""Our detector under the framework name PaddleVideo's loops compare literally.

PaddleVideo's `tasks/train.py` collects validation detections and calls `dataset.evaluate` only when
`cfg.MODEL.framework == "FastRCNN"` (otherwise it reads the outputs as a dict of losses and fails), and
`tasks/test.py` calls `Metric.set_dataset_info` only then. So the config keeps that name (`plugin.names.
LITERAL_FRAMEWORKS`), and `framework_builder` binds the `build_model` name inside PaddleVideo's task modules, for
the duration of the call, to one that builds our registered detector for it. Nothing else is changed: PaddleVideo's
registry keeps its own FastRCNN, and a config written with `FastRCNN_PVSF` is set back to `FastRCNN` by `literal`.
"""
from __future__ import annotations

import contextlib
import logging
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, MutableMapping, Optional, Sequence

from ..plugin.names import LITERAL_FRAMEWORKS

log = logging.getLogger("paddlevideo_slowfast.pv")


def literal(cfg: MutableMapping[str, Any], names: Dict[str, Dict[str, str]], plain_is_ours: bool = True
            ) -> Optional[str]:
    """The registered name of ours that `cfg.MODEL.framework` means when it is (or is our registered name of) a
    framework PaddleVideo tests by name; the config then holds the plain name. None for any other framework, and
    for the plain name itself unless `plain_is_ours` (pv's `--no-route` leaves plain names to PaddleVideo)."""
    model = cfg.get("MODEL")
    framework = model.get("framework") if isinstance(model, MutableMapping) else None
    for plain, kind in LITERAL_FRAMEWORKS.items():
        registered = names.get(kind, {}).get(plain)
        if registered is None or framework not in (plain, registered) or (framework == plain and not plain_is_ours):
            continue
        if framework != plain:
            model["framework"] = plain
            log.info("MODEL.framework: %s -> %s (PaddleVideo's train/test loops test this name; %s is built)",
                     framework, plain, registered)
        return registered
    return None


def routed(build_model: Callable[[Any], Any], registered: str) -> Callable[[Any], Any]:
    """PaddleVideo's `build_model` that builds `registered` where the MODEL section names a literal framework."""

    def build(model_cfg: Any) -> Any:
        if model_cfg.get("framework") in LITERAL_FRAMEWORKS:
            model_cfg = {**model_cfg, "framework": registered}  # a shallow copy: the config keeps its name
        return build_model(model_cfg)

    return build


@contextlib.contextmanager
def framework_builder(registered: Optional[str], modules: Sequence[ModuleType]) -> Iterator[None]:
    """Inside the block, `build_model` called from `modules` builds `registered` for the literal framework name."""
    if registered is None:
        yield
        return
    saved = [(module, module.build_model) for module in modules]
    for module, original in saved:
        module.build_model = routed(original, registered)
    try:
        yield
    finally:
        for module, original in saved:
            module.build_model = original
