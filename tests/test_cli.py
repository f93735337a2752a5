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


@pytest.mark.parametrize("omp", [None, "1", "3"])
def test_thread_count_honours_omp_num_threads_and_leaves_cores_for_data_workers(omp):
    """The user's OMP_NUM_THREADS is read before `import paddle` overwrites it with 1, and kept as given."""
    import os

    code = ("from paddlevideo_slowfast import cli\n"
            "cli._configure_threads()\n"   # first, as the CLI does: nothing has imported paddle yet
            "from paddlevideo_slowfast import runtime as a\n"
            "print(a.configured_threads(), a.leave_cores_for_workers(1), a.usable_cores())\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "PADDLE_LOCAL_SIZE",
                                                             "PADDLE_TRAINERS_NUM")}
    if omp:
        env["OMP_NUM_THREADS"] = omp
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    threads, after_workers, cores = map(int, proc.stdout.split()[-3:])
    if omp:
        assert threads == after_workers == int(omp)
    else:
        assert threads == cores and after_workers == max(1, cores - 1)
