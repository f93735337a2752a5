"""Shared test fixtures: paths of the repository and the optional PaddleVideo snapshot."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PADDLEVIDEO_DIR = Path(os.environ.get("PADDLEVIDEO_DIR", REPO.parent / "shared" / "third_party" / "PaddleVideo"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def paddlevideo_dir() -> Path:
    """The unmodified PaddleVideo snapshot used for integration tests; skip when it is absent."""
    if not (PADDLEVIDEO_DIR / "paddlevideo" / "__init__.py").is_file():
        pytest.skip(f"PaddleVideo snapshot not found at {PADDLEVIDEO_DIR} (set PADDLEVIDEO_DIR)")
    return PADDLEVIDEO_DIR
