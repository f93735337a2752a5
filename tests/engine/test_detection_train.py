"""Action detection end to end through the `paddlevideo` command on a tiny generated AVA set (tests/conftest.py's
tiny_ava_config): train with validation, resume, test (AVA result CSV, --json) and 2-process training."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MAP = "mAP@0.5IOU"
VAL_KEYFRAMES = 3  # 2 videos x 2 keyframes, one of them listed as excluded


def run_cli(*args: str, cwd: Path, env: dict = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "paddlevideo_slowfast", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def records(folder: Path, kind: str) -> List[Dict]:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if row["kind"] == kind]


def weights(path: Path) -> Dict[str, np.ndarray]:
    import paddle

    return {k: np.asarray(v) for k, v in paddle.load(str(path)).items()}


@pytest.fixture(scope="module")
def trained(tiny_ava_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`paddlevideo train -c tiny_ava.yaml --validate`, 2 epochs, once for the module."""
    out = tmp_path_factory.mktemp("ava_run") / "straight"
    run_cli("train", "-c", str(tiny_ava_config), "--validate", "--output", str(out), cwd=out.parent)
    return out


def test_train_validates_and_writes_paddlevideo_checkpoints(trained: Path) -> None:
    assert sorted(p.name for p in trained.glob("*.pd*")) == [
        "TinyAVA_best.pdopt", "TinyAVA_best.pdparams", "TinyAVA_epoch_00001.pdopt", "TinyAVA_epoch_00001.pdparams",
        "TinyAVA_epoch_00002.pdopt", "TinyAVA_epoch_00002.pdparams"]
    log = (trained / "train.log").read_text()
    assert "epoch 2/2 iter 3/3 loss" in log and "recall@thr=0.5" in log and "bad videos 0" in log
    train = records(trained, "train")
    assert train and all(math.isfinite(r["loss"]) and {"recall@thr=0.5", "prec@thr=0.5"} <= set(r) for r in train)
    valid = records(trained, "valid")
    assert [r["epoch"] for r in valid] == [1, 2]
    assert all(math.isfinite(r[MAP]) and 0 <= r[MAP] <= 1 and r["keyframes"] == VAL_KEYFRAMES for r in valid)
    best = max(valid, key=lambda r: r[MAP])
    assert f"best {MAP} {best[MAP]:.4f} at epoch {best['epoch']}" in log


def test_resume_auto_after_epoch_1_matches_the_uninterrupted_run(trained: Path, tiny_ava_config: Path,
                                                                 tmp_path: Path) -> None:
    """What a run stopped after epoch 1 of 2 leaves (its epoch-1 pair), continued with --resume auto."""
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    for suffix in (".pdparams", ".pdopt"):
        shutil.copy(trained / f"TinyAVA_epoch_00001{suffix}", resumed)
    run_cli("train", "-c", str(tiny_ava_config), "--validate", "--resume", "auto", "--output", str(resumed),
            cwd=tmp_path)
    log = (resumed / "train.log").read_text()
    assert "resumed from" in log and "at epoch 1" in log and "epoch 1/2 iter" not in log
    a, b = weights(trained / "TinyAVA_epoch_00002.pdparams"), weights(resumed / "TinyAVA_epoch_00002.pdparams")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-6, err_msg=key)
    assert records(resumed, "valid")[-1][MAP] == pytest.approx(records(trained, "valid")[-1][MAP], abs=1e-9)


def test_test_writes_ava_detections_and_per_class_ap(trained: Path, tiny_ava_config: Path, tiny_ava_dataset: Path,
                                                     tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from paddlevideo_slowfast.cli import main
    from paddlevideo_slowfast.data.ava.annotations import read_annotations
    from paddlevideo_slowfast.metrics.ava.results_csv import read_results

    best = trained / "TinyAVA_best.pdparams"
    report = tmp_path / "report"
    assert main(["test", "-c", str(tiny_ava_config), "-w", str(best), "--output", str(report)]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(f"{MAP}: ") and f"over {VAL_KEYFRAMES} keyframes" in first
    best_valid = max(r[MAP] for r in records(trained, "valid"))
    assert float(first.split()[1]) == pytest.approx(best_valid, abs=5e-5)  # _best is the best validation's model

    results = read_results(report / "detections.csv")
    table = results.table
    assert not results.problems and len(table) > 0
    truth = read_annotations(tiny_ava_dataset / "annotations" / "ava_val.csv").records
    assert set(zip(table.video_id.tolist(), table.timestamp.tolist())) <= {(r.video_id, r.timestamp) for r in truth}
    assert set(table.action_id.tolist()) <= set(range(1, 10))
    assert np.all((table.boxes >= 0) & (table.boxes <= 1)) and np.all((table.score >= 0) & (table.score <= 1))
    assert (report / "per_class_ap.csv").read_text().strip()

    proc = run_cli("test", "-c", str(tiny_ava_config), "-w", str(best), "--output", str(tmp_path / "json"),
                   "--json", cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    result = json.loads(proc.stdout)  # exactly one object and nothing else
    assert isinstance(result, dict) and result[MAP] == pytest.approx(float(first.split()[1]), abs=5e-5)


def test_two_process_training_validates_over_both_ranks_as_one_process_would(tiny_ava_config: Path,
                                                                             tmp_path: Path) -> None:
    """3 validation keyframes over 2 ranks: the sampler pads with a repeat, which AVAMetric counts once; every rank
    scores rank 0's BN statistics, so the gathered mAP is the single-process mAP of the checkpoint rank 0 wrote."""
    console = Path(sys.executable).parent / "paddlevideo"
    if not console.is_file():
        pytest.skip("the `paddlevideo` console script is not installed (pip install -e .)")
    out, logs = tmp_path / "dist", tmp_path / "logs"
    env = {**os.environ, "PATH": f"{console.parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                           "--log_dir", str(logs), "paddlevideo", "train", "-c", str(tiny_ava_config), "--validate",
                           "--output", str(out)], cwd=tmp_path, capture_output=True, text=True, env=env)
    text = "".join(p.read_text() for p in sorted(logs.glob("workerlog.*")))
    assert proc.returncode == 0, text[-4000:] + proc.stderr[-2000:]

    log = (out / "train.log").read_text()
    assert "batch 2 x 2 processes" in log and "epoch 2/2 iter 2/2" in log
    assert log.count("saved ") == text.count("saved ") and log.count("TinyAVA_epoch_00001.pdparams") == 1
    assert sorted(p.name for p in out.glob("*_epoch_*.pdparams")) == ["TinyAVA_epoch_00001.pdparams",
                                                                     "TinyAVA_epoch_00002.pdparams"]
    assert not list(out.glob(".*.tmp"))
    valid = records(out, "valid")
    assert [r["epoch"] for r in valid] == [1, 2] and all(r["keyframes"] == VAL_KEYFRAMES for r in valid)

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.engine.evaluator import test_model

    cfg = load_config(str(tiny_ava_config))  # DATASET.test is the validation split here
    for row in valid:
        single = test_model(cfg, str(out / f"TinyAVA_epoch_{row['epoch']:05d}.pdparams"),
                            output=str(tmp_path / f"single{row['epoch']}"), accelerate=False)
        assert single[MAP] == pytest.approx(row[MAP], abs=1e-9), row["epoch"]
        assert single["detections"] == row["detections"]
