"""PaddleVideo's AVA evaluator from the snapshot, imported (never edited) for the parity tests."""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import pytest

PREFIX = "PerformanceByCategory/AP@0.5IOU/"


@pytest.fixture(scope="session")
def pv_ava_utils(paddlevideo_dir, tmp_path_factory):
    """`paddlevideo.metrics.ava_utils`, imported with the cwd in a temporary folder (PaddleVideo's logger opens a
    file in the cwd at import); skips when it does not import."""
    from paddlevideo_slowfast.plugin import PaddleVideoNotFound, import_paddlevideo

    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("pv_cwd"))
    try:
        import_paddlevideo(str(paddlevideo_dir))
        return importlib.import_module("paddlevideo.metrics.ava_utils")
    except (PaddleVideoNotFound, ImportError) as exc:
        pytest.skip(f"PaddleVideo at {paddlevideo_dir} does not import: {exc}")
    finally:
        os.chdir(cwd)


@pytest.fixture
def pv_evaluate(pv_ava_utils, monkeypatch, tmp_path) -> Callable[..., Tuple[float, Dict[str, float]]]:
    """(mAP, {class name: AP}) from PaddleVideo's `ava_eval` on files; the only shims are the numpy aliases it
    uses that numpy 2 removed (`np.float`, `np.NAN`), and a wrapper that keeps the per-class APs it prints."""
    det_eval = pv_ava_utils.det_eval
    monkeypatch.setattr(np, "float", float, raising=False)
    monkeypatch.setattr(np, "NAN", np.nan, raising=False)
    kept: Dict[str, float] = {}
    original = det_eval.PascalDetectionEvaluator.evaluate

    def keeping(self):
        metrics = original(self)
        kept.update(metrics)
        return metrics

    monkeypatch.setattr(det_eval.PascalDetectionEvaluator, "evaluate", keeping)

    def run(label_file: Path, gt_file: Path, det_file: Path, excluded_file: Optional[Path] = None,
            capacity: int = 0):
        """`capacity` > 0: its reader keeps that many detections per keyframe, as the official script (50) does."""
        kept.clear()
        monkeypatch.chdir(tmp_path)
        reader = pv_ava_utils.read_csv
        if capacity:
            monkeypatch.setattr(pv_ava_utils, "read_csv", lambda f, whitelist, cap=0: reader(
                f, whitelist, capacity if f.name == str(det_file) else cap))
        result = pv_ava_utils.ava_eval(str(det_file), "mAP", str(label_file), str(gt_file),
                                       None if excluded_file is None else str(excluded_file), verbose=True)
        monkeypatch.setattr(pv_ava_utils, "read_csv", reader)
        per_class = {k[len(PREFIX):]: float(v) for k, v in kept.items() if k.startswith(PREFIX)}
        return float(result["mAP@0.5IOU"]), per_class

    return run
