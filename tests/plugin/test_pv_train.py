"""`python -m paddlevideo_slowfast.pv train --device cpu`: PaddleVideo's own train_model runs our model and data on
the CPU, lowers the loss and writes PaddleVideo's checkpoints; the device switch ends with the call."""
from __future__ import annotations

import numpy as np
import pytest


def test_paddlevideo_trainer_lowers_the_loss_and_writes_its_checkpoints(pv_run):
    assert pv_run["status"] == 0
    losses = np.asarray(pv_run["losses"])
    assert losses.shape == (pv_run["epochs"] * pv_run["iterations_per_epoch"],) and np.isfinite(losses).all()
    per_epoch = losses.reshape(pv_run["epochs"], -1).mean(axis=1)
    assert per_epoch[-2:].mean() < 0.75 * per_epoch[0], per_epoch
    # save_interval 4: epochs 1 and 5, and the last; validation picks the best
    names = sorted(p.name for p in pv_run["output"].glob("*.pd*"))
    assert names == sorted(f"Tiny_{stem}.{ext}" for stem in ("best", "epoch_00001", "epoch_00005", "epoch_00008")
                           for ext in ("pdparams", "pdopt"))


def test_device_switch_is_undone_after_the_call(pv_run, paddlevideo):
    import paddle

    from paddlevideo_slowfast.plugin.importer import submodule

    for name in ("tasks.train", "tasks.test"):
        assert submodule(paddlevideo, name).paddle is paddle


def test_no_device_on_a_cpu_only_paddle_is_a_clear_error(pv_config, capsys):
    import paddle

    from paddlevideo_slowfast.pv.cli import main

    if paddle.device.is_compiled_with_cuda():
        pytest.skip("this Paddle build has a GPU: PaddleVideo's set_device('gpu') works")
    assert main(["train", "-c", str(pv_config)]) == 2
    err = capsys.readouterr().err
    assert "paddle.set_device('gpu')" in err and "--device cpu" in err
