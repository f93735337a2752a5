"""The tiny AVA-layout dataset (videos, extracted frames, annotation files), made once per session."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ava_data_helpers import make_ava  # noqa: E402


@pytest.fixture(scope="session")
def ava_data(tmp_path_factory) -> Dict[str, Path]:
    return make_ava(tmp_path_factory.mktemp("ava"))


@pytest.fixture(scope="session")
def pv_ava(paddlevideo_dir, tmp_path_factory):
    """PaddleVideo's AVA modules from the snapshot (imported, never edited): sample_ava, augmentations_ava and
    ava_dataset, as attributes; the cwd is a temporary folder while importing (its logger opens a file there)."""
    import importlib
    import os
    from types import SimpleNamespace

    from paddlevideo_slowfast.plugin import PaddleVideoNotFound, import_paddlevideo

    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("pv_cwd"))
    try:
        import_paddlevideo(str(paddlevideo_dir))
        base = "paddlevideo.loader"
        return SimpleNamespace(sample=importlib.import_module(f"{base}.pipelines.sample_ava"),
                               aug=importlib.import_module(f"{base}.pipelines.augmentations_ava"),
                               pack=importlib.import_module(f"{base}.pipelines.augmentations"),
                               dataset=importlib.import_module(f"{base}.dataset.ava_dataset"))
    except (PaddleVideoNotFound, ImportError) as exc:
        pytest.skip(f"PaddleVideo at {paddlevideo_dir} does not import: {exc}")
    finally:
        os.chdir(cwd)
