"""Multigrid training end to end on the tiny dataset: each iteration gets its shape, BN groups and PreciseBN follow
the schedule, a kill -9 inside a run resumes to the same weights, two processes equal one accumulating, and both
PaddleVideo's slowfast_multigrid.yaml and our configs/slowfast_8x8_multigrid.yaml train at a tiny size."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.engine import trainer as trainer_module
from paddlevideo_slowfast.engine.checkpoint import load_pair
from paddlevideo_slowfast.engine.trainer import TrainOptions, train_model

from test_train import REPO, run_cli, weights  # tests/engine/test_train.py

# 16 training videos, batch 1: epochs 1-2 are frames 4 x crop 23 (batch 4, 2 BN groups; short cycle crops 16, 23
# at batches 8, 4), epoch 3 frames 8 x crop 32 (batch 1; short cycle 4, 2)
MULTIGRID = ("MULTIGRID: {LONG_CYCLE: true, SHORT_CYCLE: true, epoch_factor: 1.0, bn_base_size: 2, EVAL_FREQ: 1,\n"
             "  long_cycle_factors: [[0.5, 0.7071], [1, 1]], short_cycle_factors: [0.5, 0.7071]}\n")
MOMENTUM = ("OPTIMIZER:\n  _delete_: true\n  name: Momentum\n  momentum: 0.9\n"
            "  learning_rate: {name: CustomWarmupPiecewiseDecay, iter_step: true, warmup_epochs: 0,\n"
            "    warmup_start_lr: 0.01, step_base_lr: 0.01, lrs: [1, 0.1, 0.01], gamma: 0.1, steps: [0, 2],\n"
            "    max_epoch: 3}\n"
            "  weight_decay: {name: L2, value: 1.0e-4}\n")


@pytest.fixture
def mg_config(tiny_config: Path, tmp_path: Path) -> Path:
    path = tmp_path / "multigrid.yaml"
    path.write_text(f"_BASE_: {tiny_config}\nmodel_name: TinyMG\nepochs: 3\nDATASET: {{batch_size: 1}}\n"
                    f"MODEL: {{head: {{multigrid_short: true}}}}\n{MOMENTUM}{MULTIGRID}")
    return path


def test_each_iteration_has_its_shape_and_the_schedule_its_points(mg_config: Path, tmp_path: Path,
                                                                  monkeypatch) -> None:
    shapes: List[tuple] = []
    original = trainer_module.Trainer._forward_loss

    def recording(self, batch):
        shapes.append((self.epoch_done + 1, tuple(batch[0].shape), tuple(batch[1].shape)))
        return original(self, batch)

    monkeypatch.setattr(trainer_module.Trainer, "_forward_loss", recording)
    out = tmp_path / "run"
    train_model(load_config(str(mg_config), ["val_interval=5", "save_interval=5"]),
                TrainOptions(validate=True, output=str(out)))
    # [N, C, T, H, W] of Slow, then Fast: epochs 1-2 cycle crops 16, 23, 23 at batches 8, 4, 4 (4 frames, 1 slow)
    assert [s for s in shapes if s[0] == 1] == [(1, (8, 3, 1, 16, 16), (8, 3, 4, 16, 16)),
                                                (1, (4, 3, 1, 23, 23), (4, 3, 4, 23, 23)),
                                                (1, (4, 3, 1, 23, 23), (4, 3, 4, 23, 23))]
    assert [s[1] for s in shapes if s[0] == 3] == [(4, 3, 2, 16, 16), (2, 3, 2, 23, 23), (1, 3, 2, 32, 32)] * 2
    log = (out / "train.log").read_text()
    assert "epochs 1-2: LR step 0, frames 4, crops [16, 23, 23], batch sizes [8, 4, 4], BN groups 2" in log
    # EVAL_FREQ 1: PreciseBN, validation and a checkpoint at each phase's end (epochs 2 and 3) only
    assert log.count("PreciseBN: BN statistics recomputed") == 2
    assert [e for e in (1, 2, 3) if f"validation after epoch {e}/3" in log] == [2, 3]
    assert sorted(p.name for p in out.glob("*_epoch_*.pdparams")) == ["TinyMG_epoch_00002.pdparams",
                                                                       "TinyMG_epoch_00003.pdparams"]
    params, state = load_pair(out / "TinyMG_epoch_00002")
    assert not any("split" in key for key in params)          # PaddleVideo's plain BN keys
    groups = state["multigrid"]["sub_bn"]
    assert groups and all(mean.shape[0] == 2 * params[name + "._mean"].shape[0] for name, (mean, _) in groups.items())
    assert state["multigrid"]["epochs"] == 3
    # lr: 0.01 x batch factor 4 in the first phase, 0.01 x 0.1 in the fine-tuning one (steps [0, 2, 2, 2])
    assert "epoch 1/3 iter 1/3 loss" in log and " lr 0.040000 " in log and " lr 0.001000 " in log


def test_sigkill_inside_a_multigrid_run_then_resume_matches_uninterrupted(mg_config: Path, tmp_path: Path) -> None:
    """Killed in epoch 2 (mid-phase: its 2 BN groups' averages come from the .pdopt), resumed into epoch 3 (the
    next shape): the same weights and BN statistics as a straight run (no PreciseBN, which would recompute the
    averages the resume must restore)."""
    common = ["-c", str(mg_config), "--seed", "5", "-o", "PRECISEBN.num_iters_preciseBN=0"]
    run_cli("train", *common, "--output", str(tmp_path / "straight"), cwd=tmp_path)
    killer = ("import os, signal, sys\n"
              "from paddlevideo_slowfast.engine import trainer\n"
              "orig = trainer.Trainer._log_iter\n"
              "def log_iter(self, epoch, i, *rest):\n"
              "    orig(self, epoch, i, *rest)\n"
              "    if epoch == 1 and i == 1:\n"
              "        os.kill(os.getpid(), signal.SIGKILL)\n"
              "trainer.Trainer._log_iter = log_iter\n"
              "from paddlevideo_slowfast.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    crashed = tmp_path / "crashed"
    proc = subprocess.run([sys.executable, "-c", killer, "train", *common, "--output", str(crashed)], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert "epoch 2/3 iter 2/3" in (crashed / "train.log").read_text()
    assert sorted(p.name for p in crashed.glob("*_epoch_*.pdparams")) == ["TinyMG_epoch_00001.pdparams"]
    run_cli("train", *common, "--output", str(crashed), "--resume", "auto", cwd=tmp_path)
    assert "resumed from" in (crashed / "train.log").read_text()
    a = weights(tmp_path / "straight" / "TinyMG_epoch_00003.pdparams")
    b = weights(crashed / "TinyMG_epoch_00003.pdparams")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6, err_msg=key)


def test_resume_under_another_schedule_is_refused(mg_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_cli("train", "-c", str(mg_config), "-o", "epochs=1", "--output", str(out), cwd=tmp_path)
    proc = run_cli("train", "-c", str(mg_config), "-o", "MULTIGRID.epoch_factor=2.0", "--output", str(out),
                   "--resume", "auto", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "another multigrid schedule" in proc.stderr


def test_two_processes_equal_one_process_accumulating(mg_config: Path, tmp_path: Path) -> None:
    """2 ranks x 1 micro-batch == 1 process x 2 accumulated micro-batches under multigrid: every rank takes its
    slice of every variable-size batch (trainable weights; each rank keeps its own BN running statistics)."""
    common = ["-c", str(mg_config), "--seed", "3", "-o", "log_samples=true", "PRECISEBN.num_iters_preciseBN=0"]
    one_thread = {"OMP_NUM_THREADS": "1"}
    single = tmp_path / "single"
    run_cli("train", *common, "+GRADIENT_ACCUMULATION.global_batch_size=2", "--output", str(single), cwd=tmp_path,
            env=one_thread)
    console = Path(sys.executable).parent / "paddlevideo"
    if not console.is_file():
        pytest.skip("the `paddlevideo` console script is not installed (pip install -e .)")
    dist = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                           "--log_dir", str(tmp_path / "launch_logs"), str(console), "train", *common,
                           "--output", str(dist)], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), **one_thread})
    logs = "".join(p.read_text() for p in sorted((tmp_path / "launch_logs").glob("workerlog.*")))
    assert proc.returncode == 0, logs[-4000:] + proc.stderr[-2000:]
    lines = {r: (dist / f"samples_rank{r}.txt").read_text().splitlines() for r in (0, 1)}
    steps = (single / "samples_rank0.txt").read_text().splitlines()
    assert len(steps) == 2 * len(lines[0]) == 2 * len(lines[1])
    assert steps == [line for pair in zip(lines[0], lines[1]) for line in pair]   # micro-batch j = rank j's slice
    assert {len(line.split()) - 1 for line in lines[0]} == {1, 2, 4, 8}           # every shape's batch
    a = weights(single / "TinyMG_epoch_00003.pdparams", trainable_only=True)
    b = weights(dist / "TinyMG_epoch_00003.pdparams", trainable_only=True)
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-5, atol=1e-6, err_msg=key)


def tiny_overrides(data: Path, frames: int = 16) -> List[str]:
    """-o overrides shrinking an R50 8x8 multigrid config to depth 10, width 8, 16-frame 32 px clips of the tiny
    dataset, 3 epochs (PaddleVideo's long-cycle factors kept: 4, 8, 8, 16 frames; crops 23, 23, 32, 32)."""
    items = ["model_name=TinyMG", "epochs=2", "log_interval=1", "DATASET.batch_size=1", "DATASET.num_workers=0",
             "MODEL.backbone.depth=10", "MODEL.backbone.width_per_group=8", "MODEL.head.width_per_group=8",
             "MODEL.head.num_classes=4", f"MODEL.head.num_frames={frames}", "MODEL.head.crop_size=32",
             "METRIC.num_classes=4", "MULTIGRID.bn_base_size=2", "PRECISEBN.num_iters_preciseBN=1",
             "OPTIMIZER.learning_rate.steps=[0, 1]", "OPTIMIZER.learning_rate.max_epoch=2",
             "OPTIMIZER.learning_rate.warmup_epochs=0"]
    for mode, name in (("train", "train"), ("valid", "val"), ("test", "val")):
        items += [f"DATASET.{mode}.file_path={data / (name + '.list')}", f"+DATASET.{mode}.data_prefix={data}",
                  f"PIPELINE.{mode}.decode_sampler.num_frames={frames}",
                  f"PIPELINE.{mode}.transform.JitterScale.min_size=32",
                  f"PIPELINE.{mode}.transform.JitterScale.max_size={36 if mode != 'test' else 32}",
                  f"PIPELINE.{mode}.transform.MultiCrop.target_size=32"]
    return items


@pytest.mark.parametrize("config", ["paddlevideo", "ours"])
def test_multigrid_configs_train_at_a_tiny_size(config: str, tiny_dataset: Path, paddlevideo_dir: Path,
                                                tmp_path: Path) -> None:
    if config == "paddlevideo":
        path = paddlevideo_dir / "configs" / "recognition" / "slowfast" / "slowfast_multigrid.yaml"
        extra: List[str] = []
    else:
        path = REPO / "configs" / "slowfast_8x8_multigrid.yaml"
        extra = ["INFERENCE.num_frames=16", "INFERENCE.target_size=32", "DATASET.embedded=null"]
    out = tmp_path / "run"
    run_cli("train", "-c", str(path), "-o", *tiny_overrides(tiny_dataset), *extra, "--validate",
            "--output", str(out), cwd=tmp_path)
    log = (out / "train.log").read_text()
    assert "multigrid: 3 epochs" in log and "epoch 1: LR step 0, frames 4, crops [16, 23, 23], batch sizes [16, 8, 8]" in log
    assert "validation after epoch 3/3" in log and "PreciseBN" in log and "MULTIGRID is ignored" not in log
    assert (out / "TinyMG_epoch_00003.pdparams").is_file()
