"""The training loop's bookkeeping on a tiny SlowFast: partial accumulation steps, the seed, the logged learning
rate, 1-based epochs for validation/saving, and warnings for config keys a run cannot honour."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.engine.trainer import Trainer, TrainOptions, config_warnings, train_model

# the tiny dataset has 16 training clips: 8 micro-batches of 2, so 3 per step leaves a partial step of 2
PARTIAL = ["GRADIENT_ACCUMULATION.global_batch_size=6"]


def records(folder: Path, kind: str) -> list:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if row["kind"] == kind]


def trainable(model) -> dict:
    return {p.name: np.array(p.numpy()) for p in model.parameters() if not p.stop_gradient}


@pytest.fixture(scope="module")
def accumulating(tiny_config: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One epoch with a partial last step; records every optimizer step's gradient and weights before it."""
    import paddle

    cfg = load_config(str(tiny_config), ["epochs=1", *PARTIAL])
    trainer = Trainer(cfg, TrainOptions(output=str(tmp_path_factory.mktemp("accum")), seed=5))
    seen = {"batches": [], "steps": []}
    forward, step = trainer._forward_loss, trainer.optimizer.step

    def record_forward(batch):
        seen["batches"].append([paddle.to_tensor(np.array(t.numpy())) for t in batch])
        return forward(batch)

    def record_step():
        seen["steps"].append({"grads": {p.name: np.array(p.grad.numpy()) for p in trainer.model.parameters()
                                        if p.grad is not None and not p.stop_gradient},
                              "weights": trainable(trainer.model), "micro_batches": len(seen["batches"])})
        step()

    trainer._forward_loss, trainer.optimizer.step = record_forward, record_step
    trainer.run()
    return {"trainer": trainer, **seen}


def test_partial_step_is_applied_and_no_gradient_is_left(accumulating: dict) -> None:
    trainer = accumulating["trainer"]
    assert trainer.accum == 3 and trainer.iters_per_epoch == 8
    assert [s["micro_batches"] for s in accumulating["steps"]] == [3, 6, 8]
    assert trainer.steps_per_epoch == 3 and trainer.global_step == 3
    left = [p.name for p in trainer.model.parameters() if p.grad is not None and np.any(p.grad.numpy() != 0)]
    assert left == []


def test_partial_step_gradient_is_the_mean_over_its_micro_batches(accumulating: dict) -> None:
    trainer, last = accumulating["trainer"], accumulating["steps"][-1]
    model = trainer.model
    for p in model.parameters():
        if p.name in last["weights"]:
            p.set_value(last["weights"][p.name])
    model.train()
    per_batch = []
    for batch in accumulating["batches"][6:8]:
        model.clear_gradients()
        model.train_step(batch)["loss"].backward()
        per_batch.append({p.name: np.array(p.grad.numpy()) for p in model.parameters() if p.grad is not None})
    model.clear_gradients()
    assert last["grads"].keys() == per_batch[0].keys()
    for name, grad in last["grads"].items():
        np.testing.assert_allclose(grad, (per_batch[0][name] + per_batch[1][name]) / 2, rtol=1e-4, atol=1e-7,
                                   err_msg=name)


def test_logged_lr_is_the_rate_the_step_used(accumulating: dict) -> None:
    from paddlevideo_slowfast.solver import build_optimizer

    trainer = accumulating["trainer"]
    _, schedule = build_optimizer(trainer.cfg.OPTIMIZER, trainer.model, num_iters=trainer.steps_per_epoch)
    used = []
    for _ in range(3):
        used.append(float(schedule()))
        schedule.step()
    assert used[0] != used[1]
    logged = [row["lr"] for row in records(trainer.folder, "train")]
    assert logged == pytest.approx([used[0]] * 3 + [used[1]] * 3 + [used[2]] * 2, rel=1e-9)


def test_resume_with_a_partial_step_equals_straight_run(tiny_config: Path, tmp_path: Path) -> None:
    import paddle

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    runs = [(PARTIAL, straight, None), (["epochs=1", *PARTIAL], resumed, None), (PARTIAL, resumed, "auto")]
    for overrides, out, resume in runs:
        with paddle.utils.unique_name.guard():  # the optimizer state is keyed by parameter names: as in a new process
            train_model(load_config(str(tiny_config), overrides), TrainOptions(output=str(out), seed=4, resume=resume))

    a = paddle.load(str(straight / "Tiny_epoch_00002.pdparams"))
    b = paddle.load(str(resumed / "Tiny_epoch_00002.pdparams"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(np.asarray(b[key]), np.asarray(a[key]), rtol=1e-6, atol=0, err_msg=key)


def test_seed_drives_initial_weights(tiny_config: Path, tmp_path: Path) -> None:
    cfg = load_config(str(tiny_config))

    def initial(seed: int) -> dict:
        model = Trainer(cfg, TrainOptions(output=str(tmp_path / str(seed)), seed=seed)).model
        return {key: np.array(value.numpy()) for key, value in model.state_dict().items()}

    one, two, again = initial(1), initial(2), initial(1)
    convs = [k for k in one if np.any(one[k] != 0) and one[k].ndim == 5]
    assert convs and all(np.array_equal(one[k], again[k]) for k in one)
    assert all(not np.array_equal(one[k], two[k]) for k in convs)


def test_epochs_count_from_one_for_validation_and_checkpoints(tiny_config: Path, tmp_path: Path) -> None:
    config = tmp_path / "multigrid.yaml"
    config.write_text(f"_BASE_: {tiny_config}\nMULTIGRID: {{LONG_CYCLE: false, SHORT_CYCLE: false}}\n")
    out = tmp_path / "run"
    cfg = load_config(str(config), ["epochs=5", "val_interval=2", "save_interval=2", "DATASET.batch_size=8",
                                    "PRECISEBN.num_iters_preciseBN=1"])
    train_model(cfg, TrainOptions(validate=True, output=str(out)))
    log = (out / "train.log").read_text()
    assert [e for e in range(1, 6) if f"validation after epoch {e}/5" in log] == [2, 4, 5]
    assert [row["epoch"] for row in records(out, "valid")] == [2, 4, 5]
    assert sorted(p.name for p in out.glob("*_epoch_*.pdparams")) == [
        "Tiny_epoch_00002.pdparams", "Tiny_epoch_00004.pdparams", "Tiny_epoch_00005.pdparams"]
    best = [int(line.rsplit(" ", 1)[1]) for line in log.splitlines() if " best top1 " in line]
    assert best and set(best) <= {2, 4, 5}
    assert "MULTIGRID turns neither LONG_CYCLE nor SHORT_CYCLE on: plain training" in log


def test_config_warnings_name_what_happens_instead(tiny_cfg) -> None:
    tiny_cfg["sync_bn"] = True
    notes = config_warnings(tiny_cfg, distributed=True, device="cpu")
    assert len(notes) == 1 and "sync_bn: true is ignored on cpu" in notes[0] and "plain BatchNorm" in notes[0]
    assert config_warnings(tiny_cfg, distributed=False, device="cpu") == []
    assert config_warnings(tiny_cfg, distributed=True, device="gpu") == []
