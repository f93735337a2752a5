"""Checkpoints: PaddleVideo names, atomic writes, only complete pairs count for resume."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.engine import checkpoint as ckpt
from paddlevideo_slowfast.errors import CheckpointError


def test_names_and_latest_complete(tmp_path: Path) -> None:
    for epoch in (1, 2, 10):
        ckpt.save_checkpoint(tmp_path, "SlowFast", {"w": np.full(3, epoch, "float32")}, {"epoch": epoch}, epoch)
    ckpt.save_checkpoint(tmp_path, "SlowFast", {"w": np.zeros(3, "float32")}, {"epoch": 10})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["SlowFast_best.pdopt", "SlowFast_best.pdparams",
                     "SlowFast_epoch_00001.pdopt", "SlowFast_epoch_00001.pdparams",
                     "SlowFast_epoch_00002.pdopt", "SlowFast_epoch_00002.pdparams",
                     "SlowFast_epoch_00010.pdopt", "SlowFast_epoch_00010.pdparams"]
    epoch, stem = ckpt.latest_checkpoint(tmp_path, "SlowFast")
    assert epoch == 10 and stem.name == "SlowFast_epoch_00010"
    params, state = ckpt.load_pair(stem)
    assert np.asarray(params["w"]).tolist() == [10, 10, 10] and state["epoch"] == 10


def test_incomplete_pair_is_ignored(tmp_path: Path) -> None:
    ckpt.save_checkpoint(tmp_path, "M", {"w": np.ones(2, "float32")}, {"epoch": 1}, 1)
    (tmp_path / "M_epoch_00002.pdopt").write_bytes(b"half written")   # crash before the weights landed
    assert ckpt.latest_checkpoint(tmp_path, "M")[0] == 1
    assert ckpt.latest_checkpoint(tmp_path, "Other") is None


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(Exception):
        ckpt.atomic_save({"x": Unpicklable()}, tmp_path / "M_epoch_00001.pdparams")
    assert list(tmp_path.iterdir()) == []


def test_truncated_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    stem = ckpt.save_checkpoint(tmp_path, "M", {"w": np.ones(200, "float32")}, {"epoch": 1}, 1)
    data = stem.with_suffix(".pdparams").read_bytes()
    stem.with_suffix(".pdparams").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="M_epoch_00001.pdparams"):
        ckpt.load_pair(stem)
