"""Seeding that makes a run reproducible and resumable: every epoch reseeds from (seed, epoch)."""
from __future__ import annotations

import random
from typing import Any, Dict

import numpy as np


def derive_seed(*parts: int) -> int:
    """A 31-bit seed mixed from integers (base seed, epoch, rank, worker ...)."""
    seq = np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts])
    return int(seq.generate_state(1)[0] & 0x7FFFFFFF)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Paddle."""
    import paddle

    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)


def rng_state() -> Dict[str, Any]:
    """The RNG states of Python, NumPy and Paddle, for the `.pdopt` file."""
    import paddle

    return {"python": random.getstate(), "numpy": np.random.get_state(), "paddle": paddle.get_rng_state()}


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    import paddle

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    paddle.set_rng_state(state["paddle"])
