"""Unpickle files that hold only numpy arrays in plain containers (Caffe2 blobs, Paddle `.pdparams`), safely.

A legitimate file of this kind names no globals but numpy's array and dtype reconstruction (and, for
protocol-2 bytes, `_codecs.encode` with latin-1); every other global is refused, so reading a downloaded
checkpoint cannot run code the way `pickle.load` or `paddle.load` could.
"""
from __future__ import annotations

import importlib
import os
import pickle
from collections import OrderedDict
from typing import Any, Callable, Dict, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]


class RefusedPickle(pickle.UnpicklingError):
    """The pickle names a global that is not numpy array reconstruction."""


def _multiarray(name: str) -> Callable[..., Any]:
    """numpy's `multiarray` helpers, which moved from numpy.core to numpy._core in numpy 2."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no multiarray.{name}")


def _latin1_encode(text: Any, encoding: str = "latin1") -> bytes:
    """`_codecs.encode` as protocol-2 pickles use it for bytes; other codecs (zlib, bz2 ...) are refused."""
    if not isinstance(text, str) or encoding.replace("-", "").replace("_", "").lower() not in ("latin1", "iso88591"):
        raise RefusedPickle(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise RefusedPickle("refused to rebuild an ndarray subclass")
    return _multiarray("_reconstruct")(np.ndarray, shape, dtype)


def _scalar(*args: Any) -> Any:
    return _multiarray("scalar")(*args)


_ALLOWED: Dict[str, Callable[..., Any]] = {
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    "numpy.core.multiarray._reconstruct": _reconstruct,
    "numpy._core.multiarray._reconstruct": _reconstruct,
    "numpy.core.multiarray.scalar": _scalar,
    "numpy._core.multiarray.scalar": _scalar,
    "collections.OrderedDict": OrderedDict,
    "_codecs.encode": _latin1_encode,
}


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickler that resolves numpy array reconstruction only."""

    def find_class(self, module: str, name: str) -> Any:
        target = _ALLOWED.get(f"{module}.{name}")
        if target is None:
            raise RefusedPickle(f"refused to load global '{module}.{name}': only numpy arrays may be unpickled")
        return target


def load_numpy_pickle(path: PathLike, *, encoding: str = "latin1") -> Any:
    """The object pickled in `path`, allowing no globals but numpy arrays (latin-1 reads Python 2 pickles)."""
    with open(path, "rb") as fh:
        return _NumpyUnpickler(fh, encoding=encoding).load()
