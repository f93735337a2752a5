"""Shared models for the modeling tests: full R50s are built and profiled once per session."""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pytest

REFERENCE_KEYS = {"4x16": "paddlevideo_slowfast_r50_4x16_keys.txt", "8x8": "paddlevideo_slowfast_r50_8x8_keys.txt"}
VARIANT_OF = {"4x16": "slowfast_r50_4x16", "8x8": "slowfast_r50_8x8"}
SLOW_FRAMES = {"4x16": 4, "8x8": 8}  # 32 fast frames either way


@pytest.fixture(scope="session")
def reference_dir(repo_root):
    path = repo_root.parent / "shared" / "reference"
    if not (path / REFERENCE_KEYS["4x16"]).is_file():
        pytest.skip(f"reference key lists not found at {path}")
    return path


@pytest.fixture(scope="session")
def reference_keys(reference_dir):
    """(key, shape, dtype) rows of PaddleVideo's SlowFast state dict, by geometry."""
    def read(geometry: str) -> List[Tuple[str, str, str]]:
        lines = (reference_dir / REFERENCE_KEYS[geometry]).read_text().splitlines()
        return [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]
    return read


@pytest.fixture(scope="session")
def r50() -> Dict[str, object]:
    """Lazily built R50 models by geometry ('4x16', '8x8'); weights are PySlowFast's init, seed 0."""
    from paddlevideo_slowfast.modeling import create_model

    class Models(dict):
        def __missing__(self, geometry):
            self[geometry] = create_model(VARIANT_OF[geometry])
            return self[geometry]

    return Models()


@pytest.fixture(scope="session")
def r50_profile(r50):
    """profile(...) of an R50 on one clip, by (geometry, crop): one forward each for shapes and GMACs."""
    import paddle

    from paddlevideo_slowfast.modeling import profile

    cache: Dict[Tuple[str, int], list] = {}

    def get(geometry: str, crop: int):
        if (geometry, crop) not in cache:
            clips = [paddle.zeros([1, 3, SLOW_FRAMES[geometry], crop, crop]), paddle.zeros([1, 3, 32, crop, crop])]
            cache[geometry, crop] = profile(r50[geometry], clips)
        return cache[geometry, crop]

    return get


def tiny_clips(n: int = 2, slow: int = 2, alpha: int = 4, size: int = 64, seed: int = 0) -> List:
    """Random [slow, fast] paddle tensors for slowfast_tiny (alpha 4, 64 px)."""
    import paddle
    rng = np.random.default_rng(seed)
    return [paddle.to_tensor(rng.normal(size=(n, 3, t, size, size)).astype("float32")) for t in (slow, slow * alpha)]


@pytest.fixture
def clips():
    """A factory of random [slow, fast] clips: clips(n=2, slow=2, alpha=4, size=64, seed=0)."""
    return tiny_clips
