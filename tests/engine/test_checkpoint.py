"""Checkpoints: PaddleVideo names, atomic writes, only complete pairs count for resume."""
from __future__ import annotations

import os
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


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_checkpoints_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        stem = ckpt.save_checkpoint(tmp_path, "M", {"w": np.ones(2, "float32")}, {"epoch": 1}, 1)
    finally:
        os.umask(old)
    for suffix in (".pdparams", ".pdopt"):
        assert stem.with_suffix(suffix).stat().st_mode & 0o777 == mode


def test_pdparams_written_by_paddle_load_back_as_arrays(tmp_path: Path) -> None:
    """What paddle.save writes (a Layer's state dict, name table included) reads without paddle.load."""
    import paddle

    layer = paddle.nn.Linear(3, 2)
    ckpt.atomic_save(layer.state_dict(), tmp_path / "l.pdparams")
    got = ckpt.read_checkpoint(tmp_path / "l.pdparams")
    assert sorted(got) == sorted(layer.state_dict())
    for key, value in layer.state_dict().items():
        np.testing.assert_array_equal(got[key], value.numpy())
