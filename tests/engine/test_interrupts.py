"""Interrupts of a real `train` process: Ctrl-C exits 130 with one last line naming the checkpoint (no traceback), and a
`kill -9` of the trainer takes its data-loader workers with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List

import pytest

from paddlevideo_slowfast.engine.interrupt import interrupt_message, is_interrupt

REPO = Path(__file__).resolve().parents[2]


def start_training(tiny_config: Path, out: Path, *overrides: str) -> subprocess.Popen:
    """`train` for many epochs in its own session (so a signal to its group reaches it and its workers only)."""
    return subprocess.Popen([sys.executable, "-m", "paddlevideo_slowfast", "train", "-c", str(tiny_config),
                             "--output", str(out), "-o", "epochs=100", *overrides],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})


def wait_for(proc: subprocess.Popen, done: Callable[[], bool], what: str, limit_s: float = 240) -> None:
    deadline = time.time() + limit_s
    while not done():
        if proc.poll() is not None:
            raise AssertionError(f"train exited {proc.returncode} before {what}: {proc.stderr.read()[-3000:]}")
        if time.time() > deadline:
            proc.kill()
            raise AssertionError(f"no {what} after {limit_s} s")
        time.sleep(0.05)


def logged(out: Path, text: str) -> Callable[[], bool]:
    log = out / "train.log"
    return lambda: log.is_file() and text in log.read_text()


def children(pid: int) -> List[int]:
    """Live (non-zombie) processes whose parent is `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("case", ["mid_epoch_2", "before_first_checkpoint", "whole_group_with_workers"])
def test_ctrl_c_exits_130_with_one_line_naming_the_checkpoint(case: str, tiny_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    workers = ["DATASET.num_workers=2"] if case == "whole_group_with_workers" else []
    proc = start_training(tiny_config, out, *workers)
    if case == "before_first_checkpoint":
        wait_for(proc, logged(out, "epoch 1/100 iter 3/8"), "third iteration")
    else:
        wait_for(proc, logged(out, "epoch 2/100 iter 3/8"), "iteration 3 of epoch 2")
    if case == "whole_group_with_workers":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the trainer and its workers
    else:
        os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    lines = err.strip().splitlines()
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "Error" not in err, err[-3000:]
    if case == "before_first_checkpoint" and not (out / "Tiny_epoch_00001.pdparams").exists():
        assert lines[-1] == f"interrupted; no complete checkpoint in {out} yet"
    else:
        newest = sorted(out.glob("Tiny_epoch_*.pdparams"))[-1]
        assert lines[-1].startswith(f"interrupted; last complete checkpoint: {newest} (after epoch ")
        assert "--resume auto" in lines[-1]


def test_kill_9_of_the_trainer_ends_its_workers(tiny_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = start_training(tiny_config, out, "DATASET.num_workers=2")
    wait_for(proc, logged(out, "epoch 1/100 iter 2/8"), "second iteration")
    workers = children(proc.pid)
    assert len(workers) >= 2
    proc.kill()
    proc.wait()
    deadline = time.time() + 10
    while any(alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_a_keyboard_interrupt_wrapped_by_paddle_is_recognised() -> None:
    import paddle
    from paddle.autograd import PyLayer

    class Interrupting(PyLayer):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            raise KeyboardInterrupt

    x = paddle.ones([2])
    x.stop_gradient = False
    with pytest.raises(BaseException) as info:
        Interrupting.apply(x).sum().backward()
    assert not isinstance(info.value, KeyboardInterrupt) and is_interrupt(info.value)
    assert interrupt_message(info.value) == "interrupted"
    assert not is_interrupt(OSError("disk full"))
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise ValueError("while decoding") from exc
    except ValueError as chained:
        assert is_interrupt(chained)
