"""Import the real PaddleVideo (`paddlevideo` package) and reach its registries, undoing its import-time signal grab.

PaddleVideo's loader module (`paddlevideo/loader/builder.py`) installs SIGINT and SIGTERM handlers at import that
SIGKILL the whole process group, which takes down the shell pipeline or test runner that started it. Every
import made here runs with the previous handlers put back afterwards; Ctrl-C then raises KeyboardInterrupt as
usual, and Paddle's DataLoader stops its own workers.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, Iterator, Optional

from ..errors import SlowFastError

log = logging.getLogger("paddlevideo_slowfast.plugin")

PATH_ENV = "PADDLEVIDEO_DIR"  # a folder holding the `paddlevideo` package (a PaddleVideo checkout)

# PaddleVideo registry name -> the submodule of `paddlevideo` that defines it
REGISTRY_MODULES: Dict[str, str] = {
    "BACKBONES": "modeling.registry",
    "HEADS": "modeling.registry",
    "RECOGNIZERS": "modeling.registry",
    "DETECTORS": "modeling.registry",
    "ROI_EXTRACTORS": "modeling.registry",
    "BBOX_ASSIGNERS": "modeling.registry",
    "BBOX_SAMPLERS": "modeling.registry",
    "PIPELINES": "loader.registry",
    "DATASETS": "loader.registry",
    "METRIC": "metrics.registry",
}


class PaddleVideoNotFound(SlowFastError, ImportError):
    """The `paddlevideo` package cannot be imported: says where it was looked for and how to point at it."""


@contextlib.contextmanager
def kept_signal_handlers() -> Iterator[None]:
    """Restore SIGINT/SIGTERM handlers replaced inside the block (PaddleVideo's loader replaces them on import)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if signal.getsignal(sig) is not handler and handler is not None:
                signal.signal(sig, handler)
                log.debug("restored the %s handler PaddleVideo replaced on import", signal.Signals(sig).name)


def import_paddlevideo(path: Optional[str] = None) -> ModuleType:
    """The `paddlevideo` package: already imported, importable, or found in `path` / $PADDLEVIDEO_DIR."""
    if "paddlevideo" in sys.modules:
        return sys.modules["paddlevideo"]
    folder = path or os.environ.get(PATH_ENV)
    if folder:
        if not (Path(folder) / "paddlevideo" / "__init__.py").is_file():
            raise PaddleVideoNotFound(f"{folder} holds no paddlevideo package (expected "
                                      f"{Path(folder) / 'paddlevideo' / '__init__.py'})")
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    elif importlib.util.find_spec("paddlevideo") is None:
        raise PaddleVideoNotFound("PaddleVideo is not importable: put a PaddleVideo checkout on PYTHONPATH, set "
                                  f"${PATH_ENV} to it, or pass --paddlevideo DIR")
    with kept_signal_handlers():
        return importlib.import_module("paddlevideo")


def submodule(paddlevideo: ModuleType, name: str) -> ModuleType:
    """`paddlevideo.<name>` imported with the signal handlers kept."""
    with kept_signal_handlers():
        return importlib.import_module(f"{paddlevideo.__name__}.{name}")


def registries(paddlevideo: ModuleType) -> Dict[str, object]:
    """PaddleVideo's own registry objects by their names (BACKBONES, HEADS, RECOGNIZERS, DETECTORS, ROI_EXTRACTORS,
    BBOX_ASSIGNERS, BBOX_SAMPLERS, PIPELINES, DATASETS, METRIC)."""
    return {name: getattr(submodule(paddlevideo, module), name) for name, module in REGISTRY_MODULES.items()}


def tools_module(paddlevideo: ModuleType, name: str) -> ModuleType:
    """A script of PaddleVideo's `tools/` folder (beside the package, not part of it) loaded by path."""
    path = Path(paddlevideo.__file__).resolve().parents[1] / "tools" / f"{name}.py"
    if not path.is_file():
        raise PaddleVideoNotFound(f"PaddleVideo's {path.name} is not at {path}; the export path needs a PaddleVideo "
                                  "checkout (its tools/ folder), not only the paddlevideo package")
    spec = importlib.util.spec_from_file_location(f"_paddlevideo_tools_{name}", path)
    module = importlib.util.module_from_spec(spec)
    with kept_signal_handlers():
        spec.loader.exec_module(module)
    return module
