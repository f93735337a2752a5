"""Where a pipeline stage gets its random numbers: the item's own generator, so crops depend on (seed, epoch, index).

The dataset puts `results['rng']`, a numpy Generator seeded from (seed, epoch, index, attempt), into every item;
that makes augmentation independent of worker count, worker order and resumption. A stage run without one (for
example inside PaddleVideo's own dataset) draws from NumPy's global state, which PaddleVideo seeds per worker.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np


def item_rng(seed: int, epoch: int, index: int, attempt: int = 0) -> np.random.Generator:
    """The generator of one dataset item: every (seed, epoch, index, attempt) gives an independent stream."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch), int(index), int(attempt)])


def stage_rng(results: Mapping[str, Any]) -> np.random.Generator:
    """The item's generator, or one drawn from NumPy's global state when the item carries none."""
    rng = results.get("rng")
    if rng is None:
        rng = np.random.default_rng(np.random.randint(0, 2 ** 31 - 1))
    return rng
