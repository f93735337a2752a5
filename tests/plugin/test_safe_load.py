"""PaddleVideo's own train/test through our plugin read checkpoints through the allow-list: a planted pickle is
refused unexecuted (one line, exit 2), and the checkpoints PaddleVideo's trainer writes still load."""
from __future__ import annotations

import os
import pickle
from pathlib import Path


class Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pv_test_refuses_a_planted_pickle(pv_config, tmp_path: Path, capsys) -> None:
    from paddlevideo_slowfast.pv.cli import main as pv

    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pdparams"
    evil.write_bytes(pickle.dumps({"w": Exploit(marker)}, protocol=4))
    assert pv(["test", "-c", str(pv_config), "-w", str(evil), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "evil.pdparams" in errors[0] and "refused to load global 'posix.system'" in errors[0]
    assert not marker.exists()


def test_restricted_load_is_undone_after_the_call(paddlevideo) -> None:
    from paddlevideo_slowfast.plugin.importer import submodule
    from paddlevideo_slowfast.pv.safe_load import restricted_load

    module = submodule(paddlevideo, "tasks.train")
    original = module.load
    with restricted_load([module]):
        assert module.load is not original
    assert module.load is original


def test_paddlevideo_written_pair_loads_into_its_optimizer(pv_run) -> None:
    """PaddleVideo's .pdparams and .pdopt (its optimizer's own state dict) load without paddle.load."""
    from paddlevideo_slowfast.engine import checkpoint as ckpt

    stem = pv_run["output"] / f"Tiny_epoch_{pv_run['epochs']:05d}"
    params, opt = ckpt.load_pair(stem)
    assert params and "LR_Scheduler" in opt
    assert any(key.endswith("velocity_0") for key in opt)
