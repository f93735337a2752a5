"""PaddleVideo's own train/test read checkpoints with `paddle.load`, which unpickles (runs) whatever a file names.

`restricted_load(modules)` binds the `load` name inside PaddleVideo's task modules, for the duration of the
call, to our allow-listed reader (`engine.checkpoint.read_checkpoint`), so that `-w`, `resume_epoch` and
`test -w` through the plugin cannot run code from a planted file either. paddle itself is not changed.
"""
from __future__ import annotations

import contextlib
from types import ModuleType
from typing import Any, Iterator, Sequence


def _load(file_name: str) -> Any:
    """PaddleVideo's `utils.save_load.load(file_name)`, without running pickled code."""
    from ..engine.checkpoint import read_checkpoint

    return read_checkpoint(file_name, tensors=True)


@contextlib.contextmanager
def restricted_load(modules: Sequence[ModuleType]) -> Iterator[None]:
    """Inside the block, `load(...)` called from `modules` reads through the allow-list."""
    saved = [(module, module.__dict__["load"]) for module in modules if "load" in module.__dict__]
    for module, _ in saved:
        module.load = _load
    try:
        yield
    finally:
        for module, original in saved:
            module.load = original
