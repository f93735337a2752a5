"""Convert PySlowFast (`.pyth`, Caffe2 `.pkl`) and pytorchvideo SlowFast checkpoints to PaddleVideo weights.

Either source may also come as an `.npz` of its state dict (read without pickle; see npz_state).

Every source key must get a PaddleVideo name (or be bookkeeping such as `num_batches_tracked`), and the
result must match the target model key for key and shape; otherwise a CheckpointError lists what is off.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import CheckpointError
from . import names
from .caffe2_pkl import load_caffe2_blobs
from .npz_state import is_npz_file, load_npz_state
from .torch_zip import is_torch_file, load_torch_state_dict
from .weights import save_weights

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
SOURCES = ("pyslowfast", "pytorchvideo")  # what `--from` accepts; Caffe2 files are recognised under pyslowfast
Shapes = Mapping[str, Sequence[int]]


def read_source(src: PathLike, fmt: str) -> Tuple[Dict[str, np.ndarray], str]:
    """The weights of `src` under their own names, and the naming they use (one of names.FORMATS)."""
    if fmt not in names.FORMATS:
        raise CheckpointError(str(src), reason=f"unknown source format '{fmt}'; expected one of "
                              + ", ".join(names.FORMATS))
    if not os.path.isfile(src):
        raise CheckpointError(str(src), reason="no such file")
    if is_npz_file(src):  # checked first: an .npz is a zip, as a torch.save file is
        state = load_npz_state(src)
        blobs = fmt == "pyslowfast" and not any("." in key for key in state)  # Caffe2 blob names have no dots
        return state, "caffe2" if blobs else fmt
    if fmt == "caffe2" or (fmt == "pyslowfast" and not is_torch_file(src)):
        return load_caffe2_blobs(src), "caffe2"
    return load_torch_state_dict(src), fmt


def rename(state: Mapping[str, np.ndarray], fmt: str, src: PathLike = "") -> Dict[str, np.ndarray]:
    """PaddleVideo name -> array (FC weights transposed); fails on keys no rule knows or two keys on one name."""
    out: Dict[str, np.ndarray] = {}
    origin: Dict[str, str] = {}
    unknown: List[str] = []
    for key, array in state.items():
        if names.is_bookkeeping(key, fmt):
            continue
        target = names.to_paddlevideo(key, fmt)
        if target is None:
            unknown.append(key)
            continue
        if target in out:
            raise CheckpointError(str(src), reason=f"'{origin[target]}' and '{key}' both map to '{target}'")
        origin[target] = key
        out[target] = array.T if names.transform_for(target, array.shape) == "transpose" else array
    if unknown:
        raise CheckpointError(str(src), unexpected=unknown,
                              reason=f"{len(unknown)} {fmt} keys have no PaddleVideo name (is --from right?)")
    return out


def target_shapes(model: Any) -> Dict[str, Tuple[int, ...]]:
    """Key -> shape of a Paddle model's state dict, or of a given {key: shape} mapping."""
    state = model.state_dict() if hasattr(model, "state_dict") else model
    return {k: tuple(int(d) for d in v.shape) if hasattr(v, "shape") else tuple(v) for k, v in state.items()}


def fit(state: Mapping[str, np.ndarray], shapes: Shapes, src: PathLike = "") -> Dict[str, np.ndarray]:
    """`state` checked key for key and shape against the target; Caffe2's dropped trailing 1-dims restored."""
    missing = [k for k in shapes if k not in state]
    unexpected = [k for k in state if k not in shapes]
    mismatched, out = [], {}
    for key, want in shapes.items():
        if key not in state:
            continue
        array, want = state[key], tuple(want)
        if array.shape != want and array.shape + (1,) * (len(want) - array.ndim) == want:
            array = array.reshape(want)  # e.g. an FC stored as a 1x1x1 conv in some Caffe2 blobs
        if array.shape != want:
            mismatched.append(f"{key} {array.shape} vs model {want}")
        out[key] = array
    if missing or unexpected or mismatched:
        raise CheckpointError(str(src), missing=missing, unexpected=unexpected, mismatched=mismatched,
                              reason="converted weights do not match the target model")
    return out


def convert(src: PathLike, fmt: str, dst: Optional[PathLike] = None, model: Any = None) -> Dict[str, np.ndarray]:
    """Read `src` (`fmt`: pyslowfast, caffe2 or pytorchvideo), rename, check against `model`, save to `dst`.

    `model` is a Paddle model or a {key: shape} mapping; with None only the renaming is checked. The weights
    are cast to the model's float dtype. `dst` ending in .safetensors is written as such, else `.pdparams`.
    """
    state, naming = read_source(src, fmt)
    converted = rename(state, naming, src)
    if model is not None:
        converted = fit(converted, target_shapes(model), src)
        if hasattr(model, "state_dict"):
            own = model.state_dict()
            converted = {k: v.astype(str(own[k].dtype).replace("paddle.", ""), copy=False)
                         if v.dtype.kind == "f" else v for k, v in converted.items()}
    converted = {k: np.ascontiguousarray(v) for k, v in converted.items()}
    logger.info("%s: %d %s tensors -> %d PaddleVideo tensors", src, len(state), naming, len(converted))
    if dst is not None:
        save_weights(converted, dst, metadata={"source": os.path.basename(str(src)), "format": naming})
    return converted
