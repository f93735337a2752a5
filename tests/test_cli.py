"""The `paddlevideo` command: verbs, --help, check-config output and exit codes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from paddlevideo_slowfast.cli import COMMANDS, main


def test_every_verb_has_help(capsys: pytest.CaptureFixture) -> None:
    for verb in COMMANDS:
        with pytest.raises(SystemExit) as exit_:
            main([verb, "--help"])
        assert exit_.value.code == 0
        assert "usage: paddlevideo" in capsys.readouterr().out


def test_check_config_prints_merged_config_and_sources(repo_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["check-config", "-c", str(repo_root / "configs" / "slowfast_8x8.yaml"),
                 "-o", "DATASET.batch_size=4", "epochs=3"]) == 0
    out = capsys.readouterr().out
    assert "# MODEL: " in out and "slowfast_r50_8x8.yaml" in out
    assert "batch_size: 4" in out and "epochs: 3" in out and "fusion_kernel_sz: 7" in out


def test_check_config_error_exits_2(repo_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["check-config", "-c", str(repo_root / "configs" / "slowfast.yaml"), "-o", "MODEL.nope=1"]) == 2
    err = capsys.readouterr().err
    assert "MODEL.nope" in err and "slowfast.yaml" in err


def test_python_dash_m_entry(repo_root: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "paddlevideo_slowfast", "--version"], cwd=repo_root,
                          capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("paddlevideo-slowfast ")
