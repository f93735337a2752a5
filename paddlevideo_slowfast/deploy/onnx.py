"""ONNX: convert an exported model with paddle2onnx (the `.[onnx]` extra) and run it with onnxruntime.

One ONNX model with both named inputs (PaddleVideo's ONNX script fed only one). paddle2onnx reads the PIR
`.json` (and translates a legacy `.pdmodel` itself). Its default post-optimiser, polygraphy, tries to
`pip install` onnxruntime when it is missing, so the conversion asks for no external optimiser: onnxruntime
folds constants itself when it loads the model.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import ConfigError
from .runtime import check_clip_count, default_threads, input_dtype, order_inputs, stdout_to_stderr

OPSET = 13


def convert_to_onnx(model_file: Path, params_file: Path, onnx_file: Path, opset: int = OPSET) -> Path:
    """Write `onnx_file` from an exported Paddle model; ConfigError when paddle2onnx is not installed."""
    try:
        import paddle2onnx
    except ImportError:
        raise ConfigError("ONNX export needs paddle2onnx", key="--format onnx",
                          expected="pip install 'paddlevideo-slowfast[onnx]'") from None
    Path(onnx_file).unlink(missing_ok=True)  # paddle2onnx logs a failure instead of raising it
    with stdout_to_stderr():
        paddle2onnx.export(str(model_file), str(params_file), str(onnx_file), opset_version=opset,
                           enable_onnx_checker=True, optimize_tool="None", verbose=False)
    if not Path(onnx_file).is_file():
        raise ConfigError(f"paddle2onnx wrote no {onnx_file}", file=str(model_file))
    return Path(onnx_file)


def onnxruntime_available() -> bool:
    """Whether onnxruntime imports (the `.[onnx]` extra)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxRunner:
    """An onnxruntime CPU session fed its clips ((slow, fast), or one) by input name; returns the probabilities."""

    def __init__(self, onnx_file: Path, input_names: Sequence[str] = ("slow", "fast"),
                 threads: Optional[int] = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("running ONNX models needs onnxruntime, which is not installed", key="--runtime onnx",
                              expected="pip install 'paddlevideo-slowfast[onnx]' (or onnxruntime), or --runtime "
                              "paddle") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or default_threads())
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # paddle2onnx leaves unused initialisers: ORT warns about each one
        self.session = ort.InferenceSession(os.fspath(onnx_file), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in self.session.get_inputs()]
        self.input_names = order_inputs(names, input_names, where=str(onnx_file))

    def __call__(self, *clips: np.ndarray) -> np.ndarray:
        """Clips in the order of `input_names` -> (N, num_classes) probabilities."""
        check_clip_count(clips, self.input_names)
        feed = {name: np.ascontiguousarray(x, dtype=input_dtype(x)) for name, x in zip(self.input_names, clips)}
        return self.session.run(None, feed)[0]
