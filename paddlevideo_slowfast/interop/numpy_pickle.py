"""Unpickle checkpoints safely: Caffe2 blobs, Paddle `.pdparams` and `.pdopt`, all through one allow-list.

A legitimate file of this kind names no globals but numpy's array and dtype reconstruction, `builtins.tuple`
(how `paddle.save` wraps a tensor as `(name, array)`), Paddle's `GeneratorState` (RNG state in our `.pdopt`),
for protocol-2 bytes `_codecs.encode` with latin-1 and an empty `bytes()`, and numpy's protocol-5 `_frombuffer`
(AVA's proposal pickles: a dict of float arrays, written at any protocol). Every other global is refused before it is called,
so reading a downloaded or planted checkpoint cannot run code the way `pickle.load` or `paddle.load` could.
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


def _empty_bytes(*args: Any) -> bytes:
    """`builtins.bytes()` as protocol-2 pickles write an empty buffer (a [0, n] array); nothing else."""
    if args:
        raise RefusedPickle("refused builtins.bytes with arguments")
    return b""


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """numpy's protocol-5 array rebuild from an in-band buffer: plain numeric dtypes only."""
    if not isinstance(buf, (bytes, bytearray, memoryview, pickle.PickleBuffer)) or not isinstance(dtype, np.dtype) \
            or dtype.hasobject:
        raise RefusedPickle("refused numpy _frombuffer of anything but a numeric buffer")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise RefusedPickle("refused to rebuild an ndarray subclass")
    return _multiarray("_reconstruct")(np.ndarray, shape, dtype)


def _scalar(*args: Any) -> Any:
    return _multiarray("scalar")(*args)


def _tuple(items: Any = ()) -> tuple:
    """`builtins.tuple` as `paddle.save` uses it, `tuple((name, array))`: only from a list or tuple."""
    if not isinstance(items, (list, tuple)):
        raise RefusedPickle(f"refused builtins.tuple of a {type(items).__name__}")
    return tuple(items)


def _generator_state() -> Any:
    """Paddle's RNG state class: pickle builds an empty one and restores its numbers with __setstate__."""
    from paddle.base.libpaddle import GeneratorState

    return GeneratorState


_ALLOWED: Dict[str, Callable[..., Any]] = {
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    "numpy.core.multiarray._reconstruct": _reconstruct,
    "numpy._core.multiarray._reconstruct": _reconstruct,
    "numpy.core.multiarray.scalar": _scalar,
    "numpy._core.multiarray.scalar": _scalar,
    "collections.OrderedDict": OrderedDict,
    "_codecs.encode": _latin1_encode,
    "builtins.tuple": _tuple,
    "builtins.bytes": _empty_bytes,
    "__builtin__.bytes": _empty_bytes,
    "numpy.core.numeric._frombuffer": _frombuffer,
    "numpy._core.numeric._frombuffer": _frombuffer,
}
# resolved when a pickle names them, so that reading Caffe2 blobs does not import Paddle
_LAZY: Dict[str, Callable[[], Any]] = {
    "paddle.base.libpaddle.GeneratorState": _generator_state,
    "paddle.fluid.libpaddle.GeneratorState": _generator_state,  # the module name in Paddle 2.x
}


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickler that resolves the allow-listed reconstructors only."""

    def find_class(self, module: str, name: str) -> Any:
        key = f"{module}.{name}"
        if key in _LAZY:
            return _LAZY[key]()
        target = _ALLOWED.get(key)
        if target is None:
            raise RefusedPickle(f"refused to load global '{key}': a checkpoint holds only arrays and numbers")
        return target


def load_numpy_pickle(path: PathLike, *, encoding: str = "latin1") -> Any:
    """The object pickled in `path`, allowing no globals but the allow-list (latin-1 reads Python 2 pickles)."""
    with open(path, "rb") as fh:
        return _NumpyUnpickler(fh, encoding=encoding).load()


_NAME_TABLE = "StructuredToParameterName@@"  # paddle.save's key -> parameter name table
_SPLIT_TABLE = "UnpackBigParamInfor@@"  # paddle.save's table of arrays over 1 GiB split for protocol 2/3


def _is_named_array(obj: Any) -> bool:
    """`(name, array)`: how `paddle.save` writes a Tensor that is not a top-level parameter."""
    return isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str) and isinstance(obj[1], np.ndarray)


def _unwrap(obj: Any, convert: Callable[[np.ndarray], Any]) -> Any:
    if _is_named_array(obj):
        return convert(obj[1])
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _unwrap(value, convert)
        return obj
    if isinstance(obj, list):
        return [_unwrap(value, convert) for value in obj]
    if isinstance(obj, tuple):
        return tuple(_unwrap(value, convert) for value in obj)
    return obj


def _join_split_arrays(obj: Dict[Any, Any]) -> None:
    for key, info in obj.pop(_SPLIT_TABLE).items():
        obj[key] = np.concatenate([obj.pop(part) for part in info["slices"]]).reshape(info["OriginShape"])


def load_paddle_pickle(path: PathLike, *, convert: Callable[[np.ndarray], Any] = lambda a: a) -> Any:
    """What `paddle.save` wrote to `path` (`.pdparams`, `.pdopt`), read through the allow-list, not paddle.load.

    Top-level parameters come back as arrays; tensors nested in containers (optimizer accumulators) are
    passed through `convert` (e.g. `paddle.to_tensor`, as paddle.load does); the name table is dropped.
    """
    obj = load_numpy_pickle(path)
    if isinstance(obj, dict):
        obj.pop(_NAME_TABLE, None)
        if _SPLIT_TABLE in obj:
            _join_split_arrays(obj)
    return _unwrap(obj, convert)
