"""Read `torch.save` files (zip layout, and the legacy one) as numpy arrays, without importing torch.

The pickle inside such a file may only name what a tensor checkpoint needs (the tensor rebuild functions,
the storage classes, OrderedDict); any other global is refused, so loading a checkpoint cannot run code.
torch itself (with `weights_only=True`) is tried only when it is installed and this reader fails.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np

from ..errors import CheckpointError

PathLike = Union[str, "os.PathLike[str]"]

# torch storage class -> numpy element type; bfloat16 has no numpy type: read as uint16, widened to float32
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle of a pre-1.6 (non-zip) torch.save file
_CHECKPOINT_KEYS = ("model_state", "state_dict", "model")  # PySlowFast/pytorchvideo, Lightning, others


class _Unreadable(Exception):
    """This reader cannot read the file (refused global, unknown layout); torch may still."""


class _StorageType:
    """Stands for a `torch.<X>Storage` class named in the pickle: only its element type matters."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _LazyStorage:
    """A storage named by a persistent id; its bytes are fetched after the pickle is read."""

    def __init__(self, key: str, storage_type: _StorageType, numel: int, view: Optional[Tuple[int, int]] = None):
        self.key, self.type, self.numel, self.view = key, storage_type, numel, view


class _LazyTensor:
    """`_rebuild_tensor_v2(storage, offset, size, stride, ...)`, built into an array once storages are read."""

    def __init__(self, storage: Any, offset: Any, size: Any, stride: Any, *_rest: Any):
        if not isinstance(storage, _LazyStorage):
            raise _Unreadable("a tensor's storage is not a persistent storage reference")
        self.storage = storage
        self.offset, self.size, self.stride = int(offset), tuple(map(int, size)), tuple(map(int, stride))

    def build(self, fetch: Callable[[_LazyStorage], np.ndarray]) -> np.ndarray:
        data = fetch(self.storage)
        if self.storage.view is not None:
            start, length = self.storage.view
            data = data[start:start + length]
        if len(self.size) != len(self.stride) or min(self.size + self.stride + (self.offset,), default=0) < 0:
            raise _Unreadable(f"bad tensor geometry size={self.size} stride={self.stride}")
        if 0 in self.size:
            return np.zeros(self.size, data.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if last >= data.size:
            raise _Unreadable(f"tensor of size {self.size} reads past its storage of {data.size} elements")
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size,
                                               strides=[s * data.itemsize for s in self.stride], writeable=False)
        return np.array(view, copy=True, order="C")


def _rebuild_parameter(data: Any, *_rest: Any) -> Any:
    return data


_ALLOWED_GLOBALS: Dict[Tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _LazyTensor,
    ("torch._utils", "_rebuild_tensor_v2"): _LazyTensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the allow-listed globals and torch storage references."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        raise _Unreadable(f"refused to load global '{module}.{name}': only tensor data may be unpickled")

    def persistent_load(self, pid: Any) -> _LazyStorage:
        # zip: ('storage', type, key, location, numel); legacy adds view metadata (view_key, offset, size)
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise _Unreadable(f"unknown persistent id {str(pid)[:80]}")
        view = None
        if len(pid) > 5 and pid[5] is not None:
            view = (int(pid[5][1]), int(pid[5][2]))
        return _LazyStorage(str(pid[2]), pid[1], int(pid[4]), view)


def _unpickle(data: Union[bytes, io.BufferedIOBase]) -> Any:
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        return _RestrictedUnpickler(stream).load()
    except _Unreadable:
        raise
    except Exception as exc:  # a truncated or foreign pickle surfaces as many exception types
        raise _Unreadable(f"not a readable torch pickle ({type(exc).__name__}: {exc})") from exc


def _to_native(raw: bytes, storage: _LazyStorage, little_endian: bool) -> np.ndarray:
    dtype = storage.type.dtype.newbyteorder("<" if little_endian else ">")
    if len(raw) < storage.numel * dtype.itemsize:
        raise _Unreadable(f"storage {storage.key} holds {len(raw)} bytes, "
                          f"{storage.numel} x {dtype.itemsize} expected")
    data = np.frombuffer(raw, dtype=dtype, count=storage.numel).astype(storage.type.dtype)
    if storage.type.name == "BFloat16Storage":
        data = (data.astype(np.uint32) << 16).view(np.float32)
    return data


def _materialize(obj: Any, fetch: Callable[[_LazyStorage], np.ndarray]) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.build(fetch)
    if isinstance(obj, _LazyStorage):
        raise _Unreadable("a bare storage outside a tensor")
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _materialize(obj[key], fetch)
        return obj
    if isinstance(obj, list):
        obj[:] = [_materialize(v, fetch) for v in obj]
        return obj
    if isinstance(obj, tuple):
        return tuple(_materialize(v, fetch) for v in obj)
    return obj


def _read_zip(path: PathLike) -> Any:
    with zipfile.ZipFile(path) as zf:
        pickles = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise _Unreadable("zip file without a single <archive>/data.pkl: not a torch.save file")
        prefix = pickles[0][:-len("data.pkl")]
        little = b"big" not in (zf.read(prefix + "byteorder") if prefix + "byteorder" in zf.namelist() else b"")
        cache: Dict[Tuple[str, str], np.ndarray] = {}

        def fetch(storage: _LazyStorage) -> np.ndarray:
            slot = (storage.key, storage.type.name)
            if slot not in cache:
                try:
                    raw = zf.read(f"{prefix}data/{storage.key}")
                except KeyError:
                    raise _Unreadable(f"storage record data/{storage.key} is missing") from None
                cache[slot] = _to_native(raw, storage, little)
            return cache[slot]

        return _materialize(_unpickle(zf.read(pickles[0])), fetch)


def _read_legacy(path: PathLike) -> Any:
    with open(path, "rb") as fh:
        if _unpickle(fh) != LEGACY_MAGIC:
            raise _Unreadable("neither a zip nor a legacy torch.save file")
        _unpickle(fh)  # protocol version
        sys_info = _unpickle(fh)
        little = not isinstance(sys_info, dict) or bool(sys_info.get("little_endian", True))
        obj = _unpickle(fh)
        found: Dict[str, _LazyStorage] = {}
        _collect_storages(obj, found)
        data: Dict[str, np.ndarray] = {}
        for key in _unpickle(fh):  # then each storage: int64 element count, raw elements
            if key not in found:
                raise _Unreadable(f"storage {key} is not used by any tensor")
            header = fh.read(8)
            if len(header) != 8:
                raise _Unreadable(f"file ends before the data of storage {key}")
            (numel,) = struct.unpack("<q", header)
            storage = found[key]
            data[key] = _to_native(fh.read(numel * storage.type.dtype.itemsize), storage, little)
    try:
        return _materialize(obj, lambda s: data[s.key])
    except KeyError as exc:
        raise _Unreadable(f"storage {exc} has no data") from None


def _collect_storages(obj: Any, found: Dict[str, _LazyStorage]) -> None:
    if isinstance(obj, _LazyTensor):
        found.setdefault(obj.storage.key, obj.storage)
    elif isinstance(obj, dict):
        for value in obj.values():
            _collect_storages(value, found)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _collect_storages(value, found)


def _read_with_torch(path: PathLike) -> Any:
    """torch.load with weights_only=True (still no arbitrary globals), tensors turned into numpy."""
    import torch  # noqa: F401  (ImportError tells the caller torch is absent)

    def to_numpy(obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            obj = obj.detach().cpu()
            return (obj.float() if obj.dtype == torch.bfloat16 else obj).numpy().copy()
        if isinstance(obj, dict):
            for key in list(obj):
                obj[key] = to_numpy(obj[key])
            return obj
        if isinstance(obj, list):
            return [to_numpy(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(to_numpy(v) for v in obj)
        return obj

    return to_numpy(torch.load(str(path), map_location="cpu", weights_only=True))


def is_torch_file(path: PathLike) -> bool:
    """Whether `path` looks like a torch.save file: a zip, or a pickle opening with the legacy magic number."""
    if zipfile.is_zipfile(path):
        return True
    with open(path, "rb") as fh:  # PROTO 2, LONG1 of 10 bytes, the number
        return fh.read(4) == b"\x80\x02\x8a\x0a" and int.from_bytes(fh.read(10), "little") == LEGACY_MAGIC


def load_torch_file(path: PathLike) -> Any:
    """The object a `torch.save` file holds, every tensor as a numpy array; refuses non-tensor globals."""
    try:
        return _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    except _Unreadable as exc:
        reason = str(exc)
    except zipfile.BadZipFile as exc:
        reason = f"corrupt zip file: {exc}"
    except OSError as exc:
        raise CheckpointError(str(path), reason=f"cannot read: {exc}") from None
    try:
        return _read_with_torch(path)
    except ImportError:
        raise CheckpointError(str(path), reason=reason + " (with torch installed, torch.load(weights_only=True) "
                              "would be tried next)") from None
    except Exception as exc:  # torch's own refusal or parse error: report both readers
        raise CheckpointError(str(path), reason=f"{reason}; torch.load(weights_only=True) also failed: {exc}") from None


def load_torch_state_dict(path: PathLike) -> Dict[str, np.ndarray]:
    """The model weights of a torch checkpoint: `model_state` (PySlowFast, pytorchvideo) or a bare state dict."""
    obj = load_torch_file(path)
    if isinstance(obj, dict):
        for key in _CHECKPOINT_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise CheckpointError(str(path), reason=f"holds a {type(obj).__name__}, not a state dict")
    state = {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
    if not state:
        raise CheckpointError(str(path), reason="no tensors found (looked in "
                              + ", ".join(_CHECKPOINT_KEYS) + " and at the top level)")
    return state
