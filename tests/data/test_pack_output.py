"""PackOutput: the Slow pathway's frame indices and the (C, T, H, W) float32 layout."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo_slowfast.data.pack import PackOutput, slow_indices
from paddlevideo_slowfast.errors import ConfigError


def test_slow_indices_exact() -> None:
    assert slow_indices(32, 8).tolist() == [0, 10, 20, 31]
    assert slow_indices(32, 4).tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    assert slow_indices(8, 4).tolist() == [0, 7]


def test_pack_layout_and_values() -> None:
    frames = np.random.default_rng(0).random((32, 5, 6, 3), dtype=np.float32)
    slow, fast = PackOutput(alpha=8)({"imgs": frames})["imgs"]
    assert fast.shape == (3, 32, 5, 6) and slow.shape == (3, 4, 5, 6)
    assert fast.dtype == slow.dtype == np.float32 and fast.flags.c_contiguous and slow.flags.c_contiguous
    np.testing.assert_array_equal(fast, frames.transpose(3, 0, 1, 2))
    np.testing.assert_array_equal(slow[:, 1], frames[10].transpose(2, 0, 1))


def test_bad_alpha() -> None:
    with pytest.raises(ConfigError):
        PackOutput(alpha=0)
    with pytest.raises(ConfigError, match="alpha"):
        PackOutput(alpha=8)({"imgs": np.zeros((4, 2, 2, 3), np.float32)})
