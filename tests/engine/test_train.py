"""Training end to end on a tiny SlowFast: checkpoints, resume after SIGKILL, validation, test, distributed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.engine.trainer import TrainOptions, train_model

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path, env: dict = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "paddlevideo_slowfast", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def weights(path: Path, trainable_only: bool = False) -> dict:
    import paddle

    state = paddle.load(str(path))
    return {k: np.asarray(v) for k, v in state.items()
            if not (trainable_only and (k.endswith("._mean") or k.endswith("._variance")))}


def test_train_validate_checkpoint_and_test(tiny_cfg, tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary = train_model(tiny_cfg, TrainOptions(validate=True, output=str(out)))
    names = sorted(p.name for p in out.glob("*.pd*"))
    assert names == ["Tiny_best.pdopt", "Tiny_best.pdparams", "Tiny_epoch_00001.pdopt", "Tiny_epoch_00001.pdparams",
                     "Tiny_epoch_00002.pdopt", "Tiny_epoch_00002.pdparams"]
    assert {"loss", "top1", "top5"} <= set(summary["train"]) and np.isfinite(summary["train"]["loss"])
    assert summary["valid"]["scored"] == 8 and summary["valid"]["unscored"] == 0
    assert (out / "metrics.jsonl").stat().st_size > 0 and any((out / "vdl").iterdir())
    log = (out / "train.log").read_text()
    assert "epoch 2/2 iter 8/8" in log and "lr" in log and "eta" in log and "bad videos 0" in log

    from paddlevideo_slowfast.engine.evaluator import test_model

    result = test_model(tiny_cfg, str(out / "Tiny_epoch_00002.pdparams"), output=str(tmp_path / "test"),
                        accelerate=False)
    assert result["scored"] == 8 and result["unscored"] == 0
    rows = (tmp_path / "test" / "confusion_matrix.csv").read_text().splitlines()[1:]
    confusion = np.array([[int(v) for v in row.split(",")[1:]] for row in rows])
    assert confusion.sum() == 8 and result["top1"] == pytest.approx(np.trace(confusion) / 8)
    assert any(p.suffix == ".png" for p in (tmp_path / "test").iterdir())


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tiny_config: Path, tmp_path: Path) -> None:
    common = ["-c", str(tiny_config), "-o", "epochs=3", "--seed", "11"]
    run_cli("train", *common, "--output", str(tmp_path / "straight"), cwd=tmp_path)
    killer = ("import os, signal, sys\n"
              "from paddlevideo_slowfast.engine import trainer\n"
              "orig = trainer.Trainer._log_iter\n"
              "def log_iter(self, epoch, i, *rest):\n"
              "    orig(self, epoch, i, *rest)\n"
              "    if epoch == 1 and i == 2:\n"
              "        os.kill(os.getpid(), signal.SIGKILL)\n"
              "trainer.Trainer._log_iter = log_iter\n"
              "from paddlevideo_slowfast.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    crashed = tmp_path / "crashed"
    proc = subprocess.run([sys.executable, "-c", killer, "train", *common, "--output", str(crashed)], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert "epoch 2/3 iter 3/8" in (crashed / "train.log").read_text()
    assert sorted(p.name for p in crashed.glob("*.pdparams")) == ["Tiny_epoch_00001.pdparams"]
    assert not list(crashed.glob(".*.tmp"))
    run_cli("train", *common, "--output", str(crashed), "--resume", "auto", cwd=tmp_path)
    assert "resumed from" in (crashed / "train.log").read_text()
    a, b = weights(tmp_path / "straight" / "Tiny_epoch_00003.pdparams"), weights(crashed / "Tiny_epoch_00003.pdparams")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6, err_msg=key)


def test_paddlevideo_resume_epoch_key(tiny_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_cli("train", "-c", str(tiny_config), "-o", "epochs=1", "--output", str(out), cwd=tmp_path)
    proc = run_cli("train", "-c", str(tiny_config), "-o", "epochs=2", "resume_epoch=1", "--output", str(out),
                   cwd=tmp_path)
    assert "resumed from" in (out / "train.log").read_text() and (out / "Tiny_epoch_00002.pdparams").is_file()
    assert proc.returncode == 0


def test_amp_on_cpu_is_a_clear_error(tiny_config: Path, tmp_path: Path) -> None:
    proc = run_cli("train", "-c", str(tiny_config), "--amp", "--output", str(tmp_path / "o"), cwd=tmp_path,
                   check=False)
    assert proc.returncode == 2 and "bfloat16 conv3d" in proc.stderr


@pytest.mark.parametrize("fast_conv", [True, False])
def test_two_processes_equal_one_process_accumulating(fast_conv: bool, tiny_config: Path, tmp_path: Path) -> None:
    """2 ranks x batch 1 == 1 process x batch 1 x 2 accumulated micro-batches (BN running stats excluded).

    With momentum SGD, the recipe's optimizer: Adam's update is about lr * sign(g), which turns float rounding
    in near-zero gradients (sums in another order) into full-size steps. Halving is exact in floats, so the
    all-reduced mean (g1 + g2) / 2 equals the accumulated g1 / 2 + g2 / 2 bit for bit when each g is.
    With the conv fold too: DataParallel garbles a strided gradient (docs/paddle_cpu_limits.md, 9).
    """
    config = tmp_path / "momentum.yaml"
    config.write_text(f"_BASE_: {tiny_config}\n"
                      "OPTIMIZER:\n  _delete_: true\n  name: Momentum\n  momentum: 0.9\n"
                      "  learning_rate: {name: LinearWarmupCosineDecay, base_lr: 0.05, warmup_epochs: 0, max_epoch: 1}\n"
                      "  weight_decay: {name: L2, value: 1.0e-4}\n")
    common = ["-c", str(config), "--seed", "3", "-o", "epochs=1", "DATASET.batch_size=1", "log_samples=true",
              f"MODEL.backbone.cpu_fast_conv={fast_conv}", "sync_bn=true"]
    single = tmp_path / "single"
    one_thread = {"OMP_NUM_THREADS": "1"}  # the same GEMM partitioning, so the same float rounding, in both runs
    run_cli("train", *common, "GRADIENT_ACCUMULATION.global_batch_size=2", "--output", str(single), cwd=tmp_path,
            env=one_thread)
    dist = tmp_path / "dist"
    console = Path(sys.executable).parent / "paddlevideo"   # Paddle's launcher runs any executable it is given
    if not console.is_file():
        pytest.skip("the `paddlevideo` console script is not installed (pip install -e .)")
    env = {**os.environ, "PYTHONPATH": str(REPO), **one_thread}
    proc = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                           "--log_dir", str(tmp_path / "launch_logs"), str(console), "train", *common,
                           "--output", str(dist)], cwd=tmp_path, capture_output=True, text=True, env=env)
    logs = "".join(p.read_text() for p in sorted((tmp_path / "launch_logs").glob("workerlog.*")))
    assert proc.returncode == 0, logs[-4000:] + proc.stderr[-2000:]
    assert logs.count("sync_bn: true is ignored on cpu") == 1 and "plain BatchNorm" in logs  # once, on rank 0
    rank0 = (dist / "samples_rank0.txt").read_text().split()
    rank1 = (dist / "samples_rank1.txt").read_text().split()
    seen0, seen1 = set(rank0[1::2]), set(rank1[1::2])
    assert seen0 and seen1 and not seen0 & seen1                      # the ranks saw different samples
    steps = (single / "samples_rank0.txt").read_text().split()[1::2]
    assert steps == [x for pair in zip(rank0[1::2], rank1[1::2]) for x in pair]
    a = weights(single / "Tiny_epoch_00001.pdparams", trainable_only=True)
    b = weights(dist / "Tiny_epoch_00001.pdparams", trainable_only=True)
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-5, atol=1e-6, err_msg=key)
