"""Several "nodes" on one host through Paddle's own launcher (gloo on CPU): two launcher invocations train like one
process accumulating, a SIGKILLed rank ends the job at once and `--resume auto` finishes it to the same weights,
checkpoints are never seen half-written, and a SIGSTOPped rank is named by the collective-timeout watchdog."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

import numpy as np
import pytest

from paddlevideo_slowfast.engine import checkpoint as ckpt
from paddlevideo_slowfast.engine.watchdog import HUNG_EXIT_CODE
from paddlevideo_slowfast.errors import CheckpointError

from test_train import REPO, run_cli, weights  # tests/engine/test_train.py

# A worker entry for the launcher: the CLI, except that one rank sends itself `SIGNAL` after logging
# (0-based) epoch EPOCH's micro-batch ITER, once per MARK file (a restarted job runs to the end).
FAULTY = """import os, signal, sys
from pathlib import Path
from paddlevideo_slowfast.engine import trainer
mark, victim = Path(os.environ["FAULT_MARK"]), os.environ["FAULT_RANK"]
epoch_at, iter_at, sig = (int(os.environ[k]) for k in ("FAULT_EPOCH", "FAULT_ITER", "FAULT_SIGNAL"))
orig = trainer.Trainer._log_iter
def log_iter(self, epoch, i, *rest):
    orig(self, epoch, i, *rest)
    if (epoch, i) == (epoch_at, iter_at) and os.environ["PADDLE_TRAINER_ID"] == victim and not mark.exists():
        mark.write_text(str(os.getpid()))
        os.kill(os.getpid(), sig)
trainer.Trainer._log_iter = log_iter
from paddlevideo_slowfast.cli import main
sys.exit(main(sys.argv[1:]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_nodes(tmp_path: Path, name: str, entry: List[str], nodes: int, env: dict) -> List[subprocess.Popen]:
    """One `python -m paddle.distributed.launch --nnodes N --master 127.0.0.1:PORT --rank r` per node, one process
    each."""
    port = free_port()
    return [subprocess.Popen([sys.executable, "-m", "paddle.distributed.launch", "--nnodes", str(nodes),
                              "--master", f"127.0.0.1:{port}", "--rank", str(node), "--nproc_per_node", "1",
                              "--log_dir", str(tmp_path / f"{name}_node{node}"), *entry],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for node in range(nodes)]


def finish(procs: List[subprocess.Popen], timeout: float) -> List[int]:
    """Exit codes of the launchers; any still running after `timeout` s is killed and fails the test."""
    deadline, codes = time.monotonic() + timeout, []
    for proc in procs:
        try:
            codes.append(proc.wait(max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            pytest.fail(f"launcher still running after {timeout} s")
    return codes


class CheckpointReader(threading.Thread):
    """Reads every checkpoint version that appears in `folder` while a job runs: a reader must never see a
    partial file (a half that vanished between listing and reading is an unlink in progress, not a partial file)."""

    def __init__(self, folder: Path):
        super().__init__(daemon=True)
        self.folder, self.done, self.read, self.errors = folder, threading.Event(), set(), []

    def run(self) -> None:
        while not self.done.is_set():
            for path in list(self.folder.glob("Tiny_epoch_*.pd*")) if self.folder.is_dir() else []:
                try:
                    version = (path.name, path.stat().st_mtime_ns)
                    if version not in self.read:
                        ckpt.read_checkpoint(path)
                        self.read.add(version)
                except FileNotFoundError:
                    continue
                except CheckpointError as exc:
                    if path.exists():
                        self.errors.append(str(exc))
            time.sleep(0.005)


def momentum_config(tiny_config: Path, folder: Path) -> Path:
    """SGD with momentum (halving is exact, so 2 ranks' mean gradient equals 2 accumulated halves bit for bit)."""
    path = folder / "momentum.yaml"
    path.write_text(f"_BASE_: {tiny_config}\n"
                    "OPTIMIZER:\n  _delete_: true\n  name: Momentum\n  momentum: 0.9\n"
                    "  learning_rate: {name: LinearWarmupCosineDecay, base_lr: 0.05, warmup_epochs: 0, max_epoch: 2}\n"
                    "  weight_decay: {name: L2, value: 1.0e-4}\n")
    return path


def test_two_nodes_equal_one_process_and_resume_after_sigkill(tiny_config: Path, tmp_path: Path) -> None:
    """Two launcher invocations (`--nnodes 2`), one process each: rank 1 is SIGKILLed in epoch 2, both launchers
    exit non-zero at once (rank 0's log names rank 1), the same commands with `--resume auto` finish the job, and
    the weights after each epoch equal one process accumulating 2 micro-batches (trainable weights, bit for bit)."""
    common = ["-c", str(momentum_config(tiny_config, tmp_path)), "--seed", "3", "-o", "epochs=2",
              "DATASET.batch_size=1", "log_samples=true"]
    one_thread = {"OMP_NUM_THREADS": "1"}  # the same GEMM partitioning, so the same float rounding, in both runs
    run_cli("train", *common, "GRADIENT_ACCUMULATION.global_batch_size=2", "--output", str(tmp_path / "single"),
            cwd=tmp_path, env=one_thread)

    script = tmp_path / "faulty.py"
    script.write_text(FAULTY)
    mark, out = tmp_path / "killed", tmp_path / "nodes"
    env = {**os.environ, "PYTHONPATH": str(REPO), **one_thread, "FAULT_MARK": str(mark), "FAULT_RANK": "1",
           "FAULT_EPOCH": "1", "FAULT_ITER": "2", "FAULT_SIGNAL": str(int(signal.SIGKILL))}
    entry = [str(script), "train", *common, "--resume", "auto", "--output", str(out)]
    reader = CheckpointReader(out)
    reader.start()
    crashed = launch_nodes(tmp_path, "crash", entry, 2, env)
    codes = finish(crashed, 120)
    stopped = time.time()
    assert mark.is_file() and all(code != 0 for code in codes), codes
    assert stopped - mark.stat().st_mtime < 20  # both launchers gone within seconds of the kill, not hung
    # gloo aborts rank 0 with a message naming no rank ("Connection reset by peer" or "pair_rank = 1"); the
    # launcher of the dead rank's node names its local rank and log, whose envlog holds the global rank
    assert "gloo::" in (tmp_path / "crash_node0" / "workerlog.0").read_text()
    assert f"code -9 log {tmp_path / 'crash_node1' / 'workerlog.0'}" in crashed[1].stdout.read()
    assert "PADDLE_TRAINER_ID=1\n" in (tmp_path / "crash_node1" / "envlog.0").read_text()
    assert sorted(p.name for p in out.glob("*.pdparams")) == ["Tiny_epoch_00001.pdparams"]

    resumed = launch_nodes(tmp_path, "resume", entry, 2, env)
    assert finish(resumed, 120) == [0, 0], resumed[0].stdout.read()[-3000:]
    reader.done.set()
    reader.join()
    assert not reader.errors and len(reader.read) >= 4, (reader.errors, reader.read)
    assert "resumed from" in (out / "train.log").read_text()

    rank0 = [line.split() for line in (out / "samples_rank0.txt").read_text().splitlines() if line.startswith("0 ")]
    rank1 = [line.split() for line in (out / "samples_rank1.txt").read_text().splitlines() if line.startswith("0 ")]
    seen0, seen1 = {x for line in rank0 for x in line[1:]}, {x for line in rank1 for x in line[1:]}
    assert seen0 and seen1 and not seen0 & seen1  # each rank reads its own shard
    steps = [line.split()[1] for line in (tmp_path / "single" / "samples_rank0.txt").read_text().splitlines()
             if line.startswith("0 ")]
    assert steps == [x for pair in zip(rank0, rank1) for x in (pair[0][1], pair[1][1])]
    for epoch in (1, 2):
        a = weights(tmp_path / "single" / f"Tiny_epoch_{epoch:05d}.pdparams", trainable_only=True)
        b = weights(out / f"Tiny_epoch_{epoch:05d}.pdparams", trainable_only=True)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(b[key], a[key], err_msg=f"epoch {epoch} {key}")


def test_stopped_rank_is_named_within_the_collective_timeout(tiny_config: Path, tmp_path: Path) -> None:
    """SIGSTOP rank 1 in its second step: rank 0 waits DISTRIBUTED.collective_timeout seconds in the all-reduce,
    then logs which rank went silent and exits 75; the launcher ends the job (and the stopped rank)."""
    script = tmp_path / "faulty.py"
    script.write_text(FAULTY)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "FAULT_MARK": str(tmp_path / "stopped"),
           "FAULT_RANK": "1", "FAULT_EPOCH": "0", "FAULT_ITER": "1", "FAULT_SIGNAL": str(int(signal.SIGSTOP))}
    logs = tmp_path / "logs"
    proc = subprocess.Popen([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                             "--log_dir", str(logs), str(script), "train", "-c", str(tiny_config), "-o", "epochs=1",
                             "DISTRIBUTED.collective_timeout=6", "--output", str(tmp_path / "out")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=90)
    finally:
        stopped = tmp_path / "stopped"
        if stopped.is_file():  # never leave a stopped worker behind, whatever happened
            try:
                os.kill(int(stopped.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == HUNG_EXIT_CODE, output[-3000:]
    line = next(line for line in (logs / "workerlog.0").read_text().splitlines() if "did not return" in line)
    pid = (tmp_path / "stopped").read_text()
    assert "rank 0: epoch 1 iter 3 (forward, backward, all-reduce) did not return within" in line
    assert "DISTRIBUTED.collective_timeout" in line and f"rank 1 (pid {pid} on " in line and "stopped or dead" in line
