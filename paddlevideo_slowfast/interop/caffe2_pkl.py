"""Read PySlowFast's Caffe2 model-zoo `.pkl` files: a Python 2 pickle of `{'blobs': {name: ndarray}}`."""
from __future__ import annotations

from typing import Dict

import numpy as np

from ..errors import CheckpointError
from .numpy_pickle import PathLike, load_numpy_pickle


def load_caffe2_blobs(path: PathLike) -> Dict[str, np.ndarray]:
    """Blob name -> array (from `blobs`, or the top level when there is none); non-array entries dropped."""
    try:
        data = load_numpy_pickle(path)
    except OSError as exc:
        raise CheckpointError(str(path), reason=f"cannot read: {exc}") from None
    except Exception as exc:  # refused globals and corrupt pickles surface as many exception types
        raise CheckpointError(str(path), reason=f"not a Caffe2 blob pickle: {exc}") from None
    blobs = data.get("blobs", data) if isinstance(data, dict) else None
    if not isinstance(blobs, dict):
        raise CheckpointError(str(path), reason=f"holds a {type(data).__name__}, not a dict of blobs")
    arrays = {str(k): v for k, v in blobs.items() if isinstance(v, np.ndarray)}
    if not arrays:
        raise CheckpointError(str(path), reason="no numpy arrays among its blobs")
    return arrays
