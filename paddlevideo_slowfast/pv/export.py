"""PaddleVideo's export path for our model: its `tools/export_model.py` `trim_config` and SlowFast input specs
(`slow_input`, `fast_input`, shapes from `INFERENCE`), then `paddle.jit.to_static` and `paddle.jit.save`.

Three departures, all deliberate: the weights load strictly (PaddleVideo's `set_dict` skips any key that does
not fit, exporting a half-random model without a word); the input specs are always SlowFast's, or for a detector
its AVA detector's (PaddleVideo keys them on `model_name`; any other name gets none and fails; see
export_detection.py for the detector's inputs and outputs); and `to_static` gets `full_graph=True`
(on Paddle 3 it ignores `input_spec` without it, as its warning says). The files are named after `model_name`, as
PaddleVideo's; no `infer_cfg.yml` is written: `paddlevideo predict -c CONFIG` reads the config instead.
"""
from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Optional

log = logging.getLogger("paddlevideo_slowfast.pv")

SPEC_MODEL_NAME = "SlowFast"  # the model_name PaddleVideo's get_input_spec knows for two-pathway clips


def export_paddlevideo(paddlevideo: ModuleType, cfg: Any, weights: str, output: str,
                       save_name: Optional[str] = None, framework: Optional[str] = None) -> Dict[str, Any]:
    """Export the model of `cfg` with `weights` into `output`; returns the files written and the input specs.

    framework: the registered detector to build where MODEL.framework is a name PaddleVideo tests literally
    (pv/framework.py); a detector gets PaddleVideo's AVA specs and outputs (export_detection.py).
    """
    import paddle

    from ..engine.detection_eval import is_detector
    from ..interop.weights import load_weights
    from ..plugin.importer import submodule, tools_module
    from .export_detection import detection_export
    from .framework import routed

    tools = tools_module(paddlevideo, "export_model")
    cfg, model_name = tools.trim_config(cfg)
    build_model = submodule(paddlevideo, "modeling.builder").build_model
    model = (routed(build_model, framework) if framework else build_model)(cfg.MODEL)
    load_weights(model, weights, allow_head_reinit=False)
    model.eval()
    if is_detector(model):
        model, specs = detection_export(model, tools, cfg.INFERENCE)
    else:
        specs = tools.get_input_spec(cfg.INFERENCE, SPEC_MODEL_NAME)
    static = paddle.jit.to_static(model, input_spec=specs, full_graph=True)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / (save_name or str(model_name))
    paddle.jit.save(static, str(stem))
    files: List[str] = sorted(str(p) for p in folder.glob(f"{stem.name}.*"))
    inputs = [{"name": spec.name, "shape": list(spec.shape)} for spec in specs[0]]
    log.info("exported %s to %s (inputs %s)", model_name, folder,
             "; ".join(f"{i['name']} {i['shape']}" for i in inputs))
    return {"files": files, "inputs": inputs, "model_name": str(model_name)}
