"""The device PaddleVideo's train/test functions run on: they call `paddle.set_device('gpu')` unconditionally
(npu/xpu only when the config asks), which fails on a CPU-only Paddle build.

`--device cpu` runs them with the `paddle` name inside their modules bound, for the duration of the call, to a
view of paddle whose `set_device` selects the asked device and logs what PaddleVideo had asked for. Nothing else
in the process, and nothing of paddle itself, is changed.
"""
from __future__ import annotations

import contextlib
import logging
from types import ModuleType
from typing import Iterator, Optional, Sequence

from ..errors import ConfigError

log = logging.getLogger("paddlevideo_slowfast.pv")

DEVICES = ("cpu", "gpu")


def resolve_device(asked: Optional[str]) -> str:
    """`asked`, or the GPU PaddleVideo assumes; a GPU on a CPU-only Paddle build is an error that says what to pass."""
    import paddle

    has_gpu = paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    device = asked or "gpu"
    if device not in DEVICES:
        raise ConfigError(f"unknown device '{device}'", key="--device", expected=" or ".join(DEVICES))
    if device == "gpu" and not has_gpu:
        raise ConfigError("PaddleVideo's trainer and tester call paddle.set_device('gpu'), and this Paddle build has "
                          "no usable GPU", key="--device", expected="--device cpu")
    return device


class _PaddleView(ModuleType):
    """paddle, except that `set_device` selects one fixed device."""

    def __init__(self, device: str):
        super().__init__("paddle")
        self._device = device

    def __getattr__(self, name: str):
        import paddle

        return getattr(paddle, name)

    def set_device(self, asked: str):
        import paddle

        if asked != self._device:
            log.info("PaddleVideo asked for device '%s'; running on '%s' (--device)", asked, self._device)
        return paddle.set_device(self._device)


@contextlib.contextmanager
def paddlevideo_device(device: str, modules: Sequence[ModuleType]) -> Iterator[None]:
    """Inside the block, `paddle.set_device(...)` called from `modules` selects `device`; a GPU needs no change."""
    if device == "gpu":
        yield
        return
    saved = [(module, module.paddle) for module in modules]
    view = _PaddleView(device)
    for module, _ in saved:
        module.paddle = view
    try:
        yield
    finally:
        for module, original in saved:
            module.paddle = original
