"""The oneDNN eval path: a Recognizer3D whose backbone runs in a Paddle Inference predictor, for `test`.

Paddle 3.3.1's eager CPU kernels never use oneDNN; a BN-folded copy of the backbone exported to a oneDNN
predictor gives the same outputs faster (docs/benchmarks.md, docs/paddle_cpu_limits.md).
"""
from __future__ import annotations

import copy
import logging
import os
import tempfile
from typing import Any, List, Optional, Sequence

import numpy as np

from ..runtime import configured_threads, native_stdout_to_stderr
from .fold import fold_batchnorm

logger = logging.getLogger(__name__)


class EvalAccelerated:
    """A Recognizer3D's eval calls with the backbone run by a Paddle Inference predictor on oneDNN.

    Called like the model: `(batch, mode)` with mode infer/test (class probabilities) or valid (loss dict);
    `forward_net(clips)`. The head stays in dygraph. The predictor holds a copy of the weights made at
    construction: build a new one after the weights change. Other attributes come from the model.
    """

    def __init__(self, model: Any, *, num_threads: Optional[int] = None):
        model.eval()
        self.model = model
        self._predictor = _backbone_predictor(model.backbone, num_threads or configured_threads())
        self._inputs = self._predictor.get_input_names()
        self._outputs = self._predictor.get_output_names()

    def __call__(self, data_batch: Sequence[Any], mode: str = "infer") -> Any:
        if mode in ("infer", "test"):
            return self.forward_net(data_batch[0:2])
        if mode == "valid":
            return self.model.head.loss(self.forward_net(data_batch[0:2]), data_batch[2:], valid_mode=True)
        raise ValueError(f"accelerated model evaluates only (infer, test, valid), got mode '{mode}'")

    def forward_net(self, clips: Sequence[Any]) -> Any:
        """[slow, fast] -> class probabilities [N, num_classes]."""
        import paddle

        with paddle.no_grad():
            return self.model.head(self.backbone_features(clips))

    def backbone_features(self, clips: Sequence[Any]) -> List[Any]:
        """The backbone's outputs for [slow, fast], computed by the predictor."""
        import paddle

        arrays = {"slow": clips[0], "fast": clips[1]}
        for name in self._inputs:
            value = arrays[name]
            self._predictor.get_input_handle(name).copy_from_cpu(
                np.ascontiguousarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float32))
        with native_stdout_to_stderr():
            self._predictor.run()
        return [paddle.to_tensor(self._predictor.get_output_handle(name).copy_to_cpu()) for name in self._outputs]

    def __getattr__(self, name: str) -> Any:
        model = self.__dict__.get("model")
        if model is None:
            raise AttributeError(name)
        return getattr(model, name)


def accelerate_for_eval(model: Any, *, enabled: bool = True, num_threads: Optional[int] = None) -> Any:
    """`model` for evaluation on CPU with its backbone on a oneDNN predictor (same outputs to ~1e-5).

    Returns an EvalAccelerated, or the model itself (in eval mode) when `enabled` is false, when Paddle
    runs on a GPU or lacks oneDNN, or when the predictor cannot be built (logged).
    """
    import paddle

    model.eval()
    if not enabled or not paddle.base.core.is_compiled_with_onednn() or "cpu" not in paddle.get_device():
        return model
    try:
        return EvalAccelerated(model, num_threads=num_threads)
    except Exception as exc:  # an unexpected Paddle failure must not stop an evaluation that eager can run
        logger.warning("oneDNN eval path unavailable (%s: %s); evaluating in dygraph", type(exc).__name__, exc)
        return model


def folded_copy(backbone: Any) -> Any:
    """An eval-mode copy of `backbone` with every conv->BN pair folded into the conv (the model is untouched).

    Paddle's oneDNN passes fuse conv2d+BN only, so a conv3d network otherwise runs each BN as its own op.
    """
    import paddle

    class Traced(paddle.nn.Layer):
        """fold_batchnorm traces `model(clips, mode=...)`; a backbone takes the clips alone."""

        def __init__(self, net: paddle.nn.Layer):
            super().__init__()
            self.net = net

        def forward(self, clips: List[paddle.Tensor], mode: str = "infer") -> List[paddle.Tensor]:
            return self.net(clips)

    clone = copy.deepcopy(backbone)
    clone.eval()
    alpha = int(getattr(backbone, "alpha", 1))
    rng = np.random.default_rng(0)
    clips = [paddle.to_tensor(rng.standard_normal((1, 3, frames, 64, 64), dtype=np.float32))
             for frames in (2, 2 * alpha)]  # a trace needs one forward pass; any clip of valid geometry does
    traced = Traced(clone)
    traced.eval()
    fold_batchnorm(traced, clips)
    return clone


def _backbone_predictor(backbone: Any, num_threads: int) -> Any:
    """Export a BN-folded copy of `backbone` to a temporary folder and load it in a oneDNN predictor."""
    import paddle
    import paddle.inference as pi
    from paddle.static import InputSpec

    pathways = tuple(getattr(backbone, "PATHWAYS", (0, 1)))  # one-pathway ablations read one clip
    backbone = folded_copy(backbone)

    class Clips(paddle.nn.Layer):
        """jit.save needs tensors as arguments: the clips the backbone reads, as inputs named slow / fast."""

        def __init__(self, net: paddle.nn.Layer):
            super().__init__()
            self.net = net

        def forward(self, first: paddle.Tensor, second: Optional[paddle.Tensor] = None) -> List[paddle.Tensor]:
            inputs: List[Optional[paddle.Tensor]] = [None, None]
            for p, clip in zip(pathways, (first, second)):
                inputs[p] = clip
            return self.net(inputs)

    wrapper = Clips(backbone)
    wrapper.eval()
    spec = [InputSpec([None, 3, None, None, None], "float32", ("slow", "fast")[p]) for p in pathways]
    with tempfile.TemporaryDirectory(prefix="pvsf_eval_") as folder:
        prefix = os.path.join(folder, "backbone")
        paddle.jit.save(wrapper, prefix, input_spec=spec)
        program = next(prefix + ext for ext in (".json", ".pdmodel") if os.path.exists(prefix + ext))
        config = pi.Config(program, prefix + ".pdiparams")
        config.disable_gpu()
        config.enable_onednn()
        config.set_cpu_math_library_num_threads(int(num_threads))
        config.disable_glog_info()
        with native_stdout_to_stderr():
            return pi.create_predictor(config)
