"""Paddle Inference predictors for SlowFast: the config settings that measured fastest, and a two-input runner.

Settings and why (Paddle 3.3.1 on CPU; numbers in docs/benchmarks.md):
- oneDNN on: 6-8x faster than Paddle's own CPU kernels on conv3d.
- `set_cpu_math_library_num_threads` always: Paddle's default is one thread whatever the machine.
- no `enable_memory_optim()`: on 3.3.1 it fails with "Not find predictor_id ... memory_optimize_pass".
- IR optimisation on (the default): it places ops on oneDNN and fuses conv3d+bias; BN is folded at export.
Paddle's C++ side prints oneDNN notes ("ReduceMeanCheckIfOneDNNSupport") on stdout while it builds and
first runs a program; that stdout goes to stderr (or nowhere without --verbose) so that `predict --json` stays
parseable: `stdout_to_stderr`, the process-wide helper of paddlevideo_slowfast/runtime.py.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..errors import CheckpointError, ConfigError
from ..runtime import native_stdout_to_stderr as stdout_to_stderr

DEVICES = ("cpu", "gpu")
TRT_PRECISIONS = ("fp32", "fp16")


def default_threads() -> int:
    """The cores this process may use (its CPU affinity), the math library's thread count by default."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def paddle_config(model_file: Path, params_file: Path, *, device: str = "cpu", threads: Optional[int] = None,
                  onednn: bool = True, trt: Optional[str] = None, gpu_id: int = 0, max_batch: int = 1):
    """A `paddle.inference.Config` for one exported model with the settings above."""
    import paddle
    import paddle.inference as pi

    if device not in DEVICES:
        raise ConfigError(f"unknown device '{device}'", key="--device", expected=" or ".join(DEVICES))
    config = pi.Config(str(model_file), str(params_file))
    config.disable_glog_info()
    if device == "gpu":
        if not paddle.is_compiled_with_cuda():
            raise ConfigError("this Paddle build has no GPU support", key="--device",
                              expected="cpu, or install paddlepaddle-gpu")
        config.enable_use_gpu(256, gpu_id)
        if trt:
            _enable_tensorrt(config, trt, max_batch)
        return config
    if trt:
        raise ConfigError("TensorRT runs on the GPU only", key="--trt", expected="--device gpu, or no --trt")
    config.disable_gpu()
    if onednn:
        config.enable_onednn()
    else:
        config.disable_onednn()
    config.set_cpu_math_library_num_threads(int(threads or default_threads()))
    return config


def _enable_tensorrt(config, precision: str, max_batch: int) -> None:
    """TensorRT subgraphs in fp32 or fp16, when this Paddle build was compiled with TensorRT."""
    import paddle.inference as pi

    if precision not in TRT_PRECISIONS:
        raise ConfigError(f"unknown TensorRT precision '{precision}'", key="--trt",
                          expected=" or ".join(TRT_PRECISIONS))
    if tuple(pi.get_trt_compile_version()) == (0, 0, 0):
        raise ConfigError("this Paddle build has no TensorRT", key="--trt",
                          expected="a paddlepaddle-gpu build with TensorRT (see paddle.inference."
                          "get_trt_compile_version()), or leave --trt out to run on plain CUDA")
    mode = pi.PrecisionType.Half if precision == "fp16" else pi.PrecisionType.Float32
    config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=max_batch, min_subgraph_size=3,
                                  precision_mode=mode, use_static=False, use_calib_mode=False)


def create_paddle_predictor(model_file: Path, params_file: Path, **options):
    """A Paddle Inference predictor with `paddle_config`'s settings; a corrupt or foreign model is one
    CheckpointError line naming both files."""
    import paddle.inference as pi

    with stdout_to_stderr():
        try:
            return pi.create_predictor(paddle_config(Path(model_file), Path(params_file), **options))
        except (ValueError, RuntimeError, OSError) as exc:  # Paddle's parser refuses a corrupt or foreign file
            detail = " ".join(str(exc).split())
            raise CheckpointError(f"{model_file} + {params_file}",
                                  reason=f"not a loadable Paddle Inference model: {detail}") from None


class PaddleRunner:
    """A Paddle Inference predictor fed its clips ((slow, fast), or the one clip of a one-pathway model) by input
    name; returns the probabilities."""

    def __init__(self, model_file: Path, params_file: Path, input_names: Sequence[str] = ("slow", "fast"),
                 **options):
        self.predictor = create_paddle_predictor(model_file, params_file, **options)
        names: List[str] = list(self.predictor.get_input_names())
        self.input_names = order_inputs(names, input_names, where=str(model_file))
        self.inputs = [self.predictor.get_input_handle(n) for n in self.input_names]
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def __call__(self, *clips: np.ndarray) -> np.ndarray:
        """Clips in the order of `input_names`, e.g. (N, C, T/alpha, H, W), (N, C, T, H, W) float32 -> (N, classes)."""
        check_clip_count(clips, self.input_names)
        for handle, array in zip(self.inputs, clips):
            array = np.ascontiguousarray(array, dtype=input_dtype(array))
            handle.reshape(list(array.shape))
            handle.copy_from_cpu(array)
        with stdout_to_stderr():
            self.predictor.run()
        return self.output.copy_to_cpu()


def input_dtype(array: np.ndarray) -> type:
    """int32 for integer inputs (a detector's `rois_num`), float32 for everything else (clips, boxes)."""
    return np.int32 if np.asarray(array).dtype.kind == "i" else np.float32


def check_clip_count(clips: Sequence[np.ndarray], input_names: Sequence[str]) -> None:
    if len(clips) != len(input_names):
        raise ValueError(f"the model takes {len(input_names)} clips ({', '.join(input_names)}), got {len(clips)}")


def order_inputs(names: Sequence[str], wanted: Sequence[str], where: str = "") -> List[str]:
    """The model's input names in the order of `wanted` (infer_cfg.yml's): by name, else by 'slow'/'fast' in them.

    `wanted` is [slow, fast], or one name for a Slow-only or Fast-only model."""
    if len(names) != len(wanted):
        raise ConfigError(f"the model has {len(names)} input(s) ({', '.join(names)}), {len(wanted)} were expected "
                          f"({', '.join(wanted)})", file=where or None,
                          expected="the infer_cfg.yml written with this model")
    if set(names) == set(wanted):
        return list(wanted)
    if len(names) == 1:
        return list(names)
    slow = [n for n in names if "slow" in n.lower()]
    fast = [n for n in names if "fast" in n.lower()]
    if len(slow) == 1 and len(fast) == 1 and slow != fast:
        return [slow[0], fast[0]]
    raise ConfigError(f"cannot tell the slow and fast inputs apart: {', '.join(names)}", file=where or None,
                      expected=f"inputs named {' and '.join(wanted)} (infer_cfg.yml), or containing 'slow'/'fast'")
