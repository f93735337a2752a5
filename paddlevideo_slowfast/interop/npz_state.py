"""Read a state dict saved with `numpy.savez` (`.npz`): plain arrays under the source's own names.

Loaded with `allow_pickle=False`, so nothing in the file can run code: the safe way to carry weights from a
machine with PyTorch (`np.savez(path, **{k: v.numpy() for k, v in state_dict.items()})`) to one without.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Dict, Union

import numpy as np

from ..errors import CheckpointError

PathLike = Union[str, "os.PathLike[str]"]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def is_npz_file(path: PathLike) -> bool:
    """An `.npz` by its suffix, or a zip whose members are all `.npy` (torch.save zips hold `data.pkl`)."""
    if Path(path).suffix.lower() == ".npz":
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(members) and all(name.endswith(".npy") for name in members)


def load_npz_state(path: PathLike) -> Dict[str, np.ndarray]:
    """Name -> array of an `.npz`; object arrays, corrupt archives and empty ones fail in one line naming it."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(str(path), reason="not an .npz archive (np.savez writes a zip of .npy files)")
    try:
        archive = np.load(str(path), allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(str(path), reason=f"not a readable .npz archive: {_one_line(exc)}") from None
    state: Dict[str, np.ndarray] = {}
    with archive:
        for name in archive.files:
            try:
                state[name] = archive[name]
            except ValueError as exc:  # numpy refuses object arrays without pickle, and malformed .npy headers
                raise CheckpointError(str(path), reason=f"array '{name}' cannot be read without pickle: "
                                      f"{_one_line(exc)}; save plain numeric arrays (v.numpy())") from None
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise CheckpointError(str(path), reason=f"array '{name}' is corrupt: {_one_line(exc)}") from None
    if not state:
        raise CheckpointError(str(path), reason="holds no arrays")
    return state
