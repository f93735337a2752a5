"""`predict` never unpickles: an exported model whose parameter file is replaced by a planted pickle is refused
by Paddle Inference's own parser, the pickle never runs, and the error is one line (exit 2)."""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path


class Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_planted_parameter_file_is_refused_unexecuted(exported, embedded, tmp_path: Path, capsys) -> None:
    from paddlevideo_slowfast.cli import main

    model = tmp_path / "model"
    shutil.copytree(exported.model_dir, model)
    for onnx in model.glob("*.onnx"):
        onnx.unlink()
    marker = tmp_path / "PWNED"
    params, = model.glob("*.pdiparams")
    params.write_bytes(pickle.dumps({"w": Exploit(marker)}, protocol=4))
    video = next(p for p in embedded.rglob("*.mp4"))
    code = main(["predict", "--model", str(model), "--video", str(video)])
    err = capsys.readouterr().err
    assert not marker.exists()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
