"""PaddleVideo-named checkpoints written atomically, read without unpickling code, and discovery of the newest
complete, readable one for resume."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, List, Optional, Tuple

from ..errors import CheckpointError
from ..interop.atomic_file import atomic_path
from ..interop.numpy_pickle import load_paddle_pickle

logger = logging.getLogger(__name__)

_EPOCH_RE = re.compile(r"^(?P<name>.+)_epoch_(?P<epoch>\d{5})\.(?P<suffix>pdparams|pdopt)$")


def atomic_save(obj: Any, path: Path) -> None:
    """paddle.save to a temp file in the same folder, fsync, then rename: a crash never leaves a truncated file."""
    import paddle

    with atomic_path(path) as tmp:
        paddle.save(obj, str(tmp))


def checkpoint_stem(folder: Path, model_name: str, epoch: Optional[int] = None) -> Path:
    """`<folder>/<model_name>_epoch_00010` (PaddleVideo's name) or `<folder>/<model_name>_best`."""
    suffix = "best" if epoch is None else f"epoch_{epoch:05d}"
    return Path(folder) / f"{model_name}_{suffix}"


def save_checkpoint(folder: Path, model_name: str, model_state: dict, train_state: dict,
                    epoch: Optional[int] = None) -> Path:
    """Write `.pdopt` (optimizer, scheduler, counters, RNG) then `.pdparams`; the pair is complete once both exist."""
    stem = checkpoint_stem(folder, model_name, epoch)
    params, opt = stem.with_suffix(".pdparams"), stem.with_suffix(".pdopt")
    if params.exists():
        params.unlink()  # the pair stays incomplete until the new weights land
    atomic_save(train_state, opt)
    atomic_save(model_state, params)
    return stem


def _epoch_files(folder: Path, model_name: str) -> List[Tuple[int, Path]]:
    """(epoch, stem) of every epoch checkpoint of `model_name` in `folder` with either half present, newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = set()
    for path in folder.iterdir():
        match = _EPOCH_RE.match(path.name)
        if match and match["name"] == model_name:
            found.add((int(match["epoch"]), folder / path.name[:-len(match["suffix"]) - 1]))
    return sorted(found, reverse=True)


def _missing_half(stem: Path) -> Optional[str]:
    for suffix in (".pdparams", ".pdopt"):
        if not stem.with_name(stem.name + suffix).is_file():
            return suffix
    return None


def list_checkpoints(folder: Path, model_name: str) -> List[Tuple[int, Path]]:
    """(epoch, stem) of every complete epoch checkpoint (both files present) of `model_name`, oldest first."""
    return sorted((epoch, stem) for epoch, stem in _epoch_files(folder, model_name) if _missing_half(stem) is None)


def latest_checkpoint(folder: Path, model_name: str) -> Optional[Tuple[int, Path]]:
    """The newest complete epoch checkpoint, or None."""
    found = list_checkpoints(folder, model_name)
    return found[-1] if found else None


def latest_loadable(folder: Path, model_name: str) -> Optional[Tuple[int, Path]]:
    """The newest epoch checkpoint whose two files both exist and load; each newer one skipped is logged with why."""
    for epoch, stem in _epoch_files(folder, model_name):
        missing = _missing_half(stem)
        if missing:
            logger.warning("resume: skipping %s (epoch %d): %s%s is missing (an interrupted save)",
                           stem.name, epoch, stem.name, missing)
            continue
        try:
            load_pair(stem)
        except CheckpointError as exc:
            logger.warning("resume: skipping %s (epoch %d): %s", stem.name, epoch, exc)
            continue
        return epoch, stem
    return None


def read_checkpoint(path: Path, *, tensors: bool = False) -> Any:
    """One `.pdparams` / `.pdopt` file read through the allow-list of `interop.numpy_pickle`, never paddle.load
    (which runs whatever the pickle names); nested tensors (optimizer accumulators) become Paddle tensors when
    `tensors`, as paddle.load makes them. A missing, refused, truncated or foreign file is a one-line
    CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(str(path), reason="checkpoint file missing")
    if tensors:
        import paddle
        convert = paddle.to_tensor
    else:
        convert = lambda array: array  # noqa: E731
    try:
        return load_paddle_pickle(path, convert=convert)
    except Exception as exc:  # refused globals, truncated or foreign files surface as many exception types
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise CheckpointError(str(path), reason=f"cannot read checkpoint: {detail}") from None


def load_pair(stem: Path) -> Tuple[dict, dict]:
    """Model and training state of a checkpoint stem (see `read_checkpoint`); a missing or unreadable half, or
    one that is not a dict, is a CheckpointError."""
    stem = Path(stem)
    out = []
    for suffix in (".pdparams", ".pdopt"):
        path = stem.with_name(stem.name + suffix)
        value = read_checkpoint(path, tensors=suffix == ".pdopt")
        if not isinstance(value, dict):
            raise CheckpointError(str(path), reason=f"holds a {type(value).__name__}, not a dict")
        out.append(value)
    return out[0], out[1]
