"""Resume reads checkpoints without running pickled code, skips incomplete or unreadable pairs with a warning
(`--resume auto`), and rewinds metrics.jsonl so that a resumed run repeats no step."""
from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.engine import checkpoint as ckpt
from paddlevideo_slowfast.engine.logging import RunRecorder


class Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def plant(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"optimizer": {"w": Exploit(marker)}, "epoch": 1}, protocol=4))


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_config: Path, tmp_path_factory) -> Path:
    """A real epoch-1 pair of the tiny config, written by our Trainer after one optimizer step (so that the
    optimizer has its momentum accumulators)."""
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.engine.trainer import TrainOptions, Trainer

    folder = tmp_path_factory.mktemp("ckpt")
    trainer = Trainer(load_config(str(tiny_config)), TrainOptions(output=str(folder)))
    trainer.recorder.close()
    trainer.model.train_step(next(iter(trainer.train_loader)))["loss"].backward()
    trainer.optimizer.step()
    trainer.epoch_done = 1
    trainer.global_step = 8
    trainer._save(1)
    return folder / "Tiny_epoch_00001"


def copy_pair(stem: Path, folder: Path, epoch: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".pdparams", ".pdopt"):
        shutil.copy(stem.with_name(stem.name + suffix), folder / f"Tiny_epoch_{epoch:05d}{suffix}")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "the planted pickle ran"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize("planted", [".pdparams", ".pdopt"])
def test_resume_path_refuses_a_planted_pickle(tiny_config: Path, tiny_checkpoint: Path, tmp_path: Path,
                                              marker: Path, capsys, planted: str) -> None:
    copy_pair(tiny_checkpoint, tmp_path, 1)
    plant(tmp_path / f"Tiny_epoch_00001{planted}", marker)
    assert main(["train", "-c", str(tiny_config), "--output", str(tmp_path / "run"),
                 "--resume", str(tmp_path / "Tiny_epoch_00001.pdparams")]) == 2
    line = one_error_line(capsys)
    assert f"Tiny_epoch_00001{planted}" in line and "refused to load global 'posix.system'" in line


def test_resume_auto_skips_planted_and_rewinds_metrics(tiny_config: Path, tiny_checkpoint: Path, tmp_path: Path,
                                                       marker: Path, capsys) -> None:
    run = tmp_path / "run"
    copy_pair(tiny_checkpoint, run, 1)
    for suffix in (".pdparams", ".pdopt"):
        plant(run / f"Tiny_epoch_00002{suffix}", marker)
    rows = [{"kind": "train", "step": 8, "epoch": 1}, {"kind": "epoch", "step": 1}, {"kind": "valid", "step": 8,
            "epoch": 1}, {"kind": "train", "step": 9, "epoch": 2}, {"kind": "epoch", "step": 2}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"kind": "tra')
    assert main(["train", "-c", str(tiny_config), "-o", "epochs=1", "--output", str(run), "--resume", "auto"]) == 0
    err = capsys.readouterr().err
    assert "skipping Tiny_epoch_00002" in err and "refused to load global" in err
    assert "Tiny_epoch_00001 at epoch 1 (step 8)" in err
    kept = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert kept == rows[:3]


def test_resume_auto_skips_incomplete_and_truncated_pairs(tiny_checkpoint: Path, tmp_path: Path, caplog) -> None:
    copy_pair(tiny_checkpoint, tmp_path, 1)
    copy_pair(tiny_checkpoint, tmp_path, 2)
    data = (tmp_path / "Tiny_epoch_00002.pdparams").read_bytes()
    (tmp_path / "Tiny_epoch_00002.pdparams").write_bytes(data[: len(data) // 2])  # killed mid-write (no atomic save)
    shutil.copy(tmp_path / "Tiny_epoch_00001.pdopt", tmp_path / "Tiny_epoch_00003.pdopt")  # killed before .pdparams
    with caplog.at_level(logging.WARNING, logger="paddlevideo_slowfast"):
        epoch, stem = ckpt.latest_loadable(tmp_path, "Tiny")
    assert (epoch, stem.name) == (1, "Tiny_epoch_00001")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "Tiny_epoch_00003" in warnings[0] and "Tiny_epoch_00003.pdparams is missing" in warnings[0]
    assert "Tiny_epoch_00002" in warnings[1] and "Tiny_epoch_00002.pdparams" in warnings[1]


def test_resume_auto_with_only_a_half_written_first_pair_says_so(tmp_path: Path, caplog) -> None:
    ckpt.atomic_save({"epoch": 1}, tmp_path / "M_epoch_00001.pdopt")
    with caplog.at_level(logging.WARNING, logger="paddlevideo_slowfast"):
        assert ckpt.latest_loadable(tmp_path, "M") is None
    assert "M_epoch_00001.pdparams is missing" in caplog.text


def test_our_pdopt_round_trips_through_the_allow_list(tiny_checkpoint: Path) -> None:
    """Optimizer accumulators, LR scheduler, counters and Python/NumPy/Paddle RNG state all load."""
    import paddle

    from paddlevideo_slowfast.engine.seeding import set_rng_state

    params, state = ckpt.load_pair(tiny_checkpoint)
    assert params and all(isinstance(v, np.ndarray) for v in params.values())
    assert state["epoch"] == 1 and state["global_step"] == 8 and state["model_name"] == "Tiny"
    assert any(isinstance(v, paddle.Tensor) for v in state["optimizer"].values())
    set_rng_state(state["rng"])  # GeneratorState rebuilt through the allow-list


def test_metrics_rewind_drops_later_records_only(tmp_path: Path) -> None:
    rows = [{"kind": "train", "step": 5}, {"kind": "epoch", "step": 1}, {"kind": "train", "step": 6},
            {"kind": "valid", "step": 5, "epoch": 2}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert RunRecorder.rewind(tmp_path, step=5, epoch=1) == 2
    assert [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == rows[:2]
    assert RunRecorder.rewind(tmp_path, step=5, epoch=1) == 0
    assert RunRecorder.rewind(tmp_path / "absent", step=0, epoch=0) == 0
