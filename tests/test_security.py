"""No verb runs code from a planted pickle: -w, export-weights and convert refuse the file unexecuted with a
one-line error (exit 2). Resume is covered in tests/engine/test_resume_safety.py, the plugin in
tests/plugin/test_safe_load.py."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from paddlevideo_slowfast.cli import main


class Exploit:
    """Unpickling this calls `fn(*args)`: each payload below would create the marker file."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


PAYLOADS = {
    "os.system": lambda marker: Exploit(os.system, f"touch {marker}"),
    "builtins.exec": lambda marker: Exploit(exec, f"open({str(marker)!r}, 'w').close()"),
    "builtins.open": lambda marker: Exploit(open, str(marker), "w"),
}


def plant(path: Path, marker: Path, payload: str = "os.system") -> Path:
    """A pickle shaped like a checkpoint (a dict of arrays and counters) whose one value is an exploit."""
    path.write_bytes(pickle.dumps({"w": PAYLOADS[payload](marker), "optimizer": {}, "epoch": 1}, protocol=4))
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "the planted pickle ran"


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_export_weights_refuses_every_payload(tmp_path: Path, marker: Path, capsys, payload: str) -> None:
    evil = plant(tmp_path / "evil.pdparams", marker, payload)
    assert main(["export-weights", "-w", str(evil), "--output", str(tmp_path / "out.safetensors")]) == 2
    line = one_error_line(capsys)
    assert "evil.pdparams" in line and "refused" in line
    assert not (tmp_path / "out.safetensors").exists()


def test_train_weights_refuses(tiny_config: Path, tmp_path: Path, marker: Path, capsys) -> None:
    evil = plant(tmp_path / "evil.pdparams", marker)
    assert main(["train", "-c", str(tiny_config), "--output", str(tmp_path / "run"), "-w", str(evil)]) == 2
    assert "evil.pdparams" in one_error_line(capsys)


@pytest.mark.parametrize("name", ["evil.pkl", "evil.pyth"])
def test_convert_refuses(tmp_path: Path, marker: Path, capsys, name: str) -> None:
    evil = tmp_path / name
    payload = Exploit(os.system, f"touch {marker}")
    if name.endswith(".pkl"):  # a Caffe2 blob pickle
        evil.write_bytes(pickle.dumps({"blobs": {"conv1_w": payload}}, protocol=2))
    else:  # a torch.save zip whose data.pkl names os.system
        with zipfile.ZipFile(evil, "w") as zf:
            zf.writestr("archive/data.pkl", pickle.dumps({"model_state": {"w": payload}}, protocol=2))
            zf.writestr("archive/version", "3\n")
    assert main(["convert", str(evil), "--from", "pyslowfast", "--to", str(tmp_path / "out.pdparams")]) == 2
    assert name in one_error_line(capsys)
    assert not (tmp_path / "out.pdparams").exists()


def test_python_m_cli_prints_one_line(tmp_path: Path, marker: Path, repo_root: Path) -> None:
    """The real entry point, in its own process: exit 2, one stderr line, no marker."""
    evil = plant(tmp_path / "evil.pdparams", marker)
    proc = subprocess.run([sys.executable, "-m", "paddlevideo_slowfast", "export-weights", "-w", str(evil),
                           "--output", str(tmp_path / "o.safetensors")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(repo_root)}, cwd=tmp_path)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "refused" in lines[0], proc.stderr
