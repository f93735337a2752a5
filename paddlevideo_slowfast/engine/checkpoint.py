"""PaddleVideo-named checkpoints written atomically, and discovery of the newest complete one for resume."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, List, Optional, Tuple

from ..errors import CheckpointError

_EPOCH_RE = re.compile(r"^(?P<name>.+)_epoch_(?P<epoch>\d{5})\.pdparams$")


def atomic_save(obj: Any, path: Path) -> None:
    """paddle.save to a temp file in the same folder, fsync, then rename: a crash never leaves a truncated file."""
    import paddle

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        paddle.save(obj, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


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


def list_checkpoints(folder: Path, model_name: str) -> List[Tuple[int, Path]]:
    """(epoch, stem) of every complete epoch checkpoint of `model_name` in `folder`, oldest first."""
    found = []
    folder = Path(folder)
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        match = _EPOCH_RE.match(path.name)
        if match and match["name"] == model_name and path.with_suffix(".pdopt").is_file():
            found.append((int(match["epoch"]), path.with_suffix("")))
    return sorted(found)


def latest_checkpoint(folder: Path, model_name: str) -> Optional[Tuple[int, Path]]:
    """The newest complete epoch checkpoint, or None."""
    found = list_checkpoints(folder, model_name)
    return found[-1] if found else None


def load_pair(stem: Path) -> Tuple[dict, dict]:
    """Model and training state of a checkpoint stem; a missing or unreadable half is a CheckpointError."""
    import paddle

    out = []
    for suffix in (".pdparams", ".pdopt"):
        path = Path(stem).with_suffix(suffix)
        if not path.is_file():
            raise CheckpointError(str(path), reason="checkpoint file missing")
        try:
            out.append(paddle.load(str(path)))
        except Exception as exc:  # a truncated or foreign file
            raise CheckpointError(str(path), reason=f"cannot read checkpoint: {exc}") from exc
    return out[0], out[1]
