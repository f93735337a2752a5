"""A `torch.save` writer for the tests: builds PyTorch checkpoints (zip layout) from numpy arrays without torch,
so that the reader in `paddlevideo_slowfast.interop.torch_zip` and `convert` can be tested where torch is absent."""
from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, List, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

# numpy element type -> torch storage class
_DTYPE_STORAGES = {np.dtype(t): name for t, name in (
    (np.float32, "FloatStorage"), (np.float64, "DoubleStorage"), (np.float16, "HalfStorage"),
    (np.int64, "LongStorage"), (np.int32, "IntStorage"), (np.int16, "ShortStorage"), (np.int8, "CharStorage"),
    (np.uint8, "ByteStorage"), (np.bool_, "BoolStorage"))}
_ALIGNMENT = 64  # torch aligns each record's data so that files can be memory-mapped


class _TorchPickleWriter:
    """Writes protocol-2 pickle opcodes for plain containers, numpy arrays becoming torch tensors."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.storages: List[np.ndarray] = []

    def dump(self, obj: Any) -> bytes:
        self.out.write(pickle.PROTO + b"\x02")
        self._emit(obj)
        self.out.write(pickle.STOP)
        return self.out.getvalue()

    def _global(self, module: str, name: str) -> None:
        self.out.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii"))

    def _tuple(self, items: Any) -> None:
        self.out.write(pickle.MARK)
        for item in items:
            self._emit(item)
        self.out.write(pickle.TUPLE)

    def _emit(self, obj: Any) -> None:
        w = self.out.write
        if obj is None:
            w(pickle.NONE)
        elif isinstance(obj, (bool, np.bool_)):
            w(pickle.NEWTRUE if obj else pickle.NEWFALSE)
        elif isinstance(obj, (int, np.integer)):
            obj = int(obj)
            if 0 <= obj < 256:
                w(pickle.BININT1 + bytes([obj]))
            elif -2 ** 31 <= obj < 2 ** 31:
                w(pickle.BININT + struct.pack("<i", obj))
            else:
                raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
                w(pickle.LONG1 + bytes([len(raw)]) + raw)
        elif isinstance(obj, (float, np.floating)):
            w(pickle.BINFLOAT + struct.pack(">d", float(obj)))
        elif isinstance(obj, str):
            raw = obj.encode("utf-8")
            w(pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw)
        elif isinstance(obj, np.ndarray):
            self._tensor(obj)
        elif isinstance(obj, dict):
            if isinstance(obj, OrderedDict):
                self._global("collections", "OrderedDict")
                w(pickle.EMPTY_TUPLE + pickle.REDUCE)
            else:
                w(pickle.EMPTY_DICT)
            if obj:
                w(pickle.MARK)
                for key, value in obj.items():
                    self._emit(key)
                    self._emit(value)
                w(pickle.SETITEMS)
        elif isinstance(obj, list):
            w(pickle.EMPTY_LIST)
            if obj:
                w(pickle.MARK)
                for value in obj:
                    self._emit(value)
                w(pickle.APPENDS)
        elif isinstance(obj, tuple):
            self._tuple(obj)
        else:
            raise TypeError(f"cannot write a {type(obj).__name__} into a torch file")

    def _tensor(self, array: np.ndarray) -> None:
        array = np.asarray(array, order="C")  # ascontiguousarray would turn 0-d into 1-d
        if array.dtype.newbyteorder("=") not in _DTYPE_STORAGES:
            raise TypeError(f"no torch storage type for numpy dtype {array.dtype}")
        key = str(len(self.storages))
        self.storages.append(array.astype(array.dtype.newbyteorder("<"), copy=False))
        strides = [int(np.prod(array.shape[i + 1:])) for i in range(array.ndim)]
        self._global("torch._utils", "_rebuild_tensor_v2")
        self.out.write(pickle.MARK)
        self.out.write(pickle.MARK)  # persistent id: ('storage', type, key, location, numel)
        self._emit("storage")
        self._global("torch", _DTYPE_STORAGES[array.dtype.newbyteorder("=")])
        for item in (key, "cpu", int(array.size)):
            self._emit(item)
        self.out.write(pickle.TUPLE + pickle.BINPERSID)
        self._emit(0)
        self._tuple(array.shape)
        self._tuple(strides)
        self._emit(False)  # requires_grad
        self._global("collections", "OrderedDict")  # backward hooks
        self.out.write(pickle.EMPTY_TUPLE + pickle.REDUCE)
        self.out.write(pickle.TUPLE + pickle.REDUCE)


def _aligned_extra(header_offset: int, name: bytes) -> bytes:
    """A local-header extra field ('FB', as torch writes) that puts the record's data on a 64-byte boundary."""
    pad = -(header_offset + 30 + len(name) + 4) % _ALIGNMENT
    return b"FB" + struct.pack("<H", pad) + b"Z" * pad


def save_torch_file(obj: Any, path: PathLike, *, archive: str = "archive") -> None:
    """Write `obj` (dicts, lists, scalars, numpy arrays) as torch.save's zip format; torch.load reads it back."""
    writer = _TorchPickleWriter()
    records = [("data.pkl", writer.dump(obj)), (".format_version", b"1"),
               (".storage_alignment", str(_ALIGNMENT).encode()), ("byteorder", b"little")]
    records += [(f"data/{i}", array.tobytes()) for i, array in enumerate(writer.storages)]
    records.append(("version", b"3\n"))
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        for name, payload in records:
            info = zipfile.ZipInfo(f"{archive}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.extra = _aligned_extra(fh.tell(), info.filename.encode("utf-8"))
            zf.writestr(info, payload)
    os.replace(partial, path)
