"""A checkpoint written by PaddleVideo's trainer loads (strictly) into our `paddlevideo test`, which scores it as
PaddleVideo's own test_model does through the plugin: the same top-1/top-5 over the same 10x3-style views."""
from __future__ import annotations

import json


def test_paddlevideo_checkpoint_in_our_test_matches_paddlevideos_test(pv_run, tmp_path, capsys):
    from paddlevideo_slowfast.cli import main as ours
    from paddlevideo_slowfast.plugin import PaddleVideoMultiCropMetric
    from paddlevideo_slowfast.pv.cli import main as pv

    weights = str(pv_run["output"] / "Tiny_epoch_00008.pdparams")
    config = str(pv_run["config"])
    results = []
    accumulate = PaddleVideoMultiCropMetric.accumulate

    def recording(self):
        results.append(accumulate(self))
        return results[-1]

    PaddleVideoMultiCropMetric.accumulate = recording
    try:
        assert pv(["test", "-c", config, "-w", weights, "--device", "cpu"]) == 0
    finally:
        PaddleVideoMultiCropMetric.accumulate = accumulate
    theirs, = results
    capsys.readouterr()
    assert ours(["test", "-c", config, "-w", weights, "--no-accelerate", "--json", "--output", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["scored"] == theirs["scored"] == 8 and result["unscored"] == theirs["unscored"] == 0
    assert theirs["incomplete"] == 0  # every video got all 2 x 3 views
    assert (result["top1"], result["top5"]) == (theirs["top1"], theirs["top5"])
    assert (tmp_path / "confusion_matrix.csv").is_file()
