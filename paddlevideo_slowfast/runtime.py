"""Process setup before a model runs: device, output folder, CPU threads, and how much of Paddle's noise shows.

Paddle 3.3.1's eager CPU kernels are single-threaded by default; the bundled MKL (2019.0.5) picks its slowest
sgemm path on non-Intel CPUs. Measurements: docs/benchmarks.md and docs/paddle_cpu_limits.md. Engine, deploy
and the CLI import this module; it imports none of them.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path
from typing import Iterator, Optional

from .config import AttrDict, get
from .errors import ConfigError

# MKL 2019's undocumented switch: 5 = its AVX2 kernels, valid on any CPU with AVX2 + FMA (ignored by MKL >= 2020.1)
MKL_AVX2 = "5"

# glog severities: 0 INFO, 1 WARNING, 2 ERROR; read once, when Paddle's C++ library loads
GLOG_ERRORS_ONLY = "2"

_configured_threads: Optional[int] = None
_user_set_threads = False  # the thread count came from the user (OMP_NUM_THREADS): keep it as it is
_paddle_quiet = False      # Paddle's own warnings and C++ prints are hidden (the CLI without --verbose)


def output_folder(cfg: AttrDict, override: Optional[str] = None) -> Path:
    """`--output`, else `output_dir`, else `output/<model_name>` (PaddleVideo's layout)."""
    folder = override or get(cfg, "output_dir")
    return Path(folder) if folder else Path("output") / str(cfg.get("model_name", "model"))


def select_device(amp: bool) -> str:
    """GPU when this Paddle build has one, else CPU; `--amp` needs the GPU (Paddle CPU has no bf16 conv3d)."""
    import paddle

    device = "gpu" if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"
    if amp and device == "cpu":
        raise ConfigError("--amp needs a GPU: Paddle 3.3.1 has no bfloat16 conv3d CPU kernel, so auto_cast "
                          "would silently stay float32 on this machine", key="--amp",
                          expected="run without --amp on CPU")
    if device == "gpu":
        paddle.set_device(f"gpu:{paddle.distributed.ParallelEnv().device_id}")
    else:
        paddle.set_device("cpu")
    return device


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), or the machine's count off Linux."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def configure_cpu_threads(n: Optional[int] = None, *, mkl_avx2_on_amd: bool = True, user_choice: bool = False) -> int:
    """Let Paddle's math library use `n` threads (default: every usable core); returns `n`.

    Paddle sets OMP_NUM_THREADS=1 when imported and `FLAGS_paddle_num_threads` (default 1) only reaches
    executors, so eager kernels run on one core unless told otherwise; `paddle.base.core.set_num_threads`
    is the knob that works. With `mkl_avx2_on_amd`, on an AMD CPU with AVX2 it also sets
    MKL_DEBUG_CPU_TYPE=5 (unless already set) so that MKL's sgemm takes its AVX2 path (about 2.5x);
    that only takes effect if no MKL routine has run yet in this process, so call this first. `user_choice`:
    the count is the user's (OMP_NUM_THREADS), which leave_cores_for_workers then keeps.
    """
    global _configured_threads, _user_set_threads
    n = usable_cores() if n is None else int(n)
    if n < 1:
        raise ValueError(f"thread count must be at least 1, got {n}")
    if mkl_avx2_on_amd and "MKL_DEBUG_CPU_TYPE" not in os.environ and _amd_with_avx2():
        os.environ["MKL_DEBUG_CPU_TYPE"] = MKL_AVX2
    from paddle.base import core

    core.set_num_threads(n)
    _configured_threads = n
    _user_set_threads = _user_set_threads or user_choice
    return n


def configured_threads() -> int:
    """The thread count set by configure_cpu_threads, else every usable core."""
    return _configured_threads or usable_cores()


def leave_cores_for_workers(workers: int) -> int:
    """Fewer math threads when `workers` data-loading processes share the cores (one core each, one thread
    at least), unless the user chose the count; returns the thread count now in force.

    Measured on 2 cores (quickstart, 2 workers): 2 math threads took 37 s an epoch, 1 thread 24 s.
    """
    if _user_set_threads or workers <= 0:
        return configured_threads()
    return configure_cpu_threads(max(1, configured_threads() - int(workers)))


def _amd_with_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read(1 << 16)
    except OSError:
        return False
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "").split()
    return "AuthenticAMD" in info and "avx2" in flags and "fma" in flags


def quiet_paddle() -> None:
    """Hide Paddle's own warnings (the CLI without --verbose); call before `import paddle` to reach C++.

    Python side: every warning raised inside a `paddle.*` module ("No ccache found", "When training, we now
    always track global mean and variance"). C++ side: glog below ERROR ("PIR not support input out tensor"),
    which glog reads from GLOG_minloglevel once, when Paddle's library loads; a user's own value is kept.
    Prints that Paddle's C++ makes on stdout ("ReduceMeanCheckIfOneDNNSupport") are dropped by
    `native_stdout_to_stderr` while this is in force.
    """
    global _paddle_quiet
    _paddle_quiet = True
    os.environ.setdefault("GLOG_minloglevel", GLOG_ERRORS_ONLY)
    warnings.filterwarnings("ignore", module=r"paddle(\.|$)")


def paddle_quiet() -> bool:
    """Whether quiet_paddle is in force."""
    return _paddle_quiet


@contextlib.contextmanager
def native_stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 to stderr for the block (to /dev/null under quiet_paddle), so that C++ prints,
    which Python cannot catch, never mix with the data a verb writes on stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    sink = os.open(os.devnull, os.O_WRONLY) if _paddle_quiet else None
    try:
        os.dup2(2 if sink is None else sink, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        if sink is not None:
            os.close(sink)
