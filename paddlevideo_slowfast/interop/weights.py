"""Weights for `-w`: read `.pdparams` / `.safetensors` (local or by URL, cached) and load them into a model.

Loading is strict: missing, unexpected or shape-mismatched keys fail with their lists, except that a
classifier whose class count differs from the model's keeps its fresh init when the caller allows it
(fine-tuning to a new label set). Both formats are read without running pickled code.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from ..errors import CheckpointError
from .atomic_file import atomic_path
from .numpy_pickle import load_paddle_pickle
from .torch_zip import is_torch_file

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
CACHE_ENV = "PADDLEVIDEO_SLOWFAST_CACHE"
_CHUNK = 1 << 20


def cache_dir() -> Path:
    """Where downloaded weights live: $PADDLEVIDEO_SLOWFAST_CACHE, else ~/.cache/paddlevideo_slowfast."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "paddlevideo_slowfast")


def is_url(text: Any) -> bool:
    """True for http(s) addresses, which `-w` downloads; anything else is a local path."""
    return isinstance(text, str) and urllib.parse.urlsplit(text).scheme in ("http", "https")


def _split_sha256(url: str, sha256: Optional[str]) -> Tuple[str, Optional[str]]:
    """A `#sha256=<hex>` fragment (pip's convention) names the expected digest when the caller gives none."""
    base, _, fragment = url.partition("#")
    if fragment.startswith("sha256="):
        sha256 = sha256 or fragment[len("sha256="):]
    return base, sha256.lower() if sha256 else None


def file_sha256(path: PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, *, sha256: Optional[str] = None, progress: bool = True) -> Path:
    """The cached copy of `url`, downloaded first (atomically, sha256-checked when a digest is known) if needed."""
    url, sha256 = _split_sha256(url, sha256)
    name = Path(urllib.parse.urlsplit(url).path).name or "weights"
    # the digest of the URL keeps same-named files from different places apart
    target = cache_dir() / f"{hashlib.sha256(url.encode()).hexdigest()[:12]}_{name}"
    if target.is_file() and (sha256 is None or file_sha256(target) == sha256):
        logger.info("using cached %s for %s", target, url)
        return target
    digest, received = hashlib.sha256(), 0
    try:
        from tqdm import tqdm
        with atomic_path(target) as partial, open(partial, "wb") as out, \
                urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0)
            with tqdm(total=total or None, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
                      disable=not progress) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total and received != total:
                raise CheckpointError(url, reason=f"download truncated: {received} of {total} bytes")
            if sha256 and digest.hexdigest() != sha256:
                raise CheckpointError(url, reason=f"sha256 mismatch: expected {sha256}, got {digest.hexdigest()}")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise CheckpointError(url, reason=f"download failed: {exc}") from None
    logger.info("downloaded %s to %s", url, target)
    return target


def resolve_weights(path_or_url: PathLike, *, sha256: Optional[str] = None) -> Path:
    """A local file for `-w`: the path itself, or the cached download of a URL."""
    if is_url(path_or_url):
        return download(str(path_or_url), sha256=sha256)
    path = Path(path_or_url)
    if not path.is_file():
        raise CheckpointError(str(path), reason="no such weights file")
    return path


def _safetensors_numpy(path: PathLike) -> Any:
    try:
        import safetensors.numpy
    except ImportError:
        raise CheckpointError(str(path), reason="the `safetensors` package is needed for .safetensors files: "
                              "pip install safetensors") from None
    return safetensors.numpy


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def read_safetensors(path: PathLike) -> Dict[str, np.ndarray]:
    """Name -> array of a `.safetensors` file; a malformed one (bad header, offsets past the end, truncated) is a
    one-line CheckpointError naming the file, not safetensors' traceback."""
    module = _safetensors_numpy(path)
    try:
        return dict(module.load_file(str(path)))
    except Exception as exc:  # safetensors' own SafetensorError, or OSError on an unreadable file
        raise CheckpointError(str(path), reason=f"not a readable .safetensors file: {_one_line(exc)}") from None


def _sniff(path: Path) -> str:
    if is_torch_file(path):
        return "torch"
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) == 9 and head[8:9] == b"{":  # u64 header length, then the JSON header
        return "safetensors"
    return "pdparams"


def read_weights(path_or_url: PathLike, *, sha256: Optional[str] = None) -> Dict[str, np.ndarray]:
    """Name -> array of a `.pdparams` or `.safetensors` file (path or URL); neither format runs code on load."""
    path = resolve_weights(path_or_url, sha256=sha256)
    kind = _sniff(path)
    if kind == "torch":
        raise CheckpointError(str(path), reason="a PyTorch checkpoint: convert it first with "
                              "`paddlevideo convert --from pyslowfast|pytorchvideo SRC --to DST.pdparams`")
    if kind == "safetensors":
        return read_safetensors(path)
    try:
        data = load_paddle_pickle(path)
    except Exception as exc:  # refused globals and corrupt pickles surface as many exception types
        raise CheckpointError(str(path), reason=f"not a readable .pdparams file: {_one_line(exc)}") from None
    if not isinstance(data, dict):
        raise CheckpointError(str(path), reason=f"holds a {type(data).__name__}, not a dict of weights")
    return {str(k): v for k, v in data.items() if isinstance(v, np.ndarray)}  # drops Paddle's name table


def save_weights(state: Mapping[str, Any], path: PathLike, *, metadata: Optional[Dict[str, str]] = None) -> None:
    """Write `state` as `.safetensors` (by suffix) or as a Paddle `.pdparams` (paddle.save of tensors)."""
    arrays = {k: np.ascontiguousarray(_as_numpy(v)) for k, v in state.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        data = _safetensors_numpy(path).save(arrays, metadata=metadata)  # save_file would create it 0600
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return
    import paddle
    with atomic_path(path) as tmp:
        paddle.save({k: paddle.to_tensor(v) for k, v in arrays.items()}, str(tmp))


def _as_numpy(value: Any) -> np.ndarray:
    return value if isinstance(value, np.ndarray) else np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def _num_classes(model: Any) -> Optional[int]:
    return getattr(getattr(model, "head", None), "num_classes", None)


def _head_reinit_keys(model: Any, own: Mapping[str, Tuple[int, ...]], given: Mapping[str, np.ndarray],
                      mismatched: List[str]) -> Optional[Tuple[List[str], int]]:
    """The classifier keys (and the checkpoint's class count) when they alone differ, and only in that count."""
    classes = _num_classes(model)
    if classes is None:
        return None
    classifier = [k for k, shape in own.items() if k.startswith("head.") and shape and shape[-1] == classes]
    if not classifier or sorted(mismatched) != sorted(classifier):
        return None
    counts = {given[k].shape[-1] for k in classifier}
    same_rest = all(given[k].shape[:-1] == own[k][:-1] for k in classifier)
    if len(counts) != 1 or not same_rest or classes in counts:
        return None
    return classifier, counts.pop()


def load_weights(model: Any, path_or_url: PathLike, *, allow_head_reinit: bool,
                 sha256: Optional[str] = None) -> List[str]:
    """Load `-w` weights into `model`; returns the keys left at their fresh init (the classifier, or none)."""
    given = read_weights(path_or_url, sha256=sha256)
    own_state = model.state_dict()
    own = {k: tuple(v.shape) for k, v in own_state.items()}
    kept: List[str] = []
    adapt = getattr(model, "adapt_checkpoint", None)
    if callable(adapt):  # a model that may start from another kind of checkpoint (a detector from a recognizer)
        given, kept = adapt(given, allow_head_reinit=allow_head_reinit, source=str(path_or_url))
    missing = [k for k in own if k not in given and k not in kept]
    unexpected = [k for k in given if k not in own]
    mismatched = [k for k in own if k in given and k not in kept and tuple(given[k].shape) != own[k]]
    if mismatched and not missing and not unexpected and allow_head_reinit:
        reinit = _head_reinit_keys(model, own, given, mismatched)
        if reinit:
            kept, ckpt_classes = reinit
            logger.info("%s: classifier has %d classes, the model %d: %s keep their fresh init",
                        path_or_url, ckpt_classes, _num_classes(model), ", ".join(kept))
            mismatched = []
    if missing or unexpected or mismatched:
        raise CheckpointError(str(path_or_url), missing=missing, unexpected=unexpected,
                              mismatched=[f"{k} {tuple(given[k].shape)} vs model {own[k]}" for k in mismatched])
    # the kept keys are handed their own fresh values so that Paddle does not warn about them
    model.set_state_dict({k: own_state[k] if k in kept else given[k].astype(_numpy_dtype(own_state[k]), copy=False)
                          for k in own})
    return kept


def _numpy_dtype(tensor: Any) -> np.dtype:
    """numpy dtype of a Paddle tensor, whose `.dtype` prints as `paddle.float32`."""
    name = str(tensor.dtype).replace("paddle.", "")
    return np.dtype(np.float32 if name == "bfloat16" else name)
