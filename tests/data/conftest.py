"""Videos shared by the data tests, generated once per session."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_corpus import BACKENDS, make_corpus, make_good, reference_frames  # noqa: E402,F401


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> Dict[str, Path]:
    """Good H.264 videos: 'main' (96x64, 64 frames at 30 fps, keyframe every 16), 'fps60', 'short' (8 frames),
    'portrait' (64x96)."""
    root = tmp_path_factory.mktemp("videos")
    return {
        "main": make_good(root / "main.mp4"),
        "fps60": make_good(root / "fps60.mp4", count=64, fps=60, seed=1),
        "short": make_good(root / "short.mp4", count=8, seed=2),
        "portrait": make_good(root / "portrait.mp4", count=40, height=96, width=64, seed=3),
    }


@pytest.fixture(scope="session")
def reference(videos) -> Dict[str, object]:
    """Sequentially decoded frames of each good video."""
    return {name: reference_frames(path) for name, path in videos.items()}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Dict[str, Path]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))
