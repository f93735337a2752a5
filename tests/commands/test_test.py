"""`paddlevideo test`: with --json stdout is one JSON object; logs, progress and (with --verbose only) Paddle's own
noise go to stderr."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# what Paddle 3.3.1 says by itself: Python warnings at import and in BatchNorm, glog lines, a C++ print on stdout
PADDLE_NOISE = ("No ccache found", "PIR not support input out tensor", "ReduceMeanCheckIfOneDNNSupport",
                "When training, we now always track global mean and variance", "warnings.warn")


@pytest.fixture(scope="module")
def weights(tiny_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weights of the tiny model as built (testing reads them; training them would add nothing here)."""
    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling import build_model

    path = tmp_path_factory.mktemp("weights") / "tiny.pdparams"
    paddle.save(build_model(load_config(str(tiny_config)).MODEL).state_dict(), str(path))
    return path


def run_test_verb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GLOG_minloglevel"}
    proc = subprocess.run([sys.executable, "-m", "paddlevideo_slowfast", *args], cwd=cwd, capture_output=True,
                          text=True, env={**env, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_json_alone_on_stdout_progress_lines_and_no_paddle_noise(tiny_config: Path, weights: Path,
                                                                 tmp_path: Path) -> None:
    proc = run_test_verb("test", "-c", str(tiny_config), "-w", str(weights), "--output", str(tmp_path / "report"),
                         "--json", "-o", "+METRIC.log_interval=3", cwd=tmp_path)
    result = json.loads(proc.stdout)  # nothing but the one object
    assert result["scored"] == 8
    progress = [line for line in proc.stderr.splitlines() if "test: batch" in line]
    assert [line.rsplit(" ", 1)[-1] for line in progress] == ["3/8", "6/8", "8/8"]  # every 3rd and the last
    assert "processing batch" not in proc.stderr
    assert [noise for noise in PADDLE_NOISE if noise in proc.stderr] == []

    verbose = run_test_verb("test", "-c", str(tiny_config), "-w", str(weights), "--output", str(tmp_path / "v"),
                            "--json", "--verbose", cwd=tmp_path)
    json.loads(verbose.stdout)
    assert [noise for noise in PADDLE_NOISE if noise in verbose.stderr], "--verbose shows Paddle's own messages"


def test_verbose_is_accepted_before_and_after_the_verb() -> None:
    from paddlevideo_slowfast.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["--verbose", "summary", "-c", "x.yaml"]).verbose
    assert parser.parse_args(["summary", "-c", "x.yaml", "--verbose"]).verbose
    assert not parser.parse_args(["summary", "-c", "x.yaml"]).verbose
